"""Demo cases in every state, made through the node's own API as its users would (``yiwang seed
demo-cases``; ``yiwang demo`` runs it on every node), so every page has something real to
show: cases awaiting the window, in progress at each stage, green, yellow and red, supplementing,
concluded and rated, refused, withdrawn, a joint case (一件事), village submissions (代办) and, at a
district, cross-level cases whose city part is dispatched to the city (区市联动). A city or the province
gets the same states on its own items.

The node's clock is moved back while a case's earlier steps happen, so a red case was really
accepted weeks ago; every request goes through the API, its validation, policy and signed log.
"""
from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

from node.services.context import CST, NodeContext


def _id(base17: str) -> str:
    """A resident ID number with its check digit (GB 11643)."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return base17 + "10X98765432"[sum(int(c) * k for c, k in zip(base17, w)) % 11]


APPLICANTS = [(n, _id(b), p) for n, b, p in (
    ("张三明", "11010519491231002", "13912345678"), ("李秀英", "33010519900307152", "13857110001"),
    ("王建国", "33010619851111231", "13757120002"), ("陈丽华", "33010219920815004", "13605710003"),
    ("刘志强", "33010319780622051", "13989460004"), ("赵敏", "33010419951230002", "13516810005"))]
FORM_VALUES = {"shop_name": "拱宸桥老字号面馆", "trade_name": "拱宸桥老字号面馆", "address": "杭州市拱墅区丽水路 58 号",
               "size": "6×1.2", "company_name": "杭州运河数字科技有限公司", "legal_rep": "王建国",
               "registered_capital": "100", "business_scope": "软件开发；信息技术咨询服务", "seal_kinds": "公章、财务专用章",
               "construction_date": "2027-01-10", "name": "杭州运河数字科技有限公司", "org_name": "杭州运河数字科技有限公司"}
FLOW = ("accept", "undertake", "review", "approve", "conclude")


def _pdf(tag: str) -> bytes:
    """A one-page PDF, distinct per ``tag`` (its title)."""
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(595, 842)
    w.add_metadata({"/Title": tag})
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _image(fmt: str, tag: str) -> bytes:
    from PIL import Image

    seed = hashlib.sha256(tag.encode()).digest()
    im = Image.new("RGB", (64, 48), tuple(seed[:3]))
    buf = io.BytesIO()
    im.save(buf, format="JPEG" if fmt == "jpg" else "PNG")
    return buf.getvalue()


class _Hall:
    """The node's API in-process, on a clock this seeder moves."""

    def __init__(self, ctx: NodeContext, password: str) -> None:
        from node.api import create_app

        self.ctx, self.password = ctx, password
        self.now = ctx.clock()
        ctx.clock = lambda: self.now
        self.c = create_app(ctx=ctx).test_client()
        self.tokens: dict[str, str] = {}
        self.made: dict[str, int] = {}
        self.n = 0

    def h(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        if user not in self.tokens:
            r = self.c.post("/api/v1/auth/token", json={"username": user, "password": self.password})
            if r.status_code != 201:
                raise RuntimeError(f"cannot sign in as {user}: {r.get_json()}")
            self.tokens[user] = r.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, method: str, url: str, body: Any = None, user: str | None = None) -> Any:
        r = self.c.open(url, method=method, json=body, headers=self.h(user))
        if r.status_code == 401 and user in self.tokens:  # signed in at another moment of the moved clock
            del self.tokens[user]
            r = self.c.open(url, method=method, json=body, headers=self.h(user))
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {url}: {r.status_code} {r.get_json()}")
        return r.get_json()

    def upload(self, kind: str, tag: str, user: str | None = None) -> str:
        body = _pdf(tag) if kind in ("pdf", "ofd") else _image(kind, tag)
        name = f"{tag}.{'pdf' if kind == 'ofd' else kind}"
        r = self.c.post("/api/v1/uploads", data={"file": (io.BytesIO(body), name)}, headers=self.h(user),
                        content_type="multipart/form-data")
        if r.status_code != 201:
            raise RuntimeError(f"upload: {r.status_code} {r.get_json()}")
        return str(r.get_json()["id"])

    def materials(self, item: dict[str, Any], user: str | None = None) -> list[dict[str, str]]:
        self.n += 1
        out = []
        for m in item["materials"]:
            if m.get("requirement") != "required":
                continue
            kind = (m.get("file_types") or ["pdf"])[0]
            out.append({"material_code": m["code"], "upload_id": self.upload(kind, f"{m['code']}-{self.n}", user)})
        return out

    def fire(self, code: str, event: str, user: str, **body: Any) -> None:
        version = self.call("GET", f"/api/v1/cases/{code}", user=user)["version"]
        self.call("POST", f"/api/v1/cases/{code}/transitions", {"event": event, "version": version, **body}, user)


def _at(ctx: NodeContext, today: datetime, working_days_ago: int, hour: int) -> datetime:
    """``working_days_ago`` working days before ``today``, at ``hour`` o'clock."""
    cal = ctx.calendar()
    d = today.date()
    n = 0
    while n < working_days_ago:
        d -= timedelta(days=1)
        if cal.is_working_day(d):
            n += 1
    while not cal.is_working_day(d):
        d -= timedelta(days=1)
    return datetime.combine(d, time(hour, 0), CST)


