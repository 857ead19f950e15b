"""Browser tests: the node's pages in headless Chromium (Debian's ``chromium``), driven by Playwright.

Each test gets a node on its own copy of the seeded SQLite template, served by a real HTTP server
in a thread of the test process (so a test can move the node's clock, as an inspector's light
turning red needs). Screenshots of each main page go to ``test-output/screenshots/`` (or
``$YIWANG_TEST_OUTPUT/screenshots``), desktop and phone (390 px) sizes.

Where Chromium or Playwright is missing the tests skip with the reason; under CI=true they fail.
"""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.config import Settings
from node.services.context import NodeContext
from tests.support import DEMO_PASSWORD, Client, Clock

CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("YIWANG_TEST_OUTPUT") or ROOT / "test-output") / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _chromium() -> str | None:
    return os.environ.get("YIWANG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _missing(reason: str) -> None:
    if CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


class Node:
    """A node serving its pages on a loopback port, with its context, clock and an API client."""

    def __init__(self, ctx: NodeContext, clock: Clock, app: Any) -> None:
        from werkzeug.serving import make_server

        self.ctx, self.clock, self.app = ctx, clock, app
        self.api = Client(app.test_client())
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def node(templates, tmp_path, clock) -> Iterator[Node]:  # type: ignore[no-untyped-def]
    from node.api import create_app

    f = tmp_path / "node.db"
    shutil.copy(templates["sqlite"], f)
    settings = Settings.from_env({}, database_url=f"sqlite:///{f}", data_dir=tmp_path / "data",
                                 max_upload_bytes=256 * 1024, token_ttl_hours=24 * 365 * 5)
    ctx = NodeContext.build(settings, clock=clock.now)
    ctx.dispatched = []  # type: ignore[attr-defined]
    ctx.dispatch_notifications = ctx.dispatched.extend  # type: ignore[attr-defined]
    n = Node(ctx, clock, create_app(ctx=ctx))
    yield n
    n.stop()
    ctx.engine.dispose()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests, closed after the last of them: Playwright's sync API runs
    an event loop on the main thread while it is open, and the rest of the suite calls asyncio.run."""
    exe = _chromium()
    if exe is None:
        _missing("Chromium not found (apt-get install chromium, or set YIWANG_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _page(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A desktop browser tab (1280 px). ``page.js_errors`` collects script errors and CSP refusals."""
    yield from _page(browser, DESKTOP)


@pytest.fixture
def phone(browser) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A phone-sized tab (390 px wide)."""
    yield from _page(browser, PHONE)


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``<name>-<desktop|phone>.png``."""
    OUT.mkdir(parents=True, exist_ok=True)
    size = "phone" if page.viewport_size["width"] <= 500 else "desktop"
    path = OUT / f"{name}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, node: Node, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login page as a staff member; lands on the role's own page."""
    page.goto(f"{node.url}/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "/staff/login" not in page.url, page.content()[:2000]


def mark_document(page: Any) -> None:
    """Mark the document in the tab: a reload (or a navigation) makes a new one without the mark."""
    page.evaluate("window.__yiwangMark = 'kept'")


def same_document(page: Any) -> bool:
    """Whether the tab still shows the document ``mark_document`` marked: the action's effect was put
    in place without a reload."""
    return page.evaluate("window.__yiwangMark === 'kept'")  # type: ignore[no-any-return]
