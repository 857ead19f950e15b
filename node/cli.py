"""The ``yiwang`` command line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from node.config import Settings
from node.persistence.files import private_dir
from node.domain.passwords import DEMO_PASSWORD


def _ctx():  # type: ignore[no-untyped-def]
    from node.services.context import NodeContext

    return NodeContext.build(Settings.from_env())


def refuse_weak_secrets(s: Settings) -> None:
    """Exit 3 with one message naming each weak secret and its fix, outside demo mode
    (``node.services.secrets``); in demo mode say so."""
    from node.services.context import NodeContext
    from node.services.secrets import WeakSecrets, require_strong_secrets

    if s.demo:
        click.echo("DEMO MODE (YIWANG_DEMO=1): demo secrets and demo accounts are accepted; never use it for "
                   "real cases", err=True)
        return
    ctx = NodeContext.build(s)
    try:
        require_strong_secrets(ctx)
    except WeakSecrets as e:
        click.echo(f"yiwang: {e}", err=True)
        sys.exit(3)
    finally:
        ctx.engine.dispose()


@click.group()
def main() -> None:
    """Yiwang (一网): a federated platform for online administrative approval."""


def _add_plugin_commands() -> None:
    from node.plugins import plugins

    for p in plugins():
        for cmd in p.commands():
            main.add_command(cmd)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the schema to the newest (or a given) revision."""
    from node.persistence.migrate import upgrade

    s = Settings.from_env()
    if s.database_url.startswith("sqlite"):
        private_dir(s.data_dir, tighten=True)
    upgrade(s.database_url, revision)
    click.echo(f"schema at {revision}")


@main.group()
def node() -> None:
    """Run this hall's node."""


@node.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="processes (default: 1 on SQLite, 2 x CPUs otherwise)")
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="upgrade the schema first")
def node_run(host: str, port: int, workers: int | None, threads: int, migrate: bool) -> None:
    """Serve the API (and the UI) with gunicorn."""
    import os

    from gunicorn.app.base import BaseApplication

    from node.api import create_app
    from node.persistence.migrate import upgrade

    s = Settings.from_env()
    if migrate:
        private_dir(s.data_dir, tighten=True)
        upgrade(s.database_url)
    refuse_weak_secrets(s)
    if workers is None:
        workers = 1 if s.database_url.startswith("sqlite") else 2 * (os.cpu_count() or 1)

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("accesslog", None)
            self.cfg.set("keepalive", 30)
            self.cfg.set("timeout", 60)

        def load(self):  # type: ignore[no-untyped-def]
            return create_app(s, verify_secrets=False)  # checked above, once for every worker

    click.echo(f"Yiwang node {s.node_id} ({s.node_name}) on http://{host}:{port}  API docs: /api/openapi.json")
    _App().run()


@main.group()
def seed() -> None:
    """Load data."""


@seed.command("demo")
@click.option("--password", default=DEMO_PASSWORD, show_default=True, help="password of every demo account")
def seed_demo(password: str) -> None:
    """Gongshu district's demo hall: four departments, their items, staff and a village point."""
    from node.seed import load_demo

    ctx = _ctx()
    for line in load_demo(ctx, password):
        click.echo(line)
    if password == DEMO_PASSWORD and not ctx.settings.demo:
        click.echo(f"note: not in demo mode (YIWANG_DEMO=1): the node refuses to start while these accounts keep "
                   f"the demo password '{DEMO_PASSWORD}' (yiwang staff set-password)", err=True)


@seed.command("demo-cases")
@click.option("--password", default=DEMO_PASSWORD, show_default=True, help="password of the demo accounts")
def seed_demo_cases(password: str) -> None:
    """About thirty demo cases in every state, made through the node's own API (after ``seed demo``)."""
    from node.demo_cases import load_demo_cases

    for line in load_demo_cases(_ctx(), password):
        click.echo(line)


@main.group()
def staff() -> None:
    """Staff accounts."""


