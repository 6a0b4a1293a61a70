"""The Wagtail admin editors use: Chinese wherever Wagtail has translations, and time zones that exist."""

import pytest
from django.test import Client

from lms.models import User


@pytest.fixture
def editor_client(db):
    u = User.objects.create_superuser("tzadmin", password="x-Long-pass-1")
    c = Client()
    c.force_login(u)
    return c


def test_account_page_offers_only_real_zones(editor_client):
    r = editor_client.get("/admin/account/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "Asia/Shanghai" in body and "localtime" not in body


@pytest.mark.parametrize("url,words", [
    ("/admin/", ["工作台", "网站摘要", "跳到主要内容"]),
    ("/admin/account/", ["个人资料", "首选语言", "当前时区", "保存"]),
])
def test_the_admin_speaks_chinese_by_default(editor_client, url, words):
    body = editor_client.get(url).content.decode()
    assert '<html lang="zh-hans"' in body
    assert all(w in body for w in words), [w for w in words if w not in body]
    assert ">Dashboard<" not in body and ">Skip to main content<" not in body
