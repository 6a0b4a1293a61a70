"""Pages a person sees: home, login, the dashboard of each role, in Chinese by default."""

import io

import pytest
from django.core.management import call_command

from lms import demo


@pytest.fixture
def demo_data(demo):
    """The demo, loaded once for this module (``tests/conftest.py``: ``demo_once``)."""


def test_home_page_is_chinese(demo_data, client):
    html = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "红十字应急救护培训" in html and "登录" in html


def test_demo_loader_is_idempotent_and_complete(demo_data):
    from lms.models import Region, User

    out = io.StringIO()
    call_command("load_demo", stdout=out)
    # The printed logins are every demo person who can sign in, those of the later modules too.
    printed = {line.split()[0] for line in out.getvalue().split("Demo logins", 1)[1].splitlines()[1:] if line.strip()}
    can_sign_in = set(User.objects.exclude(password__startswith="!").values_list("username", flat=True))
    assert printed == can_sign_in and {"holder", "exam_done", "graduate"} <= printed
    assert Region.objects.filter(level="city").count() == 11
    assert Region.objects.filter(level="county").count() == 90
    assert User.objects.filter(username__in=[d.username for d in demo.DEMO_USERS]).count() == len(demo.DEMO_USERS)
    zj = Region.objects.get(level="province")
    assert zj.population(2020).population == sum(
        c.population(2020).population for c in zj.get_children())


def test_wrong_password_gets_a_clear_chinese_message(demo_data, client):
    resp = client.post("/login/", {"username": "trainee", "password": "nope"})
    assert resp.status_code == 200
    assert "用户名或密码" in resp.content.decode() or "登录名或密码" in resp.content.decode()


@pytest.mark.parametrize("login,expected", [
    ("trainee", "我的培训"),
    ("instructor", "我的资料"),
    ("examiner", "我的资料"),
    ("inspector", "我的资料"),
    ("xihu_admin", "西湖区"),
    ("hz_admin", "杭州市"),
    ("admin", "系统管理"),
])
def test_each_role_logs_in_and_sees_its_dashboard(demo_data, client, login, expected):
    resp = client.post("/login/", {"username": login, "password": demo.DEMO_PASSWORD}, follow=True)
    assert resp.redirect_chain[-1][0] == "/dashboard/"
    html = resp.content.decode()
    assert expected in html
    assert "Dashboard" not in html  # Chinese interface


def test_english_through_the_language_switch(demo_data, client):
    client.post("/login/", {"username": "trainee", "password": demo.DEMO_PASSWORD})
    client.post("/i18n/setlang/", {"language": "en", "next": "/dashboard/"})
    html = client.get("/dashboard/").content.decode()
    assert "My profile" in html and "我的资料" not in html


def test_region_admin_dashboard_counts_only_their_region(demo_data, client):
    client.post("/login/", {"username": "xihu_admin", "password": demo.DEMO_PASSWORD})
    html = client.get("/dashboard/").content.decode()
    assert "浙江省杭州市西湖区" in html
    client.logout()
    client.post("/login/", {"username": "trainee_nb", "password": demo.DEMO_PASSWORD})
    assert client.get("/people/").status_code == 403


def test_wagtail_admin_is_for_system_admins(demo_data, client):
    client.post("/login/", {"username": "admin", "password": demo.DEMO_PASSWORD})
    assert client.get("/admin/").status_code == 200
    client.logout()
    client.post("/login/", {"username": "xihu_admin", "password": demo.DEMO_PASSWORD})
    assert client.get("/admin/").status_code in (302, 403)
    client.logout()
    # A province admin enters it for the question bank (exams.auth), and sees the bank and nothing else.
    client.post("/login/", {"username": "zj_admin", "password": demo.DEMO_PASSWORD})
    html = client.get("/admin/").content.decode()
    assert "/admin/exam-bank/questions/" in html
    assert "在用试题 263 道，已停用 0 道。" in html and "救护员取证理论考试" in html  # the home page's bank panel
    for elsewhere in ("/admin/pages/", "/admin/images/", "/admin/documents/", "/admin/users/"):
        assert client.get(elsewhere).status_code in (302, 403), elsewhere
    assert client.get("/admin/exam-bank/questions/").status_code == 200


