"""FetchMaterial: a joint case's material by digest, served by the joint case's node to the node its
part was dispatched to, over mutual TLS (``node.services.part_materials`` holds the rules).

Reaching the joint case's node: as case files are fetched (``plugin.OwnerPull``), directly at the
address ``YIWANG_FEDERATION_PEERS`` gives for it. A parent reaches a child that way (the city working
a district's part); a sibling (330106 working a part of 330105) needs the sibling's address listed
too: the common ancestor does not relay FetchMaterial (FetchCaseDetail is not relayed either).
"""
from __future__ import annotations

import asyncio
from typing import Callable

import grpc

from federation import tls
from federation.identity import Identity
from federation.pb.v1 import federation_pb2 as pb
from node.ports import FetchedMaterial
from node.services.context import SYSTEM, NodeContext

CHUNK = 256 * 1024
MAX_MATERIAL = 256 << 20  # the caller stops reading beyond this (no material is larger)
Reader = Callable[[str, int, str, str, str, str], FetchedMaterial]


def material_reader(ctx: NodeContext) -> Reader:
    """FetchMaterial at the joint case's node: one unit of work, the fetch audited in it; a refusal
    raises ``part_materials.MaterialRefused``."""
    from node.services.part_materials import serve_part_material

    def read(joint_code: str, part: int, digest: str, peer: str, requester: str, purpose: str) -> FetchedMaterial:
        with ctx.uow(SYSTEM) as uow:
            got = serve_part_material(uow, joint_code, part, digest, peer, requester, purpose)
            uow.commit()
            return got

    return read


def chunks(got: FetchedMaterial) -> list[pb.FetchMaterialChunk]:
    out = [pb.FetchMaterialChunk(data=got.data[:CHUNK], digest=got.digest, filename=got.filename,
                                 file_type=got.file_type, size=len(got.data), material_code=got.material_code)]
    out += [pb.FetchMaterialChunk(data=got.data[i:i + CHUNK]) for i in range(CHUNK, len(got.data), CHUNK)]
    return out


async def fetch_material(ident: Identity, target: str, origin: str, joint_code: str, part: int, digest: str,
                         requester: str, purpose: str) -> FetchedMaterial:
    """Ask ``origin`` (listening at ``target``) for a material over mutual TLS; the bytes are
    checked against the size it announced (the digest is checked by the caller's service)."""
    from federation.pb.v1 import federation_pb2_grpc as pb_grpc

    async with grpc.aio.secure_channel(target, tls.channel_credentials(ident),
                                       options=tls.channel_options(origin)) as ch:
        call = pb_grpc.FederationStub(ch).FetchMaterial(pb.FetchMaterialRequest(
            joint_code=joint_code, part=part, digest=digest, requester=requester, purpose=purpose), timeout=60)
        first: pb.FetchMaterialChunk | None = None
        buf = bytearray()
        async for c in call:
            if first is None:
                first = c
            buf += c.data
            if len(buf) > MAX_MATERIAL or len(buf) > first.size:
                call.cancel()
                raise LookupError(f"{origin} sent more than the {first.size} bytes it announced")
    if first is None or len(buf) != first.size:
        raise LookupError(f"{origin} sent {len(buf)} bytes of the {first.size if first else 0} it announced")
    return FetchedMaterial(bytes(buf), first.digest, first.filename, first.file_type, first.material_code, origin)


class MaterialPull:
    """``node.ports.MaterialGateway`` over FetchMaterial."""

    def __init__(self, identity: Identity, addresses: Callable[[], dict[str, str]]) -> None:
        self.identity = identity
        self.addresses = addresses
        """where the other nodes listen (``plugin.peer_addresses``: ``YIWANG_FEDERATION_PEERS``)"""

    def fetch_material(self, origin: str, joint_code: str, part: int, digest: str, requester: str,
                       purpose: str) -> FetchedMaterial:
        addr = self.addresses().get(origin)
        if addr is None:
            raise LookupError(f"this node does not know how to reach {origin} (YIWANG_FEDERATION_PEERS)")
        try:
            return asyncio.run(fetch_material(self.identity, addr, origin, joint_code, part, digest, requester,
                                              purpose))
        except grpc.aio.AioRpcError as e:
            raise LookupError(f"{e.code().name}: {e.details()}") from None

