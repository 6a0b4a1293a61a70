"""Certificate numbers: the format is data, the check digit catches typing errors, and the serial part
cannot be walked.

A format is a spec string of fields, e.g. ``"{region:6}{year:4}{serial:8}{check}"``:

- ``region:N``: the issuing region's division code (区划代码), N digits;
- ``year:N``: the year of issue (4, or 2 for its last two digits);
- ``serial:N``: the certificate's place in the (region, year) sequence, **permuted** by a keyed
  bijection of the N-digit space (a Feistel network with cycle walking): serials stay unique (the
  permutation is one to one) while the printed numbers of consecutive certificates look unrelated, so
  knowing one number does not tell the next;
- ``check``: one check digit over all digits before it, by the Damm algorithm, which catches every
  single mistyped digit and every swap of two neighbouring digits (tested exhaustively).

Pure functions, no Django: the same code checks a number typed by an employer, on the server or in a
notebook.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

# The Damm algorithm's quasigroup of order 10 (a totally anti-symmetric one, Damm 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> str:
    """The check digit of a string of decimal digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return str(interim)


def damm_valid(digits: str) -> bool:
    """Whether ``digits`` ends with its correct check digit."""
    return bool(digits) and digits.isdigit() and damm_digit(digits) == "0"


_FIELD = re.compile(r"\{(region|year|serial|check)(?::(\d+))?\}")


class FormatError(ValueError):
    """A number format spec that cannot be used."""


@dataclass(frozen=True)
class Field:
    name: str
    width: int


@dataclass(frozen=True)
class NumberFormat:
    """A parsed format spec (see the module docstring)."""

    spec: str
    fields: tuple[Field, ...]

    @classmethod
    def parse(cls, spec: str) -> "NumberFormat":
        pos, fields = 0, []
        for m in _FIELD.finditer(spec):
            if m.start() != pos:
                raise FormatError(f"unexpected text {spec[pos:m.start()]!r} in {spec!r}: only fields, no literals")
            name, width = m.group(1), m.group(2)
            if name == "check":
                if width not in (None, "1"):
                    raise FormatError("the check digit is one digit")
                fields.append(Field(name, 1))
            else:
                if width is None:
                    raise FormatError(f"{{{name}}} needs a width, e.g. {{{name}:6}}")
                n = int(width)
                limits = {"region": (2, 12), "year": (2, 4), "serial": (4, 12)}[name]
                if not limits[0] <= n <= limits[1] or (name == "year" and n == 3):
                    raise FormatError(f"{{{name}:{n}}}: the width must be within {limits[0]}–{limits[1]}"
                                      + (" (2 or 4 for a year)" if name == "year" else ""))
                fields.append(Field(name, n))
            pos = m.end()
        if pos != len(spec):
            raise FormatError(f"unexpected text {spec[pos:]!r} in {spec!r}")
        names = [f.name for f in fields]
        if sorted(set(names)) != sorted(names):
            raise FormatError("each field appears once")
        if "serial" not in names or names[-1:] != ["check"]:
            raise FormatError("a format needs a {serial:N} and ends with its {check} digit")
        return cls(spec=spec, fields=tuple(fields))

    @property
    def length(self) -> int:
        return sum(f.width for f in self.fields)

    def width(self, name: str) -> int:
        return next(f.width for f in self.fields if f.name == name)

    def capacity(self) -> int:
        """How many serials one (region, year) sequence holds."""
        return 10 ** self.width("serial")

    def make(self, *, region: str, year: int, sequence: int, key: bytes) -> str:
        """The number of the ``sequence``-th certificate (0-based) of ``region`` in ``year``."""
        parts = []
        for f in self.fields:
            if f.name == "region":
                code = re.sub(r"\D", "", region or "")[:f.width].ljust(f.width, "0")
                parts.append(code)
            elif f.name == "year":
                parts.append(f"{year % 10 ** f.width:0{f.width}d}")
            elif f.name == "serial":
                parts.append(f"{permute(sequence, f.width, key):0{f.width}d}")
        body = "".join(parts)
        return body + damm_digit(body)


# ------------------------------------------------------------------ the keyed permutation of serials

def _round(value: int, modulus: int, key: bytes, rnd: int) -> int:
    mac = hmac.new(key, f"{rnd}:{value}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") % modulus


def _feistel(x: int, side: int, key: bytes, rounds: int = 8) -> int:
    """A Feistel permutation of ``range(side * side)``: x = left * side + right, each round
    (left, right) → (right, left + F(right) mod side), one to one whatever F is."""
    left, right = divmod(x, side)
    for rnd in range(rounds):
        left, right = right, (left + _round(right, side, key, rnd)) % side
    return left * side + right


def permute(sequence: int, width: int, key: bytes) -> int:
    """A keyed one-to-one map of ``range(10**width)`` onto itself (cycle walking over a Feistel network
    on a slightly larger square domain)."""
    n = 10 ** width
    if not 0 <= sequence < n:
        raise ValueError(f"sequence {sequence} is outside 0..{n - 1}")
    side = 1
    while side * side < n:
        side *= 2
    x = sequence
    while True:  # cycle walking: side² < 4n, so about two steps on average
        x = _feistel(x, side, key)
        if x < n:
            return x


def diagnose(number: str, fmt: NumberFormat) -> str | None:
    """What is wrong with a typed number, as a code: ``"length"``, ``"digits"``, ``"check"`` (a digit is
    mistyped or two neighbours are swapped), or None when it is well formed."""
    cleaned = re.sub(r"[\s-]", "", number or "")
    if not cleaned.isdigit():
        return "digits"
    if len(cleaned) != fmt.length:
        return "length"
    if not damm_valid(cleaned):
        return "check"
    return None


def normalise(number: str) -> str:
    """A typed number without spaces or dashes (what is looked up)."""
    return re.sub(r"[\s-]", "", number or "")
