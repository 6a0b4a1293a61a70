"""CPR quality standards as data.

A standard is a flat JSON object (``manikin/scoring/standards/<id>.json``) whose
keys carry their unit (``depth_min_mm``, ``rate_max_cpm``, ``pause_threshold_s``,
...). ``Standard.from_dict`` validates one and ``Standard.to_dict`` returns the
same structure, so the server can keep edited standards in database rows.

Threshold semantics (see docs/scoring.md for the score formula):

* ``depth_min_mm``/``depth_max_mm``: a compression is OK when its depth lies
  inside; its depth sub-score falls linearly to 0 at ``depth_min_mm -
  depth_shallow_zero_mm`` (too shallow) and ``depth_max_mm + depth_deep_zero_mm``
  (too deep).
* ``rate_min_cpm``/``rate_max_cpm``: same for the instantaneous rate, reaching 0
  ``rate_zero_cpm`` outside the band.
* ``recoil_max_mm``: residual displacement allowed between compressions (full
  release); 0 at ``recoil_max_mm + recoil_zero_mm``.
* ``pause_threshold_s``: a gap between two compressions longer than this is a
  pause and splits cycles; a pause longer than ``pause_max_s`` is penalised,
  fully at ``pause_max_s + pause_zero_s``.
* ``ccf_min``/``ccf_target``: compression fraction scores 0 at or below
  ``ccf_min`` and 1 at or above ``ccf_target``.
* ``compressions_per_cycle``/``cycles_expected``/``breaths_per_cycle``: the
  30:2 structure (``cycles_expected`` null: no fixed number of cycles).
* ``breath_volume_min_ml``/``breath_volume_max_ml``: OK tidal volume.
* ``weights``: weight of each score component (``compressions``, ``ccf``,
  ``pauses``, ``cycles``, ``ventilation``); ``pass_score``: pass mark (0-100).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
DEFAULT_STANDARD_ID = "crc-first-aider-2024"
WEIGHT_KEYS = ("compressions", "ccf", "pauses", "cycles", "ventilation")


class StandardError(ValueError):
    """A standard file or row is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Standard:
    id: str
    version: str
    name: str
    name_en: str
    sources: list = field(default_factory=list)
    depth_min_mm: float = 50.0
    depth_max_mm: float = 60.0
    depth_shallow_zero_mm: float = 20.0
    depth_deep_zero_mm: float = 15.0
    rate_min_cpm: float = 100.0
    rate_max_cpm: float = 120.0
    rate_zero_cpm: float = 20.0
    recoil_max_mm: float = 5.0
    recoil_zero_mm: float = 10.0
    pause_threshold_s: float = 2.0
    pause_max_s: float = 10.0
    pause_zero_s: float = 10.0
    ccf_min: float = 0.6
    ccf_target: float = 0.8
    compressions_per_cycle: int = 30
    compressions_per_cycle_zero: int = 10
    cycles_expected: int | None = None
    breaths_per_cycle: int = 2
    breath_volume_min_ml: float = 500.0
    breath_volume_max_ml: float = 600.0
    breath_volume_zero_ml: float = 300.0
    weights: dict = field(default_factory=dict)
    pass_score: float = 75.0

    # -- construction -----------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict) -> "Standard":
        if not isinstance(d, dict):
            raise StandardError("a standard must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise StandardError(f"unknown standard keys: {', '.join(unknown)}")
        required = [f.name for f in fields(cls)]
        missing = [k for k in required if k not in d]
        if missing:
            raise StandardError(f"standard is missing keys: {', '.join(missing)}")
        kw = {}
        for name, f in known.items():
            v = d[name]
            if name in ("id", "version", "name", "name_en"):
                if not isinstance(v, str) or not v.strip():
                    raise StandardError(f"{name} must be a non-empty string")
            elif name == "sources":
                if not isinstance(v, list):
                    raise StandardError("sources must be a list")
                v = [dict(s) if isinstance(s, dict) else {"title": str(s)} for s in v]
            elif name == "weights":
                if not isinstance(v, dict):
                    raise StandardError("weights must be an object")
                bad = sorted(set(v) - set(WEIGHT_KEYS))
                if bad:
                    raise StandardError(f"unknown weight keys: {', '.join(bad)}")
                w = {}
                for k in WEIGHT_KEYS:
                    x = v.get(k, 0.0)
                    if not _is_number(x) or x < 0:
                        raise StandardError(f"weight {k} must be a number >= 0")
                    w[k] = float(x)
                if sum(w.values()) <= 0:
                    raise StandardError("weights must not all be zero")
                v = w
            elif name == "cycles_expected":
                if v is not None and (not _is_int(v) or v < 1):
                    raise StandardError("cycles_expected must be null or an integer >= 1")
            elif name in ("compressions_per_cycle", "compressions_per_cycle_zero", "breaths_per_cycle"):
                if not _is_int(v) or v < 1:
                    raise StandardError(f"{name} must be an integer >= 1")
            else:
                if not _is_number(v):
                    raise StandardError(f"{name} must be a number")
                v = float(v)
                if v < 0:
                    raise StandardError(f"{name} must be >= 0")
            kw[name] = v
        std = cls(**kw)
        std._check()
        return std

    def _check(self) -> None:
        pairs = [
            ("depth_min_mm", "depth_max_mm"),
            ("rate_min_cpm", "rate_max_cpm"),
            ("ccf_min", "ccf_target"),
            ("breath_volume_min_ml", "breath_volume_max_ml"),
        ]
        for lo, hi in pairs:
            if not getattr(self, lo) < getattr(self, hi):
                raise StandardError(f"{lo} must be smaller than {hi}")
        for k in ("depth_shallow_zero_mm", "depth_deep_zero_mm", "rate_zero_cpm", "recoil_zero_mm",
                  "pause_zero_s", "breath_volume_zero_ml", "pause_threshold_s"):
            if not getattr(self, k) > 0:
                raise StandardError(f"{k} must be > 0")
        if self.ccf_target > 1.0:
            raise StandardError("ccf_target must be <= 1")
        if not 0 <= self.pass_score <= 100:
            raise StandardError("pass_score must be between 0 and 100")
        if self.pause_max_s < self.pause_threshold_s:
            raise StandardError("pause_max_s must be >= pause_threshold_s")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sources"] = [dict(s) for s in self.sources]
        d["weights"] = dict(self.weights)
        return d


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def list_standards() -> list[str]:
    """Ids of the shipped standards, the default first, then alphabetical."""
    ids = sorted(p.stem for p in STANDARDS_DIR.glob("*.json"))
    if DEFAULT_STANDARD_ID in ids:
        ids.remove(DEFAULT_STANDARD_ID)
        ids.insert(0, DEFAULT_STANDARD_ID)
    return ids


_CACHE: dict[str, Standard] = {}


def load_standard(standard_id: str | None = None) -> Standard:
    """Load ``standards/<id>.json`` (default: ``DEFAULT_STANDARD_ID``)."""
    sid = DEFAULT_STANDARD_ID if standard_id is None else standard_id
    if sid in _CACHE:
        return _CACHE[sid]
    if not isinstance(sid, str) or not sid or "/" in sid or "\\" in sid or sid.startswith("."):
        raise StandardError(f"invalid standard id: {sid!r}")
    path = STANDARDS_DIR / f"{sid}.json"
    if not path.is_file():
        raise StandardError(
            f"unknown standard {sid!r}; available: {', '.join(list_standards())}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StandardError(f"standard file {path.name} is not valid JSON: {exc}") from exc
    std = Standard.from_dict(data)
    if std.id != sid:
        raise StandardError(f"standard file {path.name} declares id {std.id!r}")
    _CACHE[sid] = std
    return std


def resolve_standard(standard) -> Standard:
    """Accept a Standard, an id, a dict or None (default)."""
    if standard is None or isinstance(standard, str):
        return load_standard(standard)
    if isinstance(standard, Standard):
        return standard
    if isinstance(standard, dict):
        return Standard.from_dict(standard)
    raise TypeError("standard must be a Standard, an id string, a dict or None")
