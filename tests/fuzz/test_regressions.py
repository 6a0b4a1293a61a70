"""The bugs the fuzz tests found, each kept as a plain regression test (fixed in the product code)."""

from __future__ import annotations

import io
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from courses.roster import read_table
from exams.xlsx import COLUMNS, read_sheet
from lms import api as lms_api

from .conftest import assert_chinese_message, xlsx_bomb, xlsx_broken_sheet, xlsx_bytes

ROSTER_HEADER = ["姓名", "身份证号", "手机号"]
REGION_HEADER = ["省", "市", "县", "区划代码", "年份", "户籍人口"]


@pytest.mark.parametrize("read,header", [
    (lambda data: read_table(data, "roster.xlsx"), ROSTER_HEADER),
    (read_sheet, COLUMNS),
    (lambda data: lms_api.parse_region_xlsx(io.BytesIO(data)), REGION_HEADER),
], ids=["roster", "exam-bank", "regions"])
def test_a_zip_bomb_workbook_is_refused_before_it_is_unpacked(read, header):
    """A 70 KB workbook unpacking to 64 MB kept a server process busy for minutes (187 s for a roster on the
    CI machine); it is now refused from the zip's directory alone."""
    bomb = xlsx_bomb(header)
    assert len(bomb) < 200_000
    started = time.monotonic()
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        read(bomb)
    print(f"refused in {time.monotonic() - started:.3f} s")
    assert exc.value.messages == ["此工作簿解压后过大，请上传较小的文件。"]


@pytest.mark.parametrize("read,header", [
    (lambda data: read_table(data, "roster.xlsx"), ROSTER_HEADER),
    (read_sheet, COLUMNS),
    (lambda data: lms_api.parse_region_xlsx(io.BytesIO(data)), REGION_HEADER),
], ids=["roster", "exam-bank", "regions"])
def test_a_workbook_whose_sheet_breaks_off_is_refused_in_chinese(read, header):
    """A sheet whose XML is damaged after its first row raised openpyxl's own error (a server error) while the
    rows were read; it is now "this file could not be read as an Excel workbook"."""
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        read(xlsx_broken_sheet(header))
    for message in exc.value.messages:
        assert_chinese_message(message)


def test_a_region_year_of_1e999_is_a_row_error_not_a_crash(db):
    data = xlsx_bytes([["浙江省", "杭州市", "西湖区", "", "1e999", "100"]], header=REGION_HEADER)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        lms_api.parse_region_xlsx(io.BytesIO(data))
    assert exc.value.messages == ["第 2 行：年份和人口必须是数字。"]
    for message in exc.value.messages:
        assert_chinese_message(message)


def test_a_region_workbook_larger_than_5_mb_is_refused_unread(db):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        lms_api.parse_region_xlsx(io.BytesIO(b"PK\x03\x04" + b"\x00" * (lms_api.REGION_XLSX_MAX_BYTES + 1)))
    assert exc.value.messages == ["文件超过 5 MB。"]
