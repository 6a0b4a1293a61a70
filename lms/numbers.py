"""How numbers are shown to people: one format per quantity, never misleading.

Rules (docs/scoring.md, "How numbers are shown"):

* a **score** is shown with one decimal, rounded *down* (79.96 reads "79.9",
  never "80"), so a fail never reads as the pass mark; ``passed`` is decided
  on the same rounded-down value;
* **depth** and **recoil** in mm with one decimal, **rate** in /min as a whole
  number, both rounded half up; the scorer judges them at exactly that
  precision, so the shown value and the verdict always agree;
* **percentages** (CCF, share of compressions in target) as whole percent,
  rounded down (79.6 % reads "79%");
* **counts** with thousands separators ("1,234,567").

``lms/static/lms/numbers.js`` mirrors these functions for the live pages
(same arithmetic: ``floor(x * 10**nd + 0.5)``), and the tests check both agree.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

DASH = "—"


def _num(v) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def half_up(v: float, nd: int = 0) -> float:
    """Round half up at ``nd`` decimals (not Python's round-half-even)."""
    m = 10 ** nd
    return math.floor(v * m + 0.5) / m


def floor_to(v: float, nd: int = 0, scale: int = 1) -> float:
    """``v * scale`` rounded down at ``nd`` decimals, in decimal arithmetic on the shortest
    representation of ``v`` (so 0.29 * 100 is 29, not 28.999...)."""
    q = Decimal(1).scaleb(-nd)
    return float((Decimal(repr(float(v))) * scale).quantize(q, rounding=ROUND_FLOOR))


def score_value(v) -> float | None:
    """The score as stored and judged: rounded down to 0.1."""
    f = _num(v)
    return None if f is None else floor_to(f, 1)


def score(v) -> str:
    f = _num(v)
    return DASH if f is None else f"{floor_to(f, 1):.1f}"


def depth(v) -> str:
    f = _num(v)
    return DASH if f is None else f"{half_up(f, 1):.1f}"


def rate(v) -> str:
    f = _num(v)
    return DASH if f is None else f"{half_up(f, 0):.0f}"


def percent(fraction) -> str:
    """A fraction 0..1 (CCF) as whole percent, rounded down."""
    f = _num(fraction)
    return DASH if f is None else f"{floor_to(f, 0, scale=100):.0f}%"


def pct(v) -> str:
    """A value already in percent (0..100) as whole percent, rounded down."""
    f = _num(v)
    return DASH if f is None else f"{floor_to(f, 0):.0f}%"


def count(v) -> str:
    f = _num(v)
    return DASH if f is None else f"{int(f):,}"
