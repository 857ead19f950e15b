"""Test helpers: a settable clock, and an API client that knows the demo hall."""
from __future__ import annotations

import io
import json
import shutil
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from node.services.context import CST

DEMO_PASSWORD = "yiwang-demo"
SIGN_ITEM = "330105-XK-CG-001"  # 店招店牌: accept, undertake, review, approve, conclude
SIGN_MATERIALS = {"application": "pdf", "id": "pdf", "design": "pdf", "site-photo": "jpg", "owner-consent": "pdf"}
ID_NUMBER = "11010519491231002X"  # a valid resident ID (check digit X)


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 3, 2, 9, 0, tzinfo=CST)

    def now(self) -> datetime:
        return self.t

    def set(self, t: datetime) -> None:
        self.t = t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


class Client:
    def __init__(self, c: Any) -> None:
        self.c = c
        self._tokens: dict[str, str] = {}

    def h(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        if user not in self._tokens:
            r = self.c.post("/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
            assert r.status_code == 201, r.json
            self._tokens[user] = r.json["token"]
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    def get(self, url: str, user: str | None = None, **kw: Any) -> Any:
        return self.c.get(url, headers=self.h(user), **kw)

    def post(self, url: str, json: Any = None, user: str | None = None, **kw: Any) -> Any:
        return self.c.post(url, json=json, headers=self.h(user), **kw)

    def put(self, url: str, json: Any = None, user: str | None = None) -> Any:
        return self.c.put(url, json=json, headers=self.h(user))

    def patch(self, url: str, json: Any = None, user: str | None = None) -> Any:
        return self.c.patch(url, json=json, headers=self.h(user))

    def upload(self, kind: str = "pdf", tag: str = "", name: str | None = None) -> str:
        body = material_bytes(kind, tag)
        r = self.c.post("/api/v1/uploads", data={"file": (io.BytesIO(body), name or f"f.{kind}")},
                        content_type="multipart/form-data")
        assert r.status_code == 201, r.json
        return r.json["id"]

    def sign_materials(self) -> list[dict[str, str]]:
        return [{"material_code": m, "upload_id": self.upload(k, m)} for m, k in SIGN_MATERIALS.items()]

    def apply_online(self, item: str = SIGN_ITEM, **applicant: Any) -> str:
        a = {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678", **applicant}
        r = self.post("/api/v1/public/applications",
                      {"item_code": item, "applicant": a, "materials": self.sign_materials()})
        assert r.status_code == 201, r.json
        return r.json["code"]

    def case(self, code: str, user: str = "clerk") -> dict[str, Any]:
        r = self.get(f"/api/v1/cases/{code}", user)
        assert r.status_code == 200, r.json
        return r.json

    def fire(self, code: str, event: str, user: str, expect: int = 200, **body: Any) -> Any:
        version = body.pop("version", None) or self.case(code).get("version")
        r = self.post(f"/api/v1/cases/{code}/transitions", {"event": event, "version": version, **body}, user)
        assert r.status_code == expect, (r.status_code, r.json)
        return r.json

    def to_conclusion(self, code: str) -> dict[str, Any]:
        self.fire(code, "accept", "clerk")
        self.fire(code, "undertake", "cgj-handler", opinion="材料齐全，符合条件")
        self.fire(code, "review", "cgj-reviewer")
        self.fire(code, "approve", "cgj-approver")
        return self.fire(code, "conclude", "clerk")


def sign_application(ctx: Any) -> dict[str, Any]:
    """A complete online application for the shop-sign item, its five materials uploaded."""
    from node.services import intake

    mats = [{"material_code": m, "upload_id": ctx.run(None, intake.store_upload, f"f.{k}", material_bytes(k, m)).id}
            for m, k in SIGN_MATERIALS.items()]
    return {"item_code": SIGN_ITEM, "materials": mats, "conditional_materials": [], "form": {},
            "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"}}


def submit_concurrently(ctx: Any, data: dict[str, Any], threads: int, each: int) -> list[str]:
    """``threads`` threads submitting ``data`` ``each`` times through the service, each time with a
    fresh set of its uploads (an upload serves one application); the codes (no error allowed)."""
    import threading

    from node.services import intake

    codes: list[str] = []
    errors: list[BaseException] = []
    sets = iter(more_upload_sets(ctx, {m["material_code"]: m["upload_id"] for m in data["materials"]},
                                 threads * each))
    batches = [[dict(data, materials=next(sets)) for _ in range(each)] for _ in range(threads)]

    def submit(batch: list[dict[str, Any]]) -> None:
        try:
            for one in batch:
                codes.append(ctx.run(None, intake.submit_case, one))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    workers = [threading.Thread(target=submit, args=(b,)) for b in batches]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors, errors
    return codes


def minimal_pdf(text: str = "", pad: int = 0, extra: bytes = b"", catalog: bytes = b"") -> bytes:
    """A real one-page PDF (header, objects, cross-reference table, trailer) whose page shows
    ``text``: distinct text, distinct digest. It passes the node's full structure check. ``pad``
    bytes of blank page content make it large; ``extra`` goes between the objects and the
    cross-reference table (offsets stay right); ``catalog`` is added to the document catalog."""
    safe = text.encode("ascii", "backslashreplace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    content = b" " * pad + b"BT /F1 12 Tf 72 720 Td (" + safe + b") Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
             b"/Resources << /Font << /F1 5 0 R >> >> >>"),
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    out += extra
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def tiny_image(fmt: str = "jpg", tag: str = "") -> bytes:
    """A real 8×8 JPEG or PNG whose pixels come from ``tag`` (distinct tags, distinct digests)."""
    import hashlib

    from PIL import Image

    seed = hashlib.sha256(tag.encode()).digest()
    im = Image.new("RGB", (8, 8), tuple(seed[:3]))
    for i in range(8):
        im.putpixel((i, i), tuple(seed[3 + i * 3:6 + i * 3]) if 6 + i * 3 <= len(seed) else (0, 0, 0))
    buf = io.BytesIO()
    im.save(buf, format="JPEG" if fmt == "jpg" else "PNG")
    return buf.getvalue()


def minimal_ofd(extra: dict[str, bytes] | None = None, tag: str = "") -> bytes:
    """A real OFD package: OFD.xml at the root, a document and a page (plus ``extra`` entries)."""
    import zipfile

    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    files = {"OFD.xml": f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} Version="1.0" DocType="OFD">'
                        f'<ofd:DocBody><ofd:DocInfo><ofd:DocID>{tag or "x"}</ofd:DocID></ofd:DocInfo>'
                        '<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>'.encode(),
             "Doc_0/Document.xml": f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {ns}><ofd:Pages>'
                                   '<ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>'
                                   .encode(),
             "Doc_0/Pages/Page_0/Content.xml": f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}/>'.encode(),
             **(extra or {})}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def material_bytes(kind: str, tag: str = "") -> bytes:
    """A real material file of ``kind`` (pdf, jpg, png, ofd), distinct per ``tag``."""
    if kind == "pdf":
        return minimal_pdf(tag)
    if kind == "ofd":
        return minimal_ofd(tag=tag)
    return tiny_image(kind, tag)


