import re
from pathlib import Path
from tests.instructors.test_studios import *  # noqa
from tests.instructors.test_studios import _client

def _inline(html):
    css = Path("lms/static/lms/site.css").read_text() + Path("instructors/static/instructors/studios.css").read_text()
    html = re.sub(r'<link rel="stylesheet"[^>]*>', "", html)
    return html.replace("</head>", f"<style>{css}</style></head>")

def test_shot(db, courses):
    from lms import demo as lms_demo
    from instructors import demo_studios
    from lms.models import User
    lms_demo.load()
    programme = Programme.objects.create(code="first-aider", name="救护员取证培训", kind=Programme.Kind.FIRST_AIDER,
                                         required_class_hours=Decimal(16))
    for rank, code in enumerate(demo_studios.TIERS, start=1):
        tier_for(programme, code=code, rank=rank)
    Blueprint.objects.create(programme=programme, name="救护员理论考试", time_limit_s=2700)
    demo_studios.load()
    admin = User.objects.get(username="xihu_admin")
    pages = {"list": (None, "/studios/"), "detail": (None, "/studios/wangfang/"),
             "manage": (admin, "/studios/manage/"), "members": (admin, "/studios/manage/wangfang/members/"),
             "showcase": (User.objects.get(username="instructor"), "/studios/manage/wangfang/showcase/"),
             "edit": (admin, "/studios/manage/wangfang/"), "new": (admin, "/studios/manage/new/")}
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        pg = b.new_context(viewport={"width": 390, "height": 844}).new_page()
        for name, (user, url) in pages.items():
            resp = _client(user).get(url)
            assert resp.status_code == 200, (url, resp.status_code)
            pg.set_content(_inline(resp.content.decode()))
            pg.screenshot(path=f"/tmp/studio_{name}.png", full_page=True)
            w = pg.evaluate("document.documentElement.scrollWidth")
            print(name, "scrollWidth", w)
        b.close()
