"""The inspector's dashboard in a real browser, on a city node: a district's case reaches the city's
library over the federation (real gRPC, mutual TLS, in process); the city's inspector sees it green,
the clock passes its deadline, the beat job's body (``run_escalation``: escalations and the library's
lights) runs, the case is red in the overdue list; the inspector opens its cross-level timeline,
issues a supervision order (督办) and sees it listed; the overview's lights turn red by themselves
(no reload). Screenshots on desktop and phone."""
from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from playwright.sync_api import expect

from tests.browser.conftest import Node, mark_document, same_document, shot, sign_in

pytestmark = pytest.mark.e2e

CITY, DISTRICT = "330100", "330105"


@pytest.fixture
def fed(tmp_path, templates, clock, monkeypatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A city and one of its districts, each on its own copy of the seeded SQLite hall."""
    from federation.demo import Federation
    from federation.plugin import attach_identity
    from node.config import Settings
    from node.services.context import NodeContext

    monkeypatch.setenv("YIWANG_ID_HASH_KEY", "test-federation-key")
    f = Federation(tmp_path / "fed", http_base=0, grpc_base=0)
    f.prepare_identities()
    clock.set(datetime.now(UTC) + timedelta(seconds=1))
    f.ctxs = {}  # type: ignore[attr-defined]
    for node_id in (CITY, DISTRICT):
        n = f.nodes[node_id]
        shutil.copy(templates["sqlite"], n.data_dir / "yiwang.db")
        c = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{n.data_dir / 'yiwang.db'}",
                                                data_dir=n.data_dir, node_id=node_id,
                                                token_ttl_hours=24 * 365), clock=clock.now)
        attach_identity(c)
        c.dispatch_notifications = lambda ids: None
        f.ctxs[node_id] = c  # type: ignore[attr-defined]
    yield f
    for c in f.ctxs.values():  # type: ignore[attr-defined]
        c.engine.dispose()


def push_to_city(fed: Any) -> None:
    """The district's uplink pushes its signed log to the city (one round)."""
    from tests.integration.test_federation_grpc import start, uplink

    async def run() -> None:
        city, addr = await start(fed, CITY)
        try:
            await uplink(fed, DISTRICT, addr).sync_once()
        finally:
            await city.stop(None)
    # (in a thread of its own: Playwright's sync API keeps an event loop running in this one)
    errors: list[BaseException] = []
    t = threading.Thread(target=lambda: _catch(errors, lambda: asyncio.run(run())))
    t.start()
    t.join(60)
    assert not t.is_alive() and not errors, errors


def _catch(errors: list[BaseException], fn: Any) -> None:
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - handed to the test thread
        errors.append(e)


@pytest.fixture
def city(fed, clock) -> Iterator[Node]:  # type: ignore[no-untyped-def]
    from node.api import create_app

    n = Node(fed.ctxs[CITY], clock, create_app(ctx=fed.ctxs[CITY]))
    yield n
    n.stop()


def region_card(page: Any, region: str) -> Any:
    return page.get_by_label(f"地区 {region}")


def test_inspector_sees_a_case_turn_red_opens_its_timeline_and_issues_an_order(fed, city, page, phone, clock):
    from node.api import create_app
    from node.services.supervision import run_escalation
    from tests.support import Client

    district = Client(create_app(ctx=fed.ctxs[DISTRICT]).test_client())
    code = district.apply_online()
    district.fire(code, "accept", "clerk")
    push_to_city(fed)
    from node.services import alerts
    from node.services.context import SYSTEM

    alert = fed.ctxs[CITY].run(SYSTEM, lambda uow: alerts.raise_incident(
        uow, kind="audit_mismatch", origin=DISTRICT, detail="cases#1 differs from its audit entry",
        proof={"table": "cases"}, subject="cases#1").id)

    sign_in(page, city, "inspector")
    assert page.url.endswith("/staff/inspector")
    card = region_card(page, DISTRICT)
    assert card.locator("dd").nth(0).inner_text() == "1"  # green
    assert card.locator("dd").nth(2).inner_text() == "0"  # red
    assert page.locator("html").get_attribute("data-insp-charts") == "drawn"
    assert page.get_by_role("table").filter(has_text="月度受理").is_visible()  # the chart's table fallback
    shot(page, "inspector-overview")
    # an alert acknowledged in place: the new body's charts are drawn again, no reload
    mark_document(page)
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"告警 #{alert} 已确认")).to_be_visible()
    expect(page.locator("#insp-charts")).to_have_attribute("data-drawn", "1")
    assert same_document(page)
    page.get_by_role("link", name="超期办件").first.click()
    assert page.get_by_text("当前没有超期办件").is_visible()

    page.go_back()  # the overview again: its lights keep themselves current
    page.wait_for_url(re.compile(r"/staff/inspector$"))
    mark_document(page)
    clock.advance(days=30)  # far past the promised deadline
    run_escalation(fed.ctxs[CITY])  # the beat task's body: escalations, then the library's lights refreshed
    page.evaluate("window.dispatchEvent(new Event('focus'))")  # as when the inspector comes back to the tab
    expect(region_card(page, DISTRICT).locator("dd").nth(2)).to_have_text("1")  # red, without a reload
    assert same_document(page)
    region_card(page, DISTRICT).get_by_role("link", name=re.compile("超期办件")).click()
    row = page.locator("#light-list tbody tr").filter(has_text=code)
    assert row.locator(".light.red").inner_text() == "超期"
    shot(page, "inspector-overdue")

    row.get_by_role("link", name=code).click()
    page.wait_for_url(re.compile(rf"/staff/inspector/cases/{code}$"))
    assert page.get_by_role("heading", name=re.compile("跨层级办理记录")).is_visible()
    events = page.locator(".timeline li")
    assert events.count() >= 2 and "受理" in events.nth(1).inner_text() and "县（区）级" in events.nth(1).inner_text()
    assert page.get_by_text("本办件暂无督办单").is_visible()

    page.get_by_label("督办类型").select_option(label="督办")
    page.get_by_label("督办内容").fill("该件已超期，请说明原因并加快办理。")
    page.get_by_label("反馈期限（工作日，可不填）").fill("3")
    mark_document(page)
    page.get_by_role("button", name="下发").click()
    expect(page.get_by_role("status").filter(has_text="已下发督办单")).to_be_visible()
    assert same_document(page)  # the order is shown in place, no reload
    orders = page.locator("#orders-table tbody tr")
    assert orders.count() == 1
    assert "该件已超期" in orders.first.inner_text() and "已下发" in orders.first.inner_text()
    shot(page, "inspector-timeline")

    # the overview now counts the case red
    page.get_by_role("link", name="总览", exact=True).click()
    assert region_card(page, DISTRICT).locator("dd").nth(2).inner_text() == "1"
    assert page.js_errors == []

    sign_in(phone, city, "inspector")
    shot(phone, "inspector-overview")
    phone.get_by_role("link", name="超期办件").first.click()
    assert phone.locator("#light-list").get_by_role("link", name=code).is_visible()
    shot(phone, "inspector-overdue")
    phone.locator("#light-list").get_by_role("link", name=code).click()
    assert phone.locator("#orders-table tbody tr").count() == 1
    shot(phone, "inspector-timeline")
    assert phone.js_errors == []
