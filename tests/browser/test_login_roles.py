"""In a real browser on a phone-sized screen: each demo role logs in and sees its Chinese dashboard."""

import pytest

from lms.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

EXPECTED = {
    "trainee": ["我的培训", "我的资料", "学员"],
    "trainee_nb": ["我的培训", "宁波市北仑区"],
    "instructor": ["我的资料", "救护师资"],
    "examiner": ["我的资料", "考官"],
    "inspector": ["我的资料", "督导"],
    "xihu_admin": ["我的辖区：浙江省杭州市西湖区", "人员"],
    "hz_admin": ["我的辖区：浙江省杭州市", "行政区划与人口"],
    "zj_admin": ["我的辖区：浙江省"],
    "admin": ["系统管理", "内容管理后台"],
}


@pytest.mark.parametrize("login", list(EXPECTED))
def test_each_role_sees_its_dashboard(page, live_server_proc, login, tmp_path_factory):
    page.goto(live_server_proc.url + "/")
    page.get_by_role("link", name="登录").first.click()
    page.fill("#id_username", login)
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard/")
    body = page.inner_text("body")
    for text in EXPECTED[login]:
        assert text in body, f"{login}: {text!r} not on the dashboard"
    assert page.evaluate("document.documentElement.lang") == "zh-hans"
    # nothing overflows a phone's width
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / f"dashboard-{login}.png"), full_page=True)
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(live_server_proc.url + "/")
    assert "登录" in page.inner_text("header")


def test_wrong_password_is_explained(page, live_server_proc):
    page.goto(live_server_proc.url + "/login/")
    page.fill("#id_username", "trainee")
    page.fill("#id_password", "wrong")
    page.get_by_role("button", name="登录").click()
    assert "登录名或密码错误" in page.inner_text("main")
