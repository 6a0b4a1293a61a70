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