@staff.command("create-admin")
@click.option("--username", required=True)
@click.option("--name", default="大厅管理员")
@click.password_option()
def staff_create_admin(username: str, name: str, password: str) -> None:
    """Create the hall admin (the first account)."""
    from node.services.context import SYSTEM
    from node.services.org import create_staff

    from node.domain.errors import DomainError

    try:
        st = _ctx().run(SYSTEM, create_staff, username=username, name=name, password=password, role="admin")
    except DomainError as e:
        click.echo(f"not created: {e.field or ''}: {e}", err=True)
        sys.exit(2)
    click.echo(f"admin '{st.username}' created (id {st.id})")


@staff.command("set-password")
@click.option("--username", required=True)
@click.password_option()
def staff_set_password(username: str, password: str) -> None:
    """Give an account a new password (e.g. one still on the demo password); signs it out everywhere."""
    from node.domain.errors import DomainError
    from node.services.context import SYSTEM
    from node.services.org import set_password

    try:
        _ctx().run(SYSTEM, set_password, username, password)
    except DomainError as e:
        click.echo(f"not changed: {e.field or ''}: {e}", err=True)
        sys.exit(2)
    click.echo(f"password of '{username}' changed; its sessions are signed out")


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the chain, check the anchors of earlier verifications and replay the chain against the
    live rows; print each difference (table, key, column, both values) and exit 1 if any."""
    from node.services.admin import verify_audit

    r = verify_audit(_ctx())
    if r.ok:
        click.echo(f"audit chain intact: {r.entries} entries; {r.rows} rows agree with it ({r.seconds:.1f} s)")
        return
    for line in r.lines():
        click.echo(line, err=True)
    click.echo(f"audit NOT intact: {r.entries} entries, {r.rows} rows checked", err=True)
    sys.exit(1)


@main.group()
def calendar() -> None:
    """The working-day calendar."""


@calendar.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_import(path: Path) -> None:
    """Load years of public holidays and make-up days from a JSON file (same shape as the shipped one)."""
    from node.domain.errors import DomainError
    from node.services.admin import import_calendar
    from node.services.context import SYSTEM

    try:
        years = _ctx().run(SYSTEM, import_calendar, json.loads(path.read_text("utf-8")))
    except (DomainError, ValueError) as e:
        click.echo(f"not loaded: {getattr(e, 'field', '') or ''} {e}", err=True)
        sys.exit(2)
    click.echo(f"loaded years: {', '.join(map(str, years))}")


@main.command("worker")
@click.option("--concurrency", default=2, show_default=True, type=int)
@click.option("--beat/--no-beat", default=True, show_default=True, help="also run the periodic sweep")
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker (needs CELERY_BROKER_URL)."""
    from node.tasks.celery_app import make_celery

    s = Settings.from_env()
    if not s.broker_url:
        click.echo("set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker", err=True)
        sys.exit(2)
    refuse_weak_secrets(s)
    app = make_celery(s)
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}"]
    if beat:  # beat's schedule state lives with the node's data, not in whatever the cwd is
        private_dir(s.data_dir, tighten=True)
        argv += ["--beat", f"--schedule={s.data_dir / 'celerybeat-schedule'}"]
    app.worker_main(argv)


@main.group()
def notify() -> None:
    """Applicant notifications."""


@notify.command("sweep")
def notify_sweep() -> None:
    """Deliver every pending notification now (in this process)."""
    from node.services.notifications import (
        TransientGatewayError,
        deliver_notification,
        due_notifications,
        make_gateway,
    )

    ctx = _ctx()
    gw = make_gateway(ctx.settings)
    results = []
    for i in due_notifications(ctx):
        try:
            results.append(deliver_notification(ctx, i, gw))
        except TransientGatewayError as e:  # the row is pending again; the next sweep retries it
            click.echo(f"notification {i} not sent: {e}", err=True)
            results.append("pending")
    click.echo(f"{results.count('sent')} sent, {len(results) - results.count('sent')} not sent")


@main.group()
def uploads() -> None:
    """Uploaded material files."""


@uploads.command("purge")
def uploads_purge() -> None:
    """Delete uploads no application uses once older than YIWANG_UPLOAD_MAX_AGE_HOURS (rows and files)."""
    from node.services.uploads import purge_uploads

    click.echo(str(purge_uploads(_ctx())))


_add_plugin_commands()

if __name__ == "__main__":
    main()
