"""The public pages speak Chinese and mask personal data."""
import pytest

from tests.support import ID_NUMBER, SIGN_ITEM

pytestmark = pytest.mark.integration


def test_guide_pages(api):
    r = api.c.get("/")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "办事指南" in page and SIGN_ITEM in page
    r = api.c.get(f"/items/{SIGN_ITEM}")
    page = r.get_data(as_text=True)
    assert "申请材料" in page and "店招店牌设计效果图" in page and "5 个工作日" in page
    assert api.c.get("/items/NOPE-0000").status_code == 404
    assert "没有符合条件" in api.c.get("/?q=不存在的事项").get_data(as_text=True)


def test_track_page_masks_and_checks_the_code(api):
    code = api.apply_online()
    api.to_conclusion(code)
    page = api.c.post("/track", data={"code": code, "id_last4": "002X"}).get_data(as_text=True)
    assert "已办结" in page and "准予许可" in page and "张*明" in page and "1101**********002X" in page
    assert ID_NUMBER not in page and "张三明" not in page
    r = api.c.post("/track", data={"code": code, "id_last4": "0000"})
    assert r.status_code == 404 and "未查到" in r.get_data(as_text=True)
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert "有误" in api.c.post("/track", data={"code": typo, "id_last4": "002X"}).get_data(as_text=True)
    form = api.c.get(f"/track?code={code}").get_data(as_text=True)
    assert 'method="post"' in form and code in form  # the ID tail is posted, never put in the address
