"""Every interface string has its Chinese translation (checked with gettext's own msgfmt)."""

import shutil
import subprocess
from pathlib import Path

import pytest

PO = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext is installed by `make test`")
def test_chinese_catalogue_is_complete_and_valid():
    out = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    stats = out.stderr.strip()
    assert "translated message" in stats
    assert "untranslated" not in stats and "fuzzy" not in stats, stats


def test_compiled_catalogue_is_not_older_than_its_source():
    mo = PO.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= PO.stat().st_mtime - 1


@pytest.mark.django_db
@pytest.mark.parametrize("query,location,cookie", [
    ("language=en&next=/courses/", "/courses/", "en"),
    ("language=zh-hans&next=/study/", "/study/", "zh-hans"),
    ("language=en&next=https://evil.example/", "/", "en"),  # never off the site
    ("language=xx&next=/courses/", "/courses/", None),  # an unknown language changes nothing
])
def test_the_language_link_sets_the_cookie_and_returns_to_the_page(client, query, location, cookie):
    response = client.get(f"/language/?{query}")
    assert response.status_code == 302 and response["Location"] == location
    if cookie:
        assert response.cookies["django_language"].value == cookie
    else:
        assert "django_language" not in response.cookies
