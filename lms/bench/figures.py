"""The figures every benchmark returns, and the one table ``manage.py bench`` prints of them.

A benchmark's ``run(out, quick, ...)`` prints what it measured and returns a dict of its details with, under
``"figures"``, a list of :class:`Figure`: the headline figures, each with the target an issue set for it (or
none) and, where the issue reads it against a yardstick measured in the same run (``/healthz`` on the same
server, Daphne, ``np.diff``, ``json.loads``, a minimal PDF), that yardstick and the ratio. Whether a figure
meets its target is computed here from the measured value by :func:`figure`, never written by hand.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from dataclasses import dataclass

# How a limit reads, and the check it makes of the measured number.
_OPS = {
    "<": lambda measured, limit: measured < limit,
    "≤": lambda measured, limit: measured <= limit,
    "≥": lambda measured, limit: measured >= limit,
}


@dataclass(frozen=True)
class Figure:
    """One figure of one benchmark.

    ``value`` in ``unit`` (``None`` when it was not measured; ``note`` says why). ``yardstick`` is the value
    it is read against, measured in the same run, in the same unit (``yardstick_name`` says what it is), and
    ``ratio`` is ``value ÷ yardstick`` (or, for a benchmark measuring in alternating rounds, the median of
    the rounds' ratios). The target is ``op`` ``limit`` applied to ``on`` (``"value"`` or ``"ratio"``);
    ``target`` is how it reads; ``passed`` is ``None`` when no target was set or nothing was run.
    """

    benchmark: str
    name: str
    value: float | None
    unit: str = ""
    target: str | None = None
    yardstick: float | None = None
    ratio: float | None = None
    passed: bool | None = None
    note: str = ""
    yardstick_name: str = ""
    yardstick_unit: str | None = None  # when it differs from ``unit`` (beats/s read against req/s)
    op: str | None = None
    limit: float | None = None
    on: str = "value"

    @property
    def status(self) -> str:
        if self.note.startswith("error:"):
            return "ERROR"
        if self.note.startswith("not run"):
            return "not run"
        if self.passed is None:
            return "no target"
        return "pass" if self.passed else "SHORT"

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "status": self.status}


def figure(benchmark: str, name: str, value: float | None, unit: str = "", *, below: float | None = None,
           at_most: float | None = None, at_least: float | None = None, ratio_at_least: float | None = None,
           yardstick: float | None = None, yardstick_name: str = "", yardstick_unit: str | None = None,
           ratio: float | None = None, note: str = "") -> Figure:
    """A figure and its verdict. At most one target: ``below`` (value < limit), ``at_most`` (value ≤ limit),
    ``at_least`` (value ≥ limit) or ``ratio_at_least`` (ratio ≥ limit; needs a yardstick or a ratio). The ratio
    is ``value ÷ yardstick`` unless given. A target with nothing measured is not met."""
    targets = [(op, limit, on) for op, limit, on in (("<", below, "value"), ("≤", at_most, "value"),
                                                      ("≥", at_least, "value"), ("≥", ratio_at_least, "ratio"))
               if limit is not None]
    if len(targets) > 1:
        raise ValueError(f"{benchmark} {name}: one target a figure")
    if ratio is None and _number(value) and _number(yardstick) and yardstick:
        ratio = value / yardstick
    op = limit = None
    on, target, passed = "value", None, None
    if targets:
        op, limit, on = targets[0]
        measured = ratio if on == "ratio" else value
        passed = _number(measured) and _OPS[op](measured, limit)
        if on == "ratio":
            target = f"{op} {_fmt(limit)} × {yardstick_name or 'yardstick'}"
        else:
            target = f"{op} {_fmt(limit)}{' ' + unit if unit else ''}"
        if not _number(measured):
            note = "; ".join(x for x in (note, "nothing measured") if x)
    shown_ratio = None if ratio is None else round(ratio, 3)
    if passed is False and on == "ratio" and _number(ratio) and _OPS[op](shown_ratio, limit):
        shown_ratio = ratio  # kept whole rather than rounded onto the pass mark
    return Figure(benchmark=benchmark, name=name, value=value, unit=unit, target=target, yardstick=yardstick,
                  ratio=shown_ratio, passed=passed, note=note,
                  yardstick_name=yardstick_name, yardstick_unit=yardstick_unit, op=op, limit=limit, on=on)


def not_run(benchmark: str, reason: str, name: str = "—", target: str | None = None) -> Figure:
    """A row saying a benchmark (or one of its figures) was not run, and why: never a silent omission."""
    return Figure(benchmark=benchmark, name=name, value=None, target=target, note=f"not run: {reason}")


def failed(benchmark: str, error: BaseException) -> Figure:
    """A row for a benchmark that raised: it counts as short of everything it should have measured."""
    return Figure(benchmark=benchmark, name="—", value=None, passed=False,
                  note=f"error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200])


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _fmt(x: float | None) -> str:
    """A number as the table shows it: thousands separated, three significant digits below 100."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


COLUMNS = ("benchmark", "figure", "value", "target", "÷ yardstick", "verdict", "note")


def _fmt_measured(f: Figure, x: float | None, on: str) -> str:
    """``_fmt``, except that a figure short of its target is never shown rounded onto its pass mark:
    it gets the digits that tell it apart (2.004 ms against "< 2 ms" reads 2.004, not 2.00)."""
    shown = _fmt(x)
    if f.passed is False and f.on == on and f.op in _OPS and _number(x) and _number(f.limit):
        digits = 4
        while digits < 12 and (float(shown.replace(",", "")) == f.limit
                               or _OPS[f.op](float(shown.replace(",", "")), f.limit)):
            shown = f"{x:.{digits}g}"
            digits += 1
    return shown


def rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    out = []
    for f in figures:
        value = "—" if f.value is None else f"{_fmt_measured(f, f.value, 'value')}{' ' + f.unit if f.unit else ''}"
        if f.ratio is None:
            ratio = "—"
        else:
            against = f.yardstick_name or "yardstick"
            unit = f.unit if f.yardstick_unit is None else f.yardstick_unit
            yard = "" if f.yardstick is None else f" {_fmt(f.yardstick)}{' ' + unit if unit else ''}"
            ratio = f"{_fmt_measured(f, f.ratio, 'ratio')} ({against}{yard})"
        note = f.note.removeprefix("not run: ").removeprefix("error: ")  # the verdict column says so already
        out.append((f.benchmark, f.name, value, f.target or "no target", ratio, f.status, note))
    return out


def _width(s: str) -> int:
    """Columns a string takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def text_table(figures: list[Figure]) -> str:
    table = [COLUMNS, *rows(figures)]
    widths = [max(_width(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
    lines = []
    for n, r in enumerate(table):
        lines.append("  ".join(_pad(c, w) for c, w in zip(r, widths)) + "  " + r[-1])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(figures: list[Figure]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows(figures):
        r = list(r)
        if r[5] == "SHORT":
            r[5] = "**SHORT**"
        lines.append("| " + " | ".join(cell(c) for c in r) + " |")
    return "\n".join(lines)
