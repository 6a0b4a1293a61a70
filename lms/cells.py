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