def test_demo_regions_have_division_codes_in_order_and_demo_figures_say_so(demo_data, client):
    from lms.models import Region, RegionPopulation

    counties = Region.objects.filter(level="county")
    assert not counties.filter(code="").exists()
    for parent in Region.objects.filter(level__in=("province", "city")):
        codes = [c.code for c in parent.get_children()]
        assert codes == sorted(codes) and all(c[:4] == parent.code[:4] or parent.level == "province" for c in codes)
    xihu = Region.objects.get(name="西湖区")
    assert xihu.code == "330106"
    assert xihu.population(2020).is_demo and xihu.population(2020).basis == RegionPopulation.Basis.RESIDENT
    assert not Region.objects.get(name="杭州市").population(2020).is_demo
    client.login(username="admin", password=demo.DEMO_PASSWORD)
    page = client.get("/regions/").content.decode()
    assert "常住人口" in page and "户籍人口" not in page.split("<tbody>")[1]
    assert page.count(">演示<") == 90  # every county figure is marked as a demo figure
    assert "11,936,010" in page  # thousands separators
    assert page.index("上城区") < page.index("拱墅区") < page.index("西湖区") < page.index("建德市")


@pytest.mark.parametrize("login,label", [
    ("zj_admin", "常住人口（2020年）</"),
    ("xihu_admin", "常住人口（2020年），含演示数字</"),
])
def test_the_region_dashboard_names_the_population_basis_and_demo_figures(demo_data, client, login, label):
    client.login(username=login, password=demo.DEMO_PASSWORD)
    page = client.get("/dashboard/").content.decode()
    assert label in page


@pytest.mark.parametrize("login,urls", [
    ("xihu_admin", ["/dashboard/", "/people/", "/people/new/", "/organisations/", "/regions/"]),
    ("examiner", ["/dashboard/", "/rooms/", "/rooms/1/", "/rooms/1/history/"]),
    ("trainee", ["/dashboard/", "/my/data/", "/privacy/"]),
])
def test_the_english_interface_reads_as_english(demo_data, client, login, urls):
    """Headings of columns, labels, buttons and the footer are English; Chinese left is data (names, places)."""
    import re

    client.post("/login/", {"username": login, "password": demo.DEMO_PASSWORD})
    client.post("/i18n/setlang/", {"language": "en", "next": "/dashboard/"})
    for url in urls:
        html = client.get(url).content.decode()
        html = re.sub(r"<select\b.*?</select>", "", html, flags=re.S)  # choices are data (regions, organisations)
        chrome = re.findall(r"<(th|label|button|footer|dt)\b[^>]*>(.*?)</\1>", html, flags=re.S)
        assert chrome, url
        chinese = [re.sub(r"<[^>]+>", "", text).strip() for _tag, text in chrome
                   if re.search(r"[\u4e00-\u9fff]", re.sub(r"<[^>]+>", "", text))]
        # The language switch names Chinese in Chinese (中文), as language pickers do.
        assert [c for c in chinese if c != "中文"] == [], (url, chinese)
        assert "First-aid training" in html


def test_masked_numbers_on_the_dashboard_do_not_wrap_mid_number(demo_data, client):
    import re

    client.login(username="xihu_admin", password=demo.DEMO_PASSWORD)
    html = client.get("/dashboard/").content.decode()
    cells = re.findall(r'<div class="wide"><dt>([^<]+)</dt><dd class="nowrap mono">([^<]+)</dd>', html)
    assert [label for label, _value in cells] == ["身份证号", "手机号"]
    assert all("*" in value for _label, value in cells)
