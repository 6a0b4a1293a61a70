"""Cells read from uploaded workbooks (openpyxl), as text, remembering which were stored as numbers.

Excel keeps 15 significant digits of a number: an 18-digit ID-card number or a 19-digit certificate
number typed into a number cell has lost its last digits. Importers tell the uploader so instead of
reading a wrong number (the roster import, the bulk certificate verification)."""

from __future__ import annotations


class NumberCell(str):
    """The text of a cell that the workbook stored as a number."""


def cell_text(value) -> str:
    """A cell's value as stripped text ("" for an empty cell); a number cell as a ``NumberCell``."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return NumberCell(str(value).strip())
    return str(value).strip()


# An uploaded workbook that unpacks to more than this is refused before openpyxl reads it (a zip bomb: a small
# file whose XML expands hugely keeps a server process busy for minutes). Real rosters, question banks and
# region lists unpack to a few MB.
XLSX_MAX_UNPACKED_BYTES = 20 * 1024 * 1024


def check_xlsx_unpacked_size(data: bytes, limit: int = XLSX_MAX_UNPACKED_BYTES) -> None:
    """``ValidationError`` (in the user's language) when ``data`` is not a zip file, or unpacks to more than
    ``limit`` bytes. The sizes are the zip's own; reading a member never yields more than its stated size."""
    import io
    import zipfile

    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    if unpacked > limit:
        raise ValidationError(_("This workbook is too large once unpacked. Please upload a smaller file."))