def more_upload_sets(ctx: Any, uploaded: dict[str, str], sets: int, batch: int = 1000) -> list[list[dict[str, str]]]:
    """``sets`` more sets of already uploaded materials (material code -> upload id): new upload
    rows with random ids over the same stored files, written through the node's models (audited),
    ``batch`` sets per unit of work, for tests and benchmarks that submit many applications (an
    upload serves one application)."""
    import secrets

    from sqlalchemy import select

    from node.persistence.models import Upload
    from node.persistence.uow import SYSTEM

    with ctx.factory() as s:
        rows = {u.id: u for u in s.scalars(select(Upload).where(Upload.id.in_(list(uploaded.values()))))}
    out: list[list[dict[str, str]]] = []
    for start in range(0, sets, batch):
        part = [[{"material_code": c, "upload_id": secrets.token_hex(16)} for c in uploaded]
                for _ in range(min(batch, sets - start))]

        def add(uow: Any, part: list[list[dict[str, str]]] = part) -> None:
            for mats in part:
                for m in mats:
                    t = rows[uploaded[m["material_code"]]]
                    uow.session.add(Upload(id=m["upload_id"], digest=t.digest, size=t.size, file_type=t.file_type,
                                           filename=t.filename, created_at=uow.now, uploaded_by="local"))

        ctx.run(SYSTEM, add)
        out.extend(part)
    return out


