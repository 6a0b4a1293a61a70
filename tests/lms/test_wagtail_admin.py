import pytest
from django.test import Client
from lms.models import User

@pytest.mark.django_db
def test_account_page_offers_only_real_zones():
    u = User.objects.create_superuser("tzadmin", password="x-Long-pass-1")
    c = Client(); c.force_login(u)
    r = c.get("/admin/account/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "Asia/Shanghai" in body and "localtime" not in body
