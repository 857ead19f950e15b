"""``yiwang federation ...``: node identity and trust from the command line.

Every command works on ``<YIWANG_DATA_DIR>/federation``. Files passed between admins (requests,
bundles, subtree exports, directories) hold no secret; private keys never leave the node. Any
refusal prints what was wrong and exits with status 2.
"""
from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _data_dir() -> Path:
    from node.config import Settings

    return Settings.from_env().data_dir


def _refusals(fn: F) -> F:
    """Turn a refusal into a one-line message and exit status 2 (no traceback for an admin)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, PermissionError, OSError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
    return wrapper  # type: ignore[return-value]


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not JSON: {e}") from None


def _write(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", "utf-8")


def _b64(s: str) -> bytes:
    from federation.codec import b64d

    return b64d(s)


@click.group("federation")
def federation() -> None:
    """Node identity and trust: keys, certificates, enrollment and the node directory."""


@federation.command("init")
@click.option("--node-id", required=True, help="6-digit administrative division code, e.g. 330105")
@click.option("--name", required=True, help="the node's name, e.g. 拱墅区")
@click.option("--parent", "parent_id", default=None, help="the parent's node id (omit for the province)")
@_refusals
def init(node_id: str, name: str, parent_id: str | None) -> None:
    """Create this node's signing key and TLS key (the province also its root CA and directory)."""
    from federation.identity import init_identity

    ident = init_identity(_data_dir(), node_id, name, parent_id)
    click.echo(f"{ident.level} {ident.node_id} ({ident.name}): signing key {ident.key_id}")
    if ident.is_province:
        click.echo("root certificate and directory version 1 created")
    else:
        click.echo(f"next: 'yiwang federation request --out req.json' and send it to {ident.parent_id}'s admin")


@federation.command("request")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_refusals
def request(out: Path) -> None:
    """Write the enrollment request (signing keys + TLS CSR) for the parent's admin."""
    from federation.identity import make_enrollment_request, require_identity

    ident = require_identity(_data_dir())
    _write(out, make_enrollment_request(ident))
    click.echo(f"enrollment request of {ident.node_id} for {ident.parent_id} written to {out}")


