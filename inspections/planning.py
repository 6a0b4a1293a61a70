"""Inspection planning: risk-weighted, reproducible draws (filled in below)."""


def checklist_item_errors(items) -> list[str]:
    return []
