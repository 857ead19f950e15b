"""Real gRPC servers on loopback with the federation's mutual TLS: a node enrolled under the same
root gets through and is identified by its certificate; a node of another root does not."""
from __future__ import annotations

from concurrent import futures
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from federation import registry
from federation.directory import Directory
from federation.identity import (Identity, cached_directory, enroll_child, init_identity, install_enrollment, load_identity,
                                 make_enrollment_request)
from federation.tls import channel_credentials, channel_options, check_peer, peer_node_id, server_credentials

pytestmark = pytest.mark.integration

METHOD = "/yiwang.test.Probe/WhoAmI"


def _enroll(parent: Identity, child_dir: Path, now: datetime) -> Identity:
    child = load_identity(child_dir)
    assert child is not None
    install_enrollment(child_dir, enroll_child(parent, make_enrollment_request(child), now))
    return load_identity(child_dir)  # type: ignore[return-value]


def _federation(root: Path, now: datetime) -> tuple[Identity, Identity, Identity]:
    p = init_identity(root / "p", "330000", "浙江省", None, now=now)
    init_identity(root / "c", "330100", "杭州市", "330000", now=now)
    init_identity(root / "k", "330105", "拱墅区", "330100", now=now)
    c = _enroll(p, root / "c", now)
    k = _enroll(c, root / "k", now)
    registry.import_subtree_entries(p, registry.export_subtree_entries(c, now))
    signed = registry.publish_directory(p, now)
    registry.install_directory(c, signed)
    return p, c, k


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    now = datetime.now(timezone.utc) - timedelta(minutes=1)
    p, c, k = _federation(tmp_path_factory.mktemp("zj"), now)
    _, foreign_city, foreign_county = _federation(tmp_path_factory.mktemp("rogue"), now)
    return {"province": p, "city": c, "county": k, "foreign_city": foreign_city, "foreign_county": foreign_county}


def _serve(identity: Identity, directory: Directory | None) -> tuple[grpc.Server, int]:
    """A node's server answering with the peer's node id as read from its certificate; with a
    directory it also runs ``check_peer`` against the id the request claims."""
    def who_am_i(request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = peer_node_id(context)
        if directory is not None:
            try:
                check_peer(peer, request.decode() or None, directory)
            except PermissionError as e:
                context.abort(grpc.StatusCode.PERMISSION_DENIED, str(e))
        return (peer or "").encode()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "yiwang.test.Probe", {"WhoAmI": grpc.unary_unary_rpc_method_handler(who_am_i)})])
    port = server.add_secure_port("127.0.0.1:0", server_credentials(identity))
    assert port
    server.start()
    return server, port


@pytest.fixture
def city_server(nodes: dict[str, Identity]) -> Iterator[int]:
    server, port = _serve(nodes["city"], cached_directory(nodes["city"]))
    yield port
    server.stop(None)


def _call(client: Identity, port: int, server_id: str, claim: str = "") -> bytes:
    with grpc.secure_channel(f"127.0.0.1:{port}", channel_credentials(client), options=channel_options(server_id)) as ch:
        return ch.unary_unary(METHOD)(claim.encode(), timeout=10)  # type: ignore[no-any-return]


def test_county_client_is_accepted_and_identified_by_its_certificate(nodes: dict[str, Identity],
                                                                     city_server: int) -> None:
    assert _call(nodes["county"], city_server, "330100", "330105") == b"330105"


def test_peer_claiming_another_node_is_denied(nodes: dict[str, Identity], city_server: int) -> None:
    with pytest.raises(grpc.RpcError) as e:
        _call(nodes["county"], city_server, "330100", "330106")
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "certificate is for node 330105, but it claims to be 330106" in (e.value.details() or "")


def test_client_of_another_root_is_rejected_in_the_handshake(nodes: dict[str, Identity], city_server: int) -> None:
    for rogue in ("foreign_county", "foreign_city"):
        with pytest.raises(grpc.RpcError) as e:
            _call(nodes[rogue], city_server, "330100")
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def _call_with(creds: grpc.ChannelCredentials, port: int) -> bytes:
    with grpc.secure_channel(f"127.0.0.1:{port}", creds, options=channel_options("330100")) as ch:
        return ch.unary_unary(METHOD)(b"", timeout=10)  # type: ignore[no-any-return]


def test_server_rejects_a_foreign_client_certificate_even_from_a_client_that_trusts_it(
        nodes: dict[str, Identity], city_server: int) -> None:
    """The client side trusts our root, so only the server's client-certificate check can fail."""
    rogue, ours = nodes["foreign_county"], nodes["city"]
    creds = grpc.ssl_channel_credentials(root_certificates=ours.ca_cert_path.read_bytes(),
                                         private_key=rogue.tls_key_path.read_bytes(),
                                         certificate_chain=rogue.chain_path.read_bytes())
    with pytest.raises(grpc.RpcError) as e:
        _call_with(creds, city_server)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    no_cert = grpc.ssl_channel_credentials(root_certificates=ours.ca_cert_path.read_bytes())
    with pytest.raises(grpc.RpcError) as e:
        _call_with(no_cert, city_server)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    trusted = grpc.ssl_channel_credentials(root_certificates=ours.ca_cert_path.read_bytes(),
                                           private_key=nodes["county"].tls_key_path.read_bytes(),
                                           certificate_chain=nodes["county"].chain_path.read_bytes())
    assert _call_with(trusted, city_server) == b"330105"


def test_client_refuses_a_server_that_is_not_the_node_it_pinned(nodes: dict[str, Identity],
                                                                city_server: int) -> None:
    with pytest.raises(grpc.RpcError) as e:
        _call(nodes["county"], city_server, "330000")  # the city's cert does not name the province
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def test_city_reaches_the_province_whose_certificate_is_the_root(nodes: dict[str, Identity]) -> None:
    server, port = _serve(nodes["province"], None)
    try:
        assert _call(nodes["city"], port, "330000") == b"330100"
        assert _call(nodes["county"], port, "330000") == b"330105"
        with pytest.raises(grpc.RpcError):
            _call(nodes["foreign_city"], port, "330000")
    finally:
        server.stop(None)