@federation.command("enroll")
@click.argument("request_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="accept a known child whose request no key on record signed")
@_refusals
def enroll(request_json: Path, out: Path, replace: bool) -> None:
    """(At the parent) record a child and issue its certificate; write the bundle to return."""
    from federation.codec import utcnow
    from federation.identity import enroll_child, require_identity

    bundle = enroll_child(require_identity(_data_dir()), _read(request_json), utcnow(), replace=replace)
    _write(out, bundle)
    click.echo(f"enrolled {bundle['node_id']}; bundle written to {out}")


@federation.command("install")
@click.argument("bundle_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_refusals
def install(bundle_json: Path) -> None:
    """(At the child) install the certificate, chain, root and directory from the parent."""
    from federation.identity import install_enrollment

    ident = install_enrollment(_data_dir(), _read(bundle_json))
    click.echo(f"{ident.node_id} enrolled under {ident.parent_id}")


@federation.command("rotate-key")
@_refusals
def rotate_key() -> None:
    """Start a new signing key; the old one stays for verifying what it signed."""
    from federation.codec import utcnow
    from federation.identity import require_identity, rotate_signing_key
    from federation.registry import publish_directory

    kid = rotate_signing_key(_data_dir())
    ident = require_identity(_data_dir())
    click.echo(f"new signing key {kid}")
    if ident.is_province:
        signed = publish_directory(ident, utcnow())
        click.echo(f"directory version {json.loads(_b64(signed['body']))['version']} published, co-signed by the old key")
    else:
        click.echo(f"next: 'yiwang federation request --out req.json' and send it to {ident.parent_id}'s admin")


@federation.group("directory")
def directory() -> None:
    """The signed node directory."""


@directory.command("publish")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_refusals
def directory_publish(out: Path) -> None:
    """(Province) sign the next directory version and write it for every node."""
    from federation.codec import utcnow
    from federation.identity import require_identity
    from federation.registry import publish_directory

    signed = publish_directory(require_identity(_data_dir()), utcnow())
    _write(out, signed)
    doc = json.loads(_b64(signed["body"]))
    click.echo(f"directory version {doc['version']} ({len(doc['nodes'])} nodes) written to {out}")


@directory.command("install")
@click.argument("directory_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_refusals
def directory_install(directory_json: Path) -> None:
    """Verify a published directory against the cached one and cache it."""
    from federation.identity import require_identity
    from federation.registry import install_directory

    d = install_directory(require_identity(_data_dir()), _read(directory_json))
    click.echo(f"directory version {d.version} installed ({len(d.nodes)} nodes)")


@federation.command("export-subtree")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_refusals
def export_subtree(out: Path) -> None:
    """(City) write the signed entries of the counties it enrolled, for the province."""
    from federation.codec import utcnow
    from federation.identity import require_identity
    from federation.registry import export_subtree_entries

    _write(out, export_subtree_entries(require_identity(_data_dir()), utcnow()))
    click.echo(f"subtree export written to {out}")


@federation.command("import-subtree")
@click.argument("export_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_refusals
def import_subtree(export_json: Path) -> None:
    """(Province) check a city's export; its counties enter the next published directory."""
    from federation.identity import require_identity
    from federation.registry import import_subtree_entries

    ids = import_subtree_entries(require_identity(_data_dir()), _read(export_json))
    click.echo(f"imported {len(ids)} entries: {', '.join(ids) or '-'}")


@federation.command("revoke")
@click.argument("node_id")
@click.option("--key-id", default=None, help="revoke only this key (default: the whole node)")
@click.option("--last-seq", type=click.IntRange(0), default=None,
              help="the highest sequence number still valid under the key(s) (default: the highest this node holds)")
@_refusals
def revoke(node_id: str, key_id: str | None, last_seq: int | None) -> None:
    """(Province) revoke a node or one of its keys: later records under it are refused, however dated."""
    from federation.codec import utcnow
    from federation.directory import NodeEntry
    from federation.identity import cached_directory, require_identity
    from federation.registry import revoke as record_revocation
    from federation.revocation import accepted_under

    ident = require_identity(_data_dir())
    d = cached_directory(ident)
    entry: NodeEntry | None = d.node(node_id) if d is not None else None
    kids = [k.key_id for k in entry.keys if key_id in (None, k.key_id)] if entry is not None else []
    if last_seq is not None:
        limits = {k: last_seq for k in kids}
    else:
        from node.config import Settings
        from node.services.context import NodeContext

        ctx = NodeContext.build(Settings.from_env())
        try:
            with ctx.factory() as s:
                limits = accepted_under(s, node_id, kids)
        finally:
            ctx.engine.dispose()
    record_revocation(ident, node_id, key_id, utcnow(), limits)
    shown = ", ".join(f"{k} after #{n}" for k, n in sorted(limits.items())) or "-"
    click.echo(f"revoked {node_id}{' key ' + key_id if key_id else ''} (records refused: {shown}); "
               "publish with 'yiwang federation directory publish'")


@federation.command("receipt")
@click.argument("origin", required=False)
@click.argument("seq", required=False, type=click.IntRange(1))
@click.option("--code", default=None, help="the latest record of this case (service code) instead of ORIGIN SEQ")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_refusals
def receipt(origin: str | None, seq: int | None, code: str | None, out: Path) -> None:
    """A self-contained receipt of one record (inclusion proof + signed checkpoint + directory)."""
    from federation.codec import utcnow
    from federation.identity import cached_directory, require_identity
    from federation.receipts import make_receipt, record_of_case
    from node.config import Settings
    from node.services.context import NodeContext

    if (code is None) == (origin is None or seq is None):
        raise ValueError("give ORIGIN SEQ or --code SERVICE_CODE")
    ident = require_identity(_data_dir())
    d = cached_directory(ident)
    if d is None:
        raise ValueError(f"{ident.node_id} has no cached directory")
    ctx = NodeContext.build(Settings.from_env())
    try:
        with ctx.factory() as s:
            if code is not None:
                origin, seq = record_of_case(s, code)
            try:
                r = make_receipt(s, origin, seq, d.signed, utcnow(), ctx.signer)  # type: ignore[arg-type]
            except LookupError as e:
                raise ValueError(str(e)) from None
    finally:
        ctx.engine.dispose()
    _write(out, r)
    click.echo(f"receipt of {origin}#{seq} (in a tree of {r['tree_size']}) written to {out}")


@federation.command("verify-receipt")
@click.argument("receipt_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--directory", "directory_json", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a signed directory you trust (default: this node's, else the one the receipt carries)")
def verify_receipt_cmd(receipt_json: Path, directory_json: Path | None) -> None:
    """Check a receipt offline: signatures, checkpoint and inclusion proof. Exit 1 if it fails."""
    from federation.directory import DirectoryError, bootstrap_directory
    from federation.identity import cached_directory, load_identity
    from federation.receipts import ReceiptError, verify_receipt

    try:
        trusted = None
        if directory_json is not None:
            signed = _read(directory_json)
            trusted = bootstrap_directory(signed, str(signed.get("signer")))
        else:
            ident = load_identity(_data_dir())
            trusted = cached_directory(ident) if ident is not None else None
        out = verify_receipt(_read(receipt_json), trusted)
    except (ReceiptError, DirectoryError, ValueError) as e:
        click.echo(f"INVALID: {e}", err=True)
        sys.exit(1)
    click.echo(f"VALID: {out['origin']}#{out['seq']} ({out['service_code']} {out['event']} -> {out['status']}), "
               f"hash {out['hash']}")
    click.echo(f"  signed by key {out['key_id']} at {out['signed_at']}; in {out['origin']}'s tree of "
               f"{out['tree_size']} records, root {out['root']} (checkpoint {out['checkpoint_at']})")
    click.echo(f"  keys from directory version {out['directory_version']}: {out['anchor']}")


@federation.command("show")
@_refusals
def show() -> None:
    """This node's identity, keys, certificate and cached directory."""
    from federation import pki
    from federation.codec import iso
    from federation.identity import cached_directory, read_children, require_identity

    ident = require_identity(_data_dir())
    click.echo(f"node      {ident.node_id} {ident.name} ({ident.level}), parent {ident.parent_id or '-'}")
    for k in ident.keys:
        mark = "current" if k.key_id == ident.key_id else "retired"
        until = iso(k.valid_until) if k.valid_until else "-"
        click.echo(f"key       {k.key_id} {mark}  valid {iso(k.valid_from)} .. {until}")
    if ident.enrolled:
        cert = pki.load_pem_chain(ident.tls_cert_path.read_bytes())[0]
        click.echo(f"cert      CN={pki.node_id_of(cert)} issued by {pki.common_name(cert.issuer)}, "
                   f"until {iso(cert.not_valid_after_utc)}, sha256 {pki.cert_sha256(cert)[:16]}")
    else:
        click.echo("cert      none yet (install the enrollment bundle from the parent)")
    d = cached_directory(ident)
    click.echo(f"directory {'version %d, %d nodes' % (d.version, len(d.nodes)) if d else 'none cached'}")
    children = read_children(ident)
    if children:
        click.echo(f"children  {', '.join(sorted(children))}")


@federation.command("serve")
@click.option("--listen", default="127.0.0.1:7105", show_default=True, help="host:port of this node's gRPC server")
@click.option("--parent", "parent_addr", default=None, help="host:port of the parent's gRPC server (omit at the province)")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 5000),
              help="records per pushed batch (the receiver accepts at most 5000)")
@click.option("--checkpoint-every", default=30.0, show_default=True, type=float, help="seconds between checkpoints")
def serve(listen: str, parent_addr: str | None, batch_size: int, checkpoint_every: float) -> None:
    """Serve the federation (mTLS gRPC) and stream this node's log to its parent until stopped."""
    import asyncio
    import logging
    import signal

    from federation.runtime import run
    from node.config import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, listen, parent_addr, stop, batch_size=batch_size,
                  checkpoint_every=checkpoint_every)

    from node.services.secrets import WeakSecrets

    settings = Settings.from_env()
    if settings.demo:
        click.echo("DEMO MODE (YIWANG_DEMO=1): demo secrets and demo accounts are accepted; never use it for "
                   "real cases", err=True)
    try:
        asyncio.run(main())
    except WeakSecrets as e:
        click.echo(f"yiwang: {e}", err=True)
        sys.exit(3)


def _node_ctx():  # type: ignore[no-untyped-def]
    from node.config import Settings
    from node.services.context import NodeContext

    return NodeContext.build(Settings.from_env())


def _alert_line(a: dict[str, Any]) -> str:
    return (f"#{a['id']:<5} {a['state']:<12} {a['kind']:<24} {a['origin']} {a['subject'] or '-':<16} "
            f"x{a['sightings']:<4} raised by {a['raised_by']}, last seen {a['last_seen'][:19]}\n       {a['detail']}")


def _alert_dict(a: Any) -> dict[str, Any]:
    from federation.codec import iso

    return {c.key: (iso(v) if hasattr(v, "isoformat") else v) for c in a.__table__.columns
            if c.key != "fingerprint" for v in [getattr(a, c.key)]}


@federation.group("alerts", invoke_without_command=True)
@click.option("--state", type=click.Choice(["open", "acknowledged", "resolved"]), default=None)
@click.option("--kind", default=None)
@click.option("--origin", default=None, help="the node the alerts are about")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
@click.option("--json", "as_json", is_flag=True, help="one JSON document instead of lines")
@click.pass_context
@_refusals
def alerts_cmd(cctx: click.Context, state: str | None, kind: str | None, origin: str | None, limit: int,
               as_json: bool) -> None:
    """Alerts about this node and the nodes below it, newest first (or: alerts ack|resolve ID)."""
    if cctx.invoked_subcommand is not None:
        return
    from node.services import alerts as service
    from node.services.context import SYSTEM

    ctx = _node_ctx()
    with ctx.uow(SYSTEM) as uow:
        rows, _ = service.list_alerts(uow, kind=kind, state=state, origin=origin, limit=limit)
        items = [_alert_dict(a) for a in rows]
    if as_json:
        click.echo(json.dumps({"items": items}, ensure_ascii=False, indent=2))
    elif not items:
        click.echo("no alerts")
    for a in items if not as_json else []:
        click.echo(_alert_line(a))


def _change_alert(action: str, alert_id: int, note: str | None) -> None:
    from node.domain.errors import DomainError
    from node.services import alerts as service
    from node.services.context import SYSTEM

    ctx = _node_ctx()
    try:
        a = ctx.run(SYSTEM, service.acknowledge if action == "ack" else service.resolve, alert_id, note)
    except DomainError as e:
        raise ValueError(e.message) from None
    click.echo(f"alert #{a.id} {a.state}")


@alerts_cmd.command("ack")
@click.argument("alert_id", type=int)
@click.option("--note", default=None)
@_refusals
def alerts_ack(alert_id: int, note: str | None) -> None:
    """Acknowledge an open alert (the change travels upward)."""
    _change_alert("ack", alert_id, note)


@alerts_cmd.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--note", required=True, help="how it was resolved")
@_refusals
def alerts_resolve(alert_id: int, note: str) -> None:
    """Resolve an alert, saying how (seen again, it opens again)."""
    _change_alert("resolve", alert_id, note)


@federation.command("status")
@click.option("--json", "as_json", is_flag=True)
@_refusals
def status(as_json: bool) -> None:
    """Each link: the uplink's cursors, lag, last success and what blocks it; the children's contact."""
    from federation.status import format_status, read_status

    ctx = _node_ctx()
    with ctx.factory() as s:
        st = read_status(s, ctx.node_id, ctx.clock())
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(format_status(st)))


@federation.command("notice")
@click.argument("to")
@click.argument("text")
@click.option("--private", "private_text", default=None, help="text sealed to the destination (relays cannot read it)")
@_refusals
def notice_cmd(to: str, text: str, private_text: str | None) -> None:
    """Send an addressed notice to another node (it becomes a 'notice' incident there); prints ORIGIN#SEQ."""
    from node.domain.errors import DomainError
    from node.services.addressed import send_notice
    from node.services.context import SYSTEM

    ctx = _node_ctx()
    try:
        sent = ctx.run(SYSTEM, send_notice, to, text, private_text)
    except DomainError as e:
        raise ValueError(e.message) from None
    click.echo(f"{sent.origin}#{sent.seq}")


@federation.command("addressed")
@click.option("--pending", is_flag=True, help="only what waits for its acknowledgement")
@click.option("--json", "as_json", is_flag=True)
@_refusals
def addressed_cmd(pending: bool, as_json: bool) -> None:
    """The addressed records this node sent: sent (waiting for the destination), acked or refused."""
    from node.services.addressed import sent_messages
    from node.services.context import SYSTEM

    ctx = _node_ctx()
    rows = ctx.run(SYSTEM, sent_messages, pending_only=pending)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['origin']}#{r['seq']:<6} -> {r['to']}  {r['kind']:<16} {r['state']:<8} {r['code'] or ''}")


@federation.command("repair")
@click.option("--parent", "parent_addr", default=None,
              help="host:port of the parent's gRPC server (default: the uplink's last address)")
@_refusals
def repair_cmd(parent_addr: str | None) -> None:
    """Restore damaged records of this node's store from the parent's signed copies; exits 1 naming
    what cannot be restored (never pushed: restore from a backup)."""
    import asyncio

    import grpc

    from federation import tls
    from federation.identity import require_identity
    from federation.pb.v1 import federation_pb2 as pb
    from federation.pb.v1 import federation_pb2_grpc as pb_grpc
    from federation.repair import find_damage, repair
    from federation.runtime import DirectoryTrust
    from node.persistence.models import FedLink

    ctx = _node_ctx()
    ident = require_identity(ctx.settings.data_dir)
    if ident.parent_id is None:
        raise ValueError("the province has no parent to restore from: restore its database from a backup")
    if parent_addr is None:
        with ctx.factory() as s:
            link = s.get(FedLink, ident.parent_id)
            parent_addr = link.address if link is not None else None
        if parent_addr is None:
            raise ValueError("give --parent host:port (the uplink has not recorded its parent's address yet)")
    if not find_damage(ctx):
        from federation.repair import resolve_stale

        resolve_stale(ctx, set())
        click.echo("no damaged record: nothing to repair")
        return

    def fetch(origin: str, seq: int) -> tuple[list[Any], int]:
        async def call() -> tuple[list[Any], int]:
            async with grpc.aio.secure_channel(parent_addr, tls.channel_credentials(ident),
                                               options=tls.channel_options(ident.parent_id or "")) as ch:
                r = await pb_grpc.FederationStub(ch).FetchRecords(
                    pb.FetchRecordsRequest(origin=origin, from_seq=seq, to_seq=seq), timeout=30)
                return list(r.records), r.held_seq
        try:
            return asyncio.run(call())
        except grpc.RpcError as e:
            raise OSError(f"{ident.parent_id} at {parent_addr}: {e.details()}") from None  # type: ignore[attr-defined]

    report = repair(ctx, fetch, DirectoryTrust(ident).key_for, ident.parent_id)
    for subject in report.repaired:
        click.echo(f"restored {subject} from {ident.parent_id}'s signed copy")
    for line in report.unrecoverable:
        click.echo(f"cannot restore {line}", err=True)
    if not report.ok:
        sys.exit(1)
    click.echo("the log is intact: the uplink sends again")


@click.command("demo")
@click.option("--dir", "base", default="var/demo", show_default=True, help="where the four nodes keep their data")
@click.option("--http-port", default=8000, show_default=True, type=int, help="first HTTP port (4 consecutive)")
@click.option("--grpc-port", default=7000, show_default=True, type=int, help="first gRPC port (4 consecutive)")
def demo(base: str, http_port: int, grpc_port: int) -> None:
    """A demo federation on embedded SQLite: province 330000, city 330100, districts 330105 (Gongshu)
    and 330106 (Xihu) as separate processes, enrolled, mutual TLS, syncing upward. Ctrl-C stops all."""
    import signal
    import time

    from federation.demo import Federation, ask_for_a_remote_material

    fed = Federation(Path(base), http_base=http_port, grpc_base=grpc_port)
    started = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"  {time.monotonic() - started:5.1f}s  {message}")

    click.echo(f"preparing the demo federation under {base} (change with --dir; ports with --http-port "
               f"{http_port}.., --grpc-port {grpc_port}..) ...")
    fed.prepare(progress=say, cases=True)
    say("starting 4 nodes (API and federation processes) ...")
    fed.start_all()
    say("all nodes answer")
    try:  # one cross-level case whose city part waits for the applicant (needs the federation running)
        ask_for_a_remote_material(fed, say)
    except (OSError, RuntimeError, KeyError) as e:
        say(f"could not stage a city part waiting for materials ({e}); the rest of the demo is unaffected")
    click.echo("")
    for n in fed.nodes.values():
        click.echo(f"  {n.node_id} {n.hall}")
        click.echo(f"      pages     {n.url}/            staff sign-in {n.url}/staff/login")
        click.echo(f"      API       {n.url}/docs        federation {n.grpc}"
                   + (f" -> parent {n.parent_id}" if n.parent_id else ""))
        click.echo(f"      logs      {n.data_dir}/all.log")
    click.echo("")
    click.echo("sign in at any node as (password 'yiwang-demo'): clerk (window), admin (hall admin), inspector "
               "(supervision dashboard: the province sees every region), <dept>-handler / -reviewer / -approver / "
               "-chief (department desk)")
    click.echo("  departments: districts cgj 城管 scjg 市场监管 jj 交警 gh 规划 ga 公安 sw 税务 kq 街道 "
               "(and agent-kq: the village service point); city gh 规划 scjg jt sthj cgj; province jt sthj zrzy scjg")
    click.echo("  each node holds its own cases in every state; a district's 大型户外广告设施设置（区市联办） cases "
               "have a part at the city (gh-handler there); the oldest one's city part waits for a material the city asked for")
    click.echo(f"try: open {fed['330105'].url}/ to apply as the public; Ctrl-C stops everything")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:
            time.sleep(0.5)
            for n in fed.nodes.values():
                for what, p in list(n.procs.items()):
                    if p.poll() is not None:
                        click.echo(f"{n.node_id} {what} exited ({p.returncode}); restarting it", err=True)
                        n.procs.pop(what)
                        fed.start(n.node_id, what)
    finally:
        click.echo("stopping ...")
        fed.stop_all()