SIGN_FORM = {"shop_name": "拱墅老字号面馆", "address": "杭州市拱墅区湖墅南路1号", "size": "6×1.2"}
"""The merged form of the demo's shop-sign bundle (店招店牌一件事)."""


def run_part(api: Any, code: str, dept: str, deny: bool = False) -> Any:
    """Work one part of a joint case through its department's stages (denied at review if ``deny``)."""
    api.fire(code, "undertake", f"{dept}-handler", opinion="符合条件")
    if deny:
        return api.fire(code, "deny", f"{dept}-reviewer", reason="设置位置不符合规划")
    api.fire(code, "review", f"{dept}-reviewer")
    api.fire(code, "approve", f"{dept}-approver")
    return api.fire(code, "conclude", "clerk")


class JsonClient:
    """A node's JSON API over HTTP with bearer tokens for the demo accounts (urllib, one connection per
    request, safe to share between threads): functional tests and benchmarks drive real nodes with it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def call(self, method: str, path: str, body: Any = None, user: str | None = None,
             raw: bytes | None = None, ctype: str | None = None) -> tuple[int, Any]:
        headers = {}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if ctype:
            headers["Content-Type"] = ctype
        if user:
            headers["Authorization"] = "Bearer " + self.token(user)
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def token(self, user: str) -> str:
        with self._lock:
            tok = self.tokens.get(user)
        if tok is None:
            st, body = self.call("POST", "/api/v1/auth/token", {"username": user, "password": "yiwang-demo"})
            if st != 201:
                raise RuntimeError(f"login {user} at {self.url}: {st} {body}")
            tok = str(body["token"])
            with self._lock:
                self.tokens[user] = tok
        return tok

    def ok(self, method: str, path: str, body: Any = None, user: str | None = None, want: int = 200) -> Any:
        st, out = self.call(method, path, body, user)
        if st != want:
            raise RuntimeError(f"{method} {path} as {user}: {st} {out}")
        return out

    def upload(self, name: str, data: bytes) -> str:
        boundary = "----yiwang"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        st, out = self.call("POST", "/api/v1/uploads", raw=body, ctype=f"multipart/form-data; boundary={boundary}")
        if st != 201:
            raise RuntimeError(f"upload {name}: {st} {out}")
        return str(out["id"])

    def fire(self, code: str, event: str, user: str, **kw: Any) -> Any:
        case = self.ok("GET", f"/api/v1/cases/{code}", user=user)
        return self.ok("POST", f"/api/v1/cases/{code}/transitions", {"event": event, "version": case["version"], **kw},
                       user)

    def work(self, code: str, dept: str) -> None:
        self.fire(code, "undertake", f"{dept}-handler", opinion="符合条件")
        self.fire(code, "review", f"{dept}-reviewer")
        self.fire(code, "approve", f"{dept}-approver")
        self.fire(code, "conclude", "clerk")


def csrf_of(html: str) -> str:
    """The CSRF token a staff page's form carries."""
    import re

    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the page has no CSRF token"
    return m.group(1)


def ui_sign_in(client: Any, username: str, password: str = DEMO_PASSWORD) -> str:
    """Sign a Flask test client in through the staff login page; returns a CSRF token for its forms."""
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    r = client.post("/staff/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return csrf_of(client.get(r.headers["Location"], follow_redirects=True).get_data(as_text=True))


def at_once(fn: Any, n: int = 2, timeout: float = 60) -> tuple[list[Any], list[BaseException]]:
    """Run ``fn(barrier)`` in ``n`` threads (each waits on ``barrier`` at the point it should race
    from); returns what they returned and what they raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(fn(barrier))
        except BaseException as e:  # noqa: BLE001 - handed to the test
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results, errors


def prepare_from(f: Any, databases: dict[str, Any]) -> None:
    """``f.prepare(parallel=True)`` with each node's schema and demo data copied from ``databases``;
    the identities, enrollment and directory are ``f``'s own."""
    f.prepare_identities()
    for node_id, n in f.nodes.items():
        if node_id in databases and not n.database_url:
            shutil.copy(databases[node_id], n.data_dir / "yiwang.db")
            (n.data_dir / f.SEEDED).touch()
    f.prepare(parallel=True)  # anything not copied is prepared for real
