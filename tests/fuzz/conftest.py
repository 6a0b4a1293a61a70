"""Bad input everywhere: shared strategies, files that are not what they claim, and the checks every
rejection must pass (a clear Chinese message, nothing stored changed).

Every fuzz test runs its examples against fixtures made once per test: each example runs inside a
transaction that is rolled back after it (``rolled_back``), so the next starts from the same data, and the
snapshot taken before each example is compared with the one after it (``snapshot``)."""

from __future__ import annotations

import functools
import hashlib
import html
import io
import re
import zipfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Modest, reproducible runs: the same examples on every CI run (derandomize), no per-example deadline (the
# machine is shared); fixtures are made once per test and each example rolls its changes back.
FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
FUZZ_FEW = settings(FUZZ, max_examples=10)

_CJK = re.compile(r"[\u3400-\u9fff]")
_ENGLISH_WORD = re.compile(r"\b[A-Za-z]{4,}\b")
# English words that may stand in a Chinese message: file types and names the message quotes.
_ALLOWED_WORDS = {"xlsx", "XLSX", "Excel", "JPEG", "jpeg", "CSV", "csv", "text", "json", "JSON", "True", "False",
                  "None"}


def assert_chinese_message(message: str, *, quoted: str = "") -> None:
    """``message`` is a clear rejection in Chinese: not empty, mostly Chinese (the English words left are
    file types or the user's own input, ``quoted``), no traceback or exception class name."""
    assert isinstance(message, str) and message.strip(), f"empty message: {message!r}"
    text = message.replace(quoted, "") if quoted else message
    for bad in ("Traceback", "Exception", "Error:", "error:", "errno", "object has no attribute", "NoneType"):
        assert bad not in text, f"not a message for people: {message!r}"
    assert _CJK.search(text), f"not Chinese: {message!r}"
    english = [w for w in _ENGLISH_WORD.findall(text) if w not in _ALLOWED_WORDS]
    cjk = len(_CJK.findall(text))
    assert len(english) <= max(2, cjk // 8), f"English words in a Chinese message ({english}): {message!r}"


def form_errors(page: str, classes: tuple[str, ...] = ("errorlist", "error")) -> list[str]:
    """The texts of a page's error lists: ``<ul>`` elements whose class starts with one of ``classes``."""
    out = []
    pattern = r'<ul class="(?:' + "|".join(map(re.escape, classes)) + r')[^"]*"[^>]*>(.*?)</ul>'
    for block in re.findall(pattern, page, flags=re.S):
        out += [html.unescape(re.sub(r"<[^>]+>", "", li)).strip() for li in re.findall(r"<li>(.*?)</li>", block,
                                                                                      flags=re.S)]
    return [m for m in out if m]


def media_files() -> dict[str, str]:
    """Every file under MEDIA_ROOT with its SHA-256."""
    root = Path(django_settings.MEDIA_ROOT)
    out = {}
    if root.exists():
        for path in root.rglob("*"):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def snapshot(*models, media: bool = True) -> dict:
    """What is stored: every row (all fields) of each model, and the media files."""
    out = {}
    for model in models:
        out[model._meta.label] = sorted((tuple(sorted((k, repr(v)) for k, v in row.items()))
                                         for row in model.objects.values()), key=repr)
    if media:
        out["media"] = media_files()
    return out


def assert_unchanged(before: dict, after: dict) -> None:
    for key in before:
        if before[key] != after[key]:
            added = [r for r in after[key] if r not in before[key]] if not isinstance(before[key], dict) else \
                sorted(set(after[key]) ^ set(before[key]))
            raise AssertionError(f"{key} changed: {len(before[key])} -> {len(after[key])}; new or changed: "
                                 f"{added[:3]}")


@contextmanager
def rolled_back():
    """One example's changes, rolled back after it (the test's own fixtures stay)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# ---------------------------------------------------------------- files that are not what they say


def png_bytes(size=(8, 8)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(size=(8, 8)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 120, 10)).save(buf, "JPEG")
    return buf.getvalue()


def xlsx_bytes(rows, header=None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if header is not None:
        ws.append(header)
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_BOMB_UNPACKED = 64 * 1024 * 1024


def xlsx_bomb(header) -> bytes:
    """A small valid workbook whose first sheet unpacks to 64 MB (a comment of spaces): a zip bomb."""
    return _xlsx_bomb(tuple(header))


@functools.lru_cache(maxsize=8)
def _xlsx_bomb(header: tuple) -> bytes:
    good = xlsx_bytes([], header=list(header))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, tail = data.split(b"<sheetData", 1)
                data = head + b"<!--" + b" " * _BOMB_UNPACKED + b"-->" + b"<sheetData" + tail
            dst.writestr(info.filename, data)
    return out.getvalue()


def xlsx_broken_sheet(header) -> bytes:
    """A workbook whose zip and workbook are fine but whose first sheet's XML breaks off after the header row:
    the damage shows only while the rows are read."""
    good = xlsx_bytes([], header=header)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.split(b"</row>", 1)[0] + b"</row><row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>x"
            dst.writestr(info.filename, data)
    return out.getvalue()


def png_bomb() -> bytes:
    """A tiny PNG that claims 30000 × 30000 pixels (a decompression bomb): a valid header, a truncated body."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def not_what_they_claim(header=None) -> list[tuple[str, bytes]]:
    """(name, bytes): files whose name or contents lie, damaged files and bombs."""
    good_xlsx = xlsx_bytes([["x"] * len(header or ["a"])], header=header or ["a"])
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "not a workbook")
    return [
        ("empty.xlsx", b""),
        ("picture.xlsx", png_bytes()),
        ("photo.xlsx", jpeg_bytes()),
        ("page.xlsx", b"<!doctype html><html><body><script>alert(1)</script></body></html>"),
        ("doc.xlsx", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
        ("archive.xlsx", other_zip.getvalue()),
        ("truncated.xlsx", good_xlsx[: len(good_xlsx) // 2]),
        ("tail-cut.xlsx", good_xlsx[:-30]),
        ("bomb.xlsx", xlsx_bomb(header or ["a"])),
        ("broken-sheet.xlsx", xlsx_broken_sheet(header or ["a"])),
        ("random.xlsx", bytes(range(256)) * 8),
        ("latin1.csv", "Nom,Prénom\nJosé,Müller\n".encode("latin-1") + b"\xff\xfe\x00\x81"),
        ("utf16.csv", "姓名,身份证号\n".encode("utf-16")),
        ("nul.csv", b"a,b\x00c\n"),
    ]


binary_junk = st.binary(min_size=1, max_size=2048)
text_junk = st.text(max_size=300)
# Cells as people type them, and as attackers do: formulas, very long text, control characters, numbers.
bad_cell = st.one_of(
    st.none(), st.text(max_size=40), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.sampled_from(["=cmd|' /C calc'!A0", "=1+1", "+SUM(A1)", "-2+3", "@SUM(1)", "=HYPERLINK(\"http://x\")",
                     "　", "\u202e", "x" * 400, "１２３", "330106199001010", "13900000000", "对", "错", "A", "AC"]),
)


# The exams tests' makers (a course with modules, a bank, a blueprint, people), shared with these tests.
from tests.exams.conftest import (bank_admin, base, exam, exam_course, exam_trainee, make_bank,  # noqa: E402,F401
                                  make_blueprint, make_question)
