"""Question bank import and export as XLSX (one sheet, one question per row).

Columns (the first row names them; order free, 选项C…选项E and 标签 optional):

    编号 | 模块 | 题型 | 难度 | 题干 | 选项A | 选项B | 选项C | 选项D | 选项E | 答案 | 解析 | 标签

- 编号: the question code (e.g. JHY-CPR-001); a code already in the bank updates that question.
- 模块: the slug of the module page (ModulePage) on the course site.
- 题型: 单选, 多选 or 判断. 难度: 易, 中 or 难.
- 答案: option letters for choice questions ("B", "AC"); 对 or 错 for 判断 (its options may be left empty).
- 标签: tags separated by 、.

``import_questions`` checks every row first and returns each bad row with its row number and
reasons; nothing is stored while any row is bad unless ``good_rows_only`` is given, in which case
the good rows are saved and the bad ones left out. Rows go through ``save_question``: the same
code with the same content changes nothing (importing a file twice, or importing an export, is a
no-op), a used version is never changed (a new version is made). ``export_questions`` writes the
same columns.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Upper
from django.utils.translation import gettext as _

from lms import audit
from lms.cells import check_xlsx_unpacked_size

from .models import MAX_OPTIONS, Difficulty, Kind, Question
from .questions import clean_code, clean_content, content_of, require_bank_manager, save_question

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
LETTERS = "ABCDE"[:MAX_OPTIONS]
OPTION_COLUMNS = [f"选项{c}" for c in LETTERS]
COLUMNS = ["编号", "模块", "题型", "难度", "题干", *OPTION_COLUMNS, "答案", "解析", "标签"]
REQUIRED = ["编号", "模块", "题型", "难度", "题干", "答案", "解析"]
KIND_NAMES = {"单选": Kind.SINGLE, "多选": Kind.MULTIPLE, "判断": Kind.TRUE_FALSE}
KIND_LABELS = {v: k for k, v in KIND_NAMES.items()}
DIFFICULTY_NAMES = {"易": Difficulty.EASY, "中": Difficulty.MEDIUM, "难": Difficulty.HARD}
DIFFICULTY_LABELS = {v: k for k, v in DIFFICULTY_NAMES.items()}
TRUE_NAMES = {"对", "正确", "√", "T", "TRUE", "是"}
FALSE_NAMES = {"错", "错误", "×", "F", "FALSE", "否"}
TAG_SEPARATOR = "、"


@dataclass
class ImportRow:
    number: int  # the row number in the sheet (the header is row 1)
    code: str = ""
    errors: list[str] = field(default_factory=list)
    status: str = ""  # created, changed, versioned, unchanged, skipped (bad, left out) or rejected (bad)
    fields: dict = field(default_factory=dict)
    question: Question | None = None

    @property
    def bad(self) -> bool:
        return bool(self.errors)


@dataclass
class ImportResult:
    rows: list[ImportRow]
    imported: bool  # False: a row was bad and nothing was stored

    @property
    def bad_rows(self) -> list[ImportRow]:
        return [r for r in self.rows if r.bad]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


# ---------------------------------------------------------------- reading


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "对" if value else "错"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_sheet(data: bytes) -> list[list[str]]:
    """The rows of the first sheet as strings; ``ValidationError`` when it is not a usable XLSX file."""
    from openpyxl import load_workbook

    if not data:
        raise ValidationError(_("The file is empty."))
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(_("The file is larger than %(mb)s MB.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)})
    if not data.startswith(b"PK\x03\x04") or not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx)."))
    check_xlsx_unpacked_size(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged or non-XLSX zips
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    try:
        out = []
        for values in wb.worksheets[0].iter_rows(values_only=True):
            out.append([_cell(v) for v in values])
            if len(out) > MAX_ROWS + 1:
                raise ValidationError(_("The file has more than %(n)s questions. Split it into several files.")
                                      % {"n": MAX_ROWS})
        return out
    except ValidationError:
        raise
    except Exception as exc:  # a damaged sheet shows only as its rows are read
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    finally:
        wb.close()


def _columns(header: list[str]) -> dict[str, int]:
    names = [re.sub(r"\s+", "", h).upper() for h in header]
    columns = {}
    for col in COLUMNS:
        key = col.upper()
        for i, name in enumerate(names):
            if name == key or name.split("(")[0].split("（")[0] == key:
                columns[col] = i
                break
    missing = [c for c in REQUIRED if c not in columns]
    if missing or "选项A" not in columns:
        raise ValidationError(_("The first row must name the columns %(columns)s; missing: %(missing)s.")
                              % {"columns": " ".join(COLUMNS), "missing": "、".join(missing or ["选项A"])})
    return columns


def _answer(kind: str, text: str, n_options: int, errors: list[str]) -> list[int]:
    text = text.strip().upper()
    if not text:
        errors.append(_("The answer (答案) is empty."))
        return []
    if kind == Kind.TRUE_FALSE:
        if text in TRUE_NAMES:
            return [0]
        if text in FALSE_NAMES:
            return [1]
        errors.append(_("The answer of a true/false question is 对 or 错, not “%(answer)s”.") % {"answer": text})
        return []
    letters = re.sub(r"[\s,，、;；]", "", text)
    if not re.fullmatch(r"[A-Z]+", letters):
        errors.append(_("The answer is option letters such as B or AC, not “%(answer)s”.") % {"answer": text})
        return []
    out = []
    for letter in letters:
        i = ord(letter) - ord("A")
        if i >= n_options:
            errors.append(_("The answer names option %(letter)s, which the row does not have.") % {"letter": letter})
        elif i in out:
            errors.append(_("The answer names option %(letter)s twice.") % {"letter": letter})
        else:
            out.append(i)
    return sorted(out)


def parse_rows(table: list[list[str]], modules: dict[str, list]) -> list[ImportRow]:
    """Every data row with its fields or its errors (``modules``: slug -> ModulePages with that slug)."""
    if not table or not any(table[0]):
        raise ValidationError(_("The first row must name the columns %(columns)s; missing: %(missing)s.")
                              % {"columns": " ".join(COLUMNS), "missing": "、".join(REQUIRED)})
    columns = _columns(table[0])
    rows: list[ImportRow] = []
    first_row_of: dict[str, int] = {}
    for offset, values in enumerate(table[1:], start=2):
        if not any(values):
            continue

        def get(col: str) -> str:
            i = columns.get(col)
            return values[i] if i is not None and i < len(values) else ""

        row = ImportRow(number=offset, code=get("编号"))
        errors = row.errors
        try:
            code = clean_code(get("编号"))
            key = code.upper()
            if key in first_row_of:
                errors.append(_("The code %(code)s is also on row %(row)s of this file.")
                              % {"code": code, "row": first_row_of[key]})
            else:
                first_row_of[key] = offset
        except ValidationError as exc:
            errors.extend(exc.messages)
            code = ""
        slug = get("模块")
        pages = modules.get(slug, [])
        module = None
        if not slug:
            errors.append(_("The module (模块) is empty."))
        elif not pages:
            errors.append(_("Unknown module “%(slug)s”: give the slug of a module page of the course.")
                          % {"slug": slug})
        elif len(pages) > 1:
            errors.append(_("Several module pages have the slug “%(slug)s”; rename one of them.") % {"slug": slug})
        else:
            module = pages[0]
        kind = KIND_NAMES.get(get("题型"), get("题型") if get("题型") in Kind.values else None)
        if kind is None:
            errors.append(_("The kind (题型) is 单选, 多选 or 判断, not “%(kind)s”.") % {"kind": get("题型")})
        difficulty = DIFFICULTY_NAMES.get(get("难度"))
        if difficulty is None:
            errors.append(_("The difficulty (难度) is 易, 中 or 难, not “%(value)s”.") % {"value": get("难度")})
        options = [get(c) for c in OPTION_COLUMNS]
        while options and not options[-1]:
            options.pop()
        if kind == Kind.TRUE_FALSE and not options:
            options = ["正确", "错误"]
        correct = _answer(kind, get("答案"), len(options), errors) if kind else []
        tags = [t.strip() for t in re.split(r"[、,，;；]", get("标签")) if t.strip()]
        if kind is not None and difficulty is not None:
            try:
                content = clean_content(kind=kind, difficulty=difficulty, stem=get("题干"), options=options,
                                        correct=correct, explanation=get("解析"), tags=tags)
            except ValidationError as exc:
                errors.extend(m for m in exc.messages if m not in errors)
                content = {}
        else:
            content = {}
            if not get("解析"):
                errors.append(_("Every question needs an explanation."))
        if not errors:
            row.code = code
            row.fields = {"code": code, "module": module, **content}
        rows.append(row)
    if not rows:
        raise ValidationError(_("The file has no questions below its first row."))
    return rows


# ---------------------------------------------------------------- importing


def _modules_by_slug() -> dict[str, list]:
    from content.models import ModulePage

    out: dict[str, list] = {}
    for page in ModulePage.objects.all():
        out.setdefault(page.slug, []).append(page)
    return out


def import_questions(actor, fileobj, *, good_rows_only: bool = False, file_name: str = "") -> ImportResult:
    """Import an XLSX file of questions (see the module docstring); audited as ``exams.questions_imported``.

    ``PermissionDenied`` when ``actor`` may not manage the bank; ``ValidationError`` (nothing stored)
    when the file itself is unusable (not XLSX, too large, no header row, no questions).
    """
    require_bank_manager(actor)
    data = fileobj.read(MAX_FILE_BYTES + 1) if hasattr(fileobj, "read") else bytes(fileobj)
    rows = parse_rows(read_sheet(data), _modules_by_slug())
    bad = [r for r in rows if r.bad]
    if bad and not good_rows_only:
        for r in rows:
            r.status = "rejected" if r.bad else ""
        return ImportResult(rows=rows, imported=False)
    with transaction.atomic():
        codes = [r.code.upper() for r in rows if not r.bad]
        existing = {q.code.upper(): q for q in Question.objects.annotate(code_upper=Upper("code")).filter(
            code_upper__in=codes).select_related("current")}
        for r in rows:
            if r.bad:
                r.status = "skipped"
                continue
            q = existing.get(r.code.upper())
            before = (content_of(q.current), q.current_id, q.code, q.module_id) if q and q.current else None
            v = save_question(actor, question=q, **r.fields)
            r.question = v.question
            if before is None:
                r.status = "created"
            elif v.pk != before[1]:
                r.status = "versioned"
            elif before != (content_of(v), v.pk, v.question.code, v.question.module_id):
                r.status = "changed"
            else:
                r.status = "unchanged"
        result = ImportResult(rows=rows, imported=True)
        audit.record(actor, "exams.questions_imported", None, object_type="exams.question",
                     object_repr=(file_name or getattr(fileobj, "name", "") or "questions.xlsx")[:255],
                     after={"rows": len(rows), "bad": len(bad), "good_rows_only": good_rows_only,
                            **{s: result.count(s) for s in ("created", "changed", "versioned", "unchanged")}})
    return result


# ---------------------------------------------------------------- exporting


def answer_text(version) -> str:
    if version.kind == Kind.TRUE_FALSE:
        return "对" if version.correct == [0] else "错"
    return "".join(LETTERS[i] for i in version.correct)


def export_questions(questions=None) -> bytes:
    """The questions (default: the whole bank) as an XLSX file with the import's columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    if questions is None:
        questions = Question.objects.all()
    questions = questions.select_related("current", "module").order_by("code")
    wb = Workbook()
    ws = wb.active
    ws.title = "题库"
    ws.append(COLUMNS)
    for c in ws[1]:
        c.font = Font(bold=True)
    for q in questions:
        v = q.current
        if v is None:
            continue
        options = list(v.options) + [""] * (MAX_OPTIONS - len(v.options))
        if v.kind == Kind.TRUE_FALSE:
            options = ["正确", "错误"] + [""] * (MAX_OPTIONS - 2)
        ws.append([q.code, q.module.slug, KIND_LABELS[v.kind], DIFFICULTY_LABELS[v.difficulty], v.stem, *options,
                   answer_text(v), v.explanation, TAG_SEPARATOR.join(v.tags)])
    for col, width in zip("ABCDEFGHIJKLM", (14, 16, 6, 6, 50, 24, 24, 24, 24, 24, 8, 50, 20)):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
            c.number_format = "@"  # text: "100" stays a text, codes are not dates
            if isinstance(c.value, str) and c.value.startswith("="):
                c.data_type = "s"  # a text, never a formula that Excel would run
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
