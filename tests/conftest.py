"""Shared fixtures: a small region tree and people made through the public api."""

import pytest

from lms import api
from lms.models import Region, Role


@pytest.fixture
def regions(db):
    """浙江省 → 杭州市 (西湖区, 上城区), 宁波市 (北仑区)."""
    api.import_regions(None, [
        api.RegionRow(province="浙江省", code="330000", year=2020, population=64567588),
        api.RegionRow(province="浙江省", city="杭州市", county="西湖区", year=2020, population=1000000),
        api.RegionRow(province="浙江省", city="杭州市", county="上城区", year=2020, population=900000),
        api.RegionRow(province="浙江省", city="宁波市", county="北仑区", year=2020, population=800000),
    ])
    zj = Region.get_root_nodes().get(name="浙江省")
    hz = zj.get_children().get(name="杭州市")
    nb = zj.get_children().get(name="宁波市")
    return {
        "zj": zj, "hz": hz, "nb": nb,
        "xihu": hz.get_children().get(name="西湖区"),
        "shangcheng": hz.get_children().get(name="上城区"),
        "beilun": nb.get_children().get(name="北仑区"),
    }


@pytest.fixture
def make_person(db):
    counter = {"n": 0}

    def make(region, *, roles=(Role.TRAINEE,), admin_of=None, password="pw-Secret-123", **kwargs):
        counter["n"] += 1
        n = counter["n"]
        user = api.create_person(
            None, username=kwargs.pop("username", f"user{n}"), real_name=kwargs.pop("real_name", f"测试{n}"),
            region=region, password=password, roles=roles, **kwargs,
        )
        if admin_of is not None:
            api.assign_role(None, user, Role.REGION_ADMIN, region=admin_of)
        return user

    return make


@pytest.fixture(autouse=True)
def _privacy_consent_not_asked(settings):
    """People made by tests have not agreed to the privacy notice; only tests/lms/test_privacy.py (which
    turns this back on) is about that. Servers started by tests (browser, end-to-end) do ask: the demo
    logins they use have agreed."""
    settings.LMS_PRIVACY_CONSENT_REQUIRED = False


@pytest.fixture(scope="session")
def _media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _uploads_in_a_test_folder(settings, _media_root):
    """Uploads (photos, the demo course's images and video) go to a folder of the test run, never to var/media."""
    settings.MEDIA_ROOT = _media_root


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Password hashing is deliberately slow; tests exercise logins, not the hasher."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Close connections after each use in tests: the WebSocket tests run database code in worker
    threads, whose kept-open connections would otherwise outlive the test database."""
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    connections.settings["default"]["CONN_MAX_AGE"] = 0  # what each worker thread's connection is made from
    connections["default"].settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="module")
def demo_once(django_db_setup, django_db_blocker, _media_root):
    """``load_demo`` once for a whole test module, inside a transaction rolled back after the module.

    Each test that asks for ``demo`` runs in a savepoint of that transaction (pytest-django's ``db``),
    so what a test changes is gone before the next, as with a demo loaded per test, at the cost of one
    load (about 12 s) per module instead of one per test. The settings the function-scoped fixtures
    set are set here too, for the load: uploads in the run's folder and the fast password hasher."""
    from django.core.management import call_command
    from django.db import transaction
    from django.test import override_settings

    with django_db_blocker.unblock(), override_settings(
            MEDIA_ROOT=_media_root, PASSWORD_HASHERS=FAST_HASHERS):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("load_demo", stdout=open("/dev/null", "w"))
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(demo_once, db):
    """The demo data (``demo_once``) for one test, its changes rolled back after it."""
