"""The window and the department desk in a real browser: an online application accepted at the
window, then worked by the department's handler, reviewer and approver on their desks and
concluded at the window; a joint case's parts worked by two departments."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import mark_document, same_document, shot, sign_in
from tests.support import ID_NUMBER, SIGN_FORM, SIGN_ITEM

pytestmark = pytest.mark.e2e


def sign_out(page):  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="退出", exact=True).click()
    page.wait_for_url("**/staff/login*")


def work_stage(page, node, username, code, button, opinion=None):  # type: ignore[no-untyped-def]
    """Sign in, open the case from the desk's 待办 tab, do this stage's step."""
    sign_in(page, node, username)
    assert "/staff/desk" in page.url
    page.get_by_role("link", name=code).click()
    form = page.get_by_role("form", name=button, exact=True)
    if opinion:
        form.get_by_label("承办意见").fill(opinion)
    form.get_by_role("button", name=button, exact=True).click()
    page.get_by_role("status").filter(has_text=code).wait_for()
    sign_out(page)


def test_online_case_accepted_at_window_and_worked_through_the_desk(page, phone, node):
    code = node.api.apply_online()
    sign_in(page, node, "clerk")
    assert "/staff/window" in page.url
    page.get_by_role("link", name=code).wait_for()
    shot(page, "window-queue")
    # an application arriving meanwhile shows in the queue without a reload (it refreshes itself)
    mark_document(page)
    other = node.api.apply_online()
    page.evaluate("window.dispatchEvent(new Event('focus'))")  # as when the clerk comes back to the tab
    page.get_by_role("link", name=other).wait_for()
    assert same_document(page)
    page.get_by_role("link", name=code).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("设置大型户外广告")
    shot(page, "window-case")
    accept = page.get_by_role("form", name="受理", exact=True)
    mark_document(page)
    accept.get_by_role("button", name="受理", exact=True).click()
    page.get_by_role("status").filter(has_text="已受理").wait_for()
    assert same_document(page)  # accepted in place: no reload
    page.get_by_role("link", name="打印受理通知书").click()
    page.get_by_role("heading", name="受理通知书").wait_for()
    assert code in page.content()
    shot(page, "acceptance-notice")
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="打印", exact=True).is_visible()  # .no-print hidden on paper
    page.emulate_media(media="screen")
    sign_out(page)

    # the handler: the desk lists it (待认领), claims it, undertakes
    sign_in(page, node, "cgj-handler")
    row = page.get_by_role("row").filter(has_text=code)
    assert "待认领" in row.inner_text() and "1101**********002X" in row.inner_text()
    shot(page, "desk-queue")
    page.get_by_role("link", name=code).click()
    mark_document(page)
    page.get_by_role("button", name="认领", exact=True).click()
    page.get_by_role("status").filter(has_text="已认领").wait_for()
    assert same_document(page)
    shot(page, "desk-case")
    with page.expect_popup() as popup:
        page.get_by_role("link", name="f.pdf").first.click()
    material = popup.value
    material.wait_for_load_state()
    assert material.url.endswith(tuple(m["digest"] for m in node.api.case(code)["materials"]))
    material.close()
    form = page.get_by_role("form", name="承办完成，提交审核", exact=True)
    form.get_by_label("承办意见").fill("材料齐全，符合设置规划")
    form.get_by_role("button", name="承办完成，提交审核", exact=True).click()
    page.get_by_role("status").filter(has_text="承办意见已提交").wait_for()
    page.get_by_role("link", name="← 返回我的待办").click()
    page.get_by_role("link", name="已办（1）").click()
    page.get_by_role("link", name=code).wait_for()
    sign_out(page)

    work_stage(page, node, "cgj-reviewer", code, "审核通过")
    work_stage(page, node, "cgj-approver", code, "批准")

    # back at the window to conclude (办结)
    sign_in(page, node, "clerk")
    page.get_by_role("link", name="待办结").click()
    page.get_by_role("link", name=code).click()
    page.get_by_role("form", name="办结", exact=True).get_by_role("button", name="办结", exact=True).click()
    page.get_by_role("status").filter(has_text="已办结").wait_for()
    case = node.api.case(code)
    assert case["status"] == "concluded" and case["result"] == "approved"
    history = page.get_by_role("list").filter(has_text="批准").inner_text()
    assert "承办" in history and "审核" in history and "材料齐全，符合设置规划" in history
    assert page.js_errors == []

    # the same pages at phone size
    sign_in(phone, node, "clerk")
    shot(phone, "window-queue")
    phone.goto(f"{node.url}/staff/window/cases/{code}")
    shot(phone, "window-case")
    phone.goto(f"{node.url}/staff/window/cases/{code}/notice/acceptance")
    shot(phone, "acceptance-notice")
    sign_out(phone)
    sign_in(phone, node, "cgj-handler")
    phone.get_by_role("link", name="已办（1）").click()
    shot(phone, "desk-queue")
    phone.goto(f"{node.url}/staff/cases/{code}")
    shot(phone, "desk-case")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 400
    assert phone.js_errors == []


def test_joint_case_parts_worked_by_two_departments(page, node):
    """店招店牌一件事: accepted at the one window; the city management and the traffic police parts
    are worked on their own desks; each department sees its own part only."""
    r = node.api.post("/api/v1/public/applications", {
        "item_code": "330105-LB-CG-001", "form": SIGN_FORM, "materials": node.api.sign_materials(),
        "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"}})
    assert r.status_code == 201, r.json
    code = r.json["code"]
    sign_in(page, node, "clerk")
    page.get_by_role("link", name=code).click()
    page.get_by_role("form", name="受理", exact=True).get_by_role("button", name="受理", exact=True).click()
    page.get_by_role("status").filter(has_text="已受理").wait_for()
    parts = {p["item_code"]: p["code"] for p in node.api.case(code)["joint"]["parts"]}
    assert page.get_by_role("heading", name="联办子件").is_visible()
    shot(page, "window-joint-case")
    sign_out(page)
    for dept, item in (("cgj", "330105-XK-CG-001"), ("jj", "330105-XK-JJ-001")):
        part = parts[item]
        sign_in(page, node, f"{dept}-handler")
        assert page.get_by_role("link", name=part).count() == 1
        others = [c for i, c in parts.items() if i != item]
        assert all(page.get_by_role("link", name=c).count() == 0 for c in others)
        page.get_by_role("link", name=part).click()
        assert page.get_by_text(f"{code}（第").is_visible()  # 所属联办件
        form = page.get_by_role("form", name="承办完成，提交审核", exact=True)
        form.get_by_label("承办意见").fill("符合条件")
        form.get_by_role("button", name="承办完成，提交审核", exact=True).click()
        page.get_by_role("status").filter(has_text="承办意见已提交").wait_for()
        sign_out(page)
        assert node.api.case(part, f"{dept}-handler")["stage"]["kind"] == "review"
    # the window's page of the joint case follows the parts by itself: a review done meanwhile shows
    sign_in(page, node, "clerk")
    page.goto(f"{node.url}/staff/window/cases/{code}")
    steps = page.locator("#live-history .timeline li")
    expect(steps.first).to_be_visible()
    before = steps.count()
    mark_document(page)
    node.api.fire(parts["330105-XK-JJ-001"], "review", "jj-reviewer", opinion="同意")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if f"/staff/window/cases/{code}" in r.url else None)
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(steps).to_have_count(before + 1)
    assert same_document(page)
    assert len(asked) == 1, asked  # the parts and the history come back in one answer
    sign_out(page)
    assert page.js_errors == []



def test_walk_in_intake_notice_then_accept(page, node, tmp_path):
    """窗口收件: pick the item, fill the applicant, upload scans; the check lists what is missing
    (一次性告知) before submitting; then submitted and accepted at once."""
    from tests.support import SIGN_MATERIALS, material_bytes

    files = {}
    for m, k in SIGN_MATERIALS.items():
        f = tmp_path / f"{m}.{k}"
        f.write_bytes(material_bytes(k, m + "walk-in"))
        files[m] = f
    sign_in(page, node, "clerk")
    page.get_by_role("link", name="窗口收件").click()
    page.get_by_label("办理事项").select_option(SIGN_ITEM)
    page.get_by_role("button", name="下一步", exact=True).click()
    page.get_by_label("申请人姓名").fill("王五")
    page.get_by_label("证件号码").fill(ID_NUMBER)
    page.get_by_label("联系电话").fill("13900000000")
    page.get_by_label("申请表").set_input_files(str(files["application"]))
    page.get_by_label("店招店牌设计效果图").set_input_files(str(files["design"]))
    page.get_by_role("button", name="检查材料（一次性告知）", exact=True).click()
    notice = page.get_by_role("status").filter(has_text="一次性告知")
    assert "设置位置现状照片" in notice.inner_text() and "店招店牌设计效果图" not in notice.inner_text()
    shot(page, "window-intake-notice")
    page.emulate_media(media="print")  # printed: the notice only, not the form
    assert notice.is_visible() and not page.get_by_label("申请人姓名").is_visible()
    assert not page.get_by_role("button", name="打印一次性告知书", exact=True).is_visible()
    page.emulate_media(media="screen")
    page.get_by_label("申请人身份证明").set_input_files(str(files["id"]))
    page.get_by_label("设置位置现状照片").set_input_files(str(files["site-photo"]))
    page.get_by_label("房屋产权人同意设置的证明").set_input_files(str(files["owner-consent"]))
    page.get_by_label("材料齐全，当场受理").check()
    page.get_by_role("button", name="提交申请", exact=True).click()
    page.get_by_role("heading", name="受理通知书").wait_for()
    code = page.url.split("/cases/")[1].split("/")[0]
    got = node.api.case(code)
    assert got["status"] == "in_progress" and got["channel"] == "window" and len(got["materials"]) == 5
    assert page.js_errors == []
