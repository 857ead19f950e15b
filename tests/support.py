"""Test helpers: a settable clock, and an API client that knows the demo hall."""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from node.services.context import CST

DEMO_PASSWORD = "yiwang-demo"
SIGN_ITEM = "330105-XK-CG-001"  # 店招店牌: accept, undertake, review, approve, conclude
SIGN_MATERIALS = {"application": "pdf", "id": "pdf", "design": "pdf", "site-photo": "jpg", "owner-consent": "pdf"}
ID_NUMBER = "11010519491231002X"  # a valid resident ID (check digit X)
PDF = b"%PDF-1.4\n"
JPG = b"\xff\xd8\xff\xe0"


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
        body = (PDF if kind == "pdf" else JPG) + tag.encode()
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

    mats = [{"material_code": m, "upload_id": ctx.run(None, intake.store_upload, f"f.{k}", (PDF if k == "pdf" else JPG) + m.encode()).id}
            for m, k in SIGN_MATERIALS.items()]
    return {"item_code": SIGN_ITEM, "materials": mats, "conditional_materials": [], "form": {},
            "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"}}


def submit_concurrently(ctx: Any, data: dict[str, Any], threads: int, each: int) -> list[str]:
    """``threads`` threads submitting ``data`` ``each`` times through the service; the codes (no error allowed)."""
    import threading

    from node.services import intake

    codes: list[str] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            for _ in range(each):
                codes.append(ctx.run(None, intake.submit_case, data))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    workers = [threading.Thread(target=submit) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors, errors
    return codes