def load_demo_cases(ctx: NodeContext, password: str) -> Iterator[str]:
    """About thirty cases in every state (nothing happens if the node has cases already)."""
    hall = _Hall(ctx, password)
    if hall.call("GET", "/api/v1/cases?page_size=1", user="clerk")["total"]:
        yield "the node has cases already; no demo cases added"
        return
    today = hall.now
    made: dict[str, int] = {}

    def detail(code: str) -> dict[str, Any]:
        return hall.call("GET", f"/api/v1/catalog/items/{code}")  # type: ignore[no-any-return]

    items = {i["code"]: i for i in hall.call("GET", "/api/v1/catalog/items")}
    depts = {d["id"]: d["code"] for d in hall.call("GET", "/api/v1/departments", user="admin")}
    simple = [c for c, i in items.items() if i.get("kind") == "promised" and "-XK-CG-" in c][:5]
    simple += [c for c, i in items.items() if i.get("kind") == "promised" and "-XK-SJ-" in c][:2]
    if len(simple) < 3:  # a city's or the province's hall: its own items of one department each
        simple = [c for c, i in items.items() if i.get("kind") == "promised"
                  and not detail(c).get("prerequisites")][:7]
    joint: list[str] = []
    linked: list[str] = []  # joint items worked here; joint items with a part at another node (区市联动)
    for c, i in items.items():
        if i.get("kind") == "joint":
            (linked if any(p.get("node") for p in detail(c).get("parts") or []) else joint).append(c)
    village = "kq-bm" in depts.values()

    def apply(code: str, k: int, agent: str | None = None) -> str:
        name, idn, phone = APPLICANTS[k % len(APPLICANTS)]
        item = detail(code)
        form = {f["name"]: FORM_VALUES.get(f["name"], f"{f.get('label') or f['name']}（示例）")
                for f in item.get("fields") or []}
        body = {"item_code": code, "applicant": {"name": name, "id_number": idn, "phone": phone},
                "materials": hall.materials(item, agent), "form": form}
        if agent:
            return str(hall.call("POST", "/api/v1/cases", body, agent)["code"])
        return str(hall.call("POST", "/api/v1/public/applications", body)["code"])

    concluded: list[tuple[str, int]] = []

    def run(code: str, k: int, days_ago: int, upto: int, state: str, agent: str | None = None) -> None:
        """Apply ``days_ago`` working days back and fire the flow's first ``upto`` steps, a few hours apart."""
        item = detail(code)
        dept = depts.get(item.get("department_id"), "cgj")
        who = {"accept": "clerk", "undertake": f"{dept}-handler", "review": f"{dept}-reviewer",
               "approve": f"{dept}-approver", "conclude": "clerk"}
        hall.now = min(today, _at(ctx, today, days_ago, 9))
        case = apply(code, k, agent)
        for i, step in enumerate(FLOW[:upto]):
            hall.now = min(today, _at(ctx, today, max(0, days_ago - i), 10 + i))
            extra = {"opinion": "材料齐全，符合法定条件"} if step == "undertake" else {}
            hall.fire(case, step, who[step], **extra)
        made[state] = made.get(state, 0) + 1
        if upto == len(FLOW):
            concluded.append((case, k))

    plan: list[tuple[int, int, str]] = (  # (working days ago, steps done, what the case shows)
        [(0, 0, "awaiting the window")] * 3 + [(1, 1, "accepted")] * 2 + [(1, 2, "undertaken")] * 2
        + [(2, 3, "reviewed")] * 1 + [(3, 4, "approved")] * 1 + [(12, 5, "concluded")] * 3 + [(6, 5, "concluded")] * 2
        + [(4, 1, "yellow")] * 2 + [(4, 2, "yellow")] * 1 + [(9, 1, "red")] * 2 + [(14, 2, "red")] * 1)
    try:
        for k, (ago, upto, state) in enumerate(plan):
            run(simple[k % len(simple)], k, ago, upto, state)
        for k in range(2):  # supplementing: the window asked for a clearer copy
            hall.now = min(today, _at(ctx, today, 1, 9))
            code = apply(simple[k], k + 3)
            hall.fire(code, "request_supplement", "clerk", reason="身份证复印件不清晰，请补正清晰的复印件")
            made["supplementing"] = made.get("supplementing", 0) + 1
        hall.now = min(today, _at(ctx, today, 2, 9))
        code = apply(simple[0], 4)
        hall.fire(code, "refuse", "clerk", reason="申请事项不属于本机关职权范围")
        made["refused"] = 1
        code = apply(simple[1], 5)
        hall.call("POST", f"/api/v1/public/cases/{code}/withdrawal", {"id_last4": APPLICANTS[5][1][-4:]})
        made["withdrawn"] = 1
        for k in range(2 if village else 0):  # village submissions through the service point's agent (代办)
            run(simple[k], k + 1, 1, k, "village", agent="agent-kq")
        if joint:
            hall.now = min(today, _at(ctx, today, 2, 9))
            code = apply(joint[0], 2)
            hall.fire(code, "accept", "clerk")
            made["joint"] = 1
        for k, ago in enumerate((1, 3) if linked and ctx.signer is not None else ()):  # cross-level: the city's part goes up once the
            hall.now = min(today, _at(ctx, today, ago, 9))  # federation runs and comes back worked
            code = apply(linked[0], k + 1)
            hall.fire(code, "accept", "clerk")
            made["cross-level"] = made.get("cross-level", 0) + 1
        hall.now = today
        for n, (code, k) in enumerate(concluded[:3]):  # 好差评 of the first few concluded
            hall.call("POST", f"/api/v1/public/cases/{code}/evaluation",
                      {"id_last4": APPLICANTS[k % len(APPLICANTS)][1][-4:], "score": 5 - n % 2,
                       "comment": "窗口服务热情，办理高效"})
    finally:
        hall.now = today
    yield "demo cases: " + ", ".join(f"{n} {s}" for s, n in made.items())
