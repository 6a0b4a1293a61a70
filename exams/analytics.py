"""Exam analytics for staff: pass rates by region, organisation and class; item statistics per question
version (difficulty and discrimination) with weak questions flagged; XLSX export of both.

Who sees what (``attempts_in_scope``): a system admin every attempt; a region admin the attempts of
people whose region lies in their subtree; an organisation admin (``Role.ORG_ADMIN``) the attempts of
people enrolled in a class of the exam's programme run by their organisation (``courses.permissions``).
Anyone else is refused (``PermissionDenied``).

Counting rules
==============

- Only **graded** attempts count: submitted, not voided (an open or voided attempt is not a result).
- **Pass rates** count each person once per exam (blueprint): their latest graded attempt decides
  passed or not. ``attempts`` is the number of graded attempts; the **first-try pass rate** is the
  share of people whose attempt number 1 was graded and passed.
- A person's **class** is their latest enrolment (not withdrawn) in a class of the exam's programme;
  the **organisation** is the one that runs that class (``TrainingClass.training_base``); people with
  no such enrolment are shown as "no class". The **region** rows are the person's region and every
  region above it within the viewer's scope (a city row sums its counties).
- **Item statistics** per question version, over the items of graded attempts: ``n`` items, the
  difficulty ``p`` = share answered correctly, and the discrimination = the point-biserial correlation
  between the item's correctness (0/1) and the attempt's score on the *other* items, as a share of
  their points (the corrected item-total correlation: the item's own point is left out, which would
  otherwise inflate it). With fewer than two items, or no variance in either, it is ``None`` ("—").
- An item is correct when the answer that counts (the attempts module's rule, ``exams.attempts``:
  the same rule ``current_answers`` applies, up to the attempt's submission or deadline, as grading
  does) equals the version's ``correct`` set; no answer is incorrect.
- **Flags** (with ``n >= MIN_SAMPLE`` only; below it "样本不足"): ``p < 0.2`` too hard, ``p > 0.95``
  too easy, discrimination ``< 0.2`` weak. Figures are shown rounded DOWN (``lms.numbers``), so a
  value shown never sits on the other side of a threshold from the flag.

Efficiency: attempts are read in batches of ``BATCH`` with ``values_list`` (no ORM objects per
answer; the choice is read as text and compared with the key as text, the submission cut-off is in
the SQL); sums per question version are accumulated with numpy (``bincount``) and the correlation is
computed from them: three queries per batch, never one per question or per attempt. Measured on
SQLite on the development machine: 5,325 attempts × 50 items (266,250 answers) in 1.7 s, so a
province's 50,000 attempts take about 15 s; above ``CACHE_MIN_ATTEMPTS`` the result is cached (see
``item_statistics``), so the page and its export compute it once. Pass rates are one query (0.02 s).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import namedtuple
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

import numpy as np
from django.core.exceptions import PermissionDenied
from django.core.cache import cache
from django.db.models import Count, Exists, F, Max, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.utils import translation
from django.utils.translation import gettext as _

from lms import numbers
from lms.models import Region, Role
from lms.permissions import administered_regions, is_system_admin, region_q

from .models import AnswerEvent, Attempt, Blueprint, PaperItem, Question, QuestionVersion

MIN_SAMPLE = 30
TOO_HARD_P = 0.2
TOO_EASY_P = 0.95
WEAK_DISCRIMINATION = 0.2
BATCH = 2000
CACHE_MIN_ATTEMPTS = 2000  # below this, item statistics are computed afresh (well under a second)
CACHE_S = 15 * 60

# ---------------------------------------------------------------- scope


def _org_ids(user) -> list[int]:
    from courses.permissions import administered_organisations

    return administered_organisations(user)


def can_view_analytics(user) -> bool:
    """System admins, region admins and organisation admins."""
    if not (user and user.is_authenticated):
        return False
    return bool(is_system_admin(user) or user.has_role(Role.REGION_ADMIN) or _org_ids(user))


def require_analytics(user) -> None:
    if not can_view_analytics(user):
        raise PermissionDenied(_("Exam analytics are for system, region and organisation admins."))


def attempts_in_scope(user):
    """Attempts ``user`` may count (all statuses; callers keep the graded ones)."""
    require_analytics(user)
    qs = Attempt.objects.all()
    if is_system_admin(user):
        return qs
    q = Q(pk__in=[])
    if administered_regions(user):
        q |= region_q(user, "user__region")
    orgs = _org_ids(user)
    if orgs:
        from courses.models import Enrolment

        q |= Q(Exists(Enrolment.objects.filter(
            user=OuterRef("user"), training_class__programme=OuterRef("blueprint__programme"),
            training_class__training_base_id__in=orgs).exclude(status=Enrolment.Status.WITHDRAWN)))
    return qs.filter(q)


def graded_attempts(user, blueprint: Blueprint | None = None):
    qs = attempts_in_scope(user).filter(status=Attempt.Status.SUBMITTED)
    if blueprint is not None:
        qs = qs.filter(blueprint=blueprint)
    return qs


# ---------------------------------------------------------------- pass rates


@dataclass
class PassRow:
    key: object
    label: str
    depth: int = 0  # indentation of region rows
    people: int = 0
    passed: int = 0
    attempts: int = 0
    first_people: int = 0
    first_passed: int = 0

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.people if self.people else None

    @property
    def first_try_rate(self) -> float | None:
        return self.first_passed / self.first_people if self.first_people else None

    @property
    def pass_rate_text(self) -> str:
        return numbers.percent(self.pass_rate)

    @property
    def first_try_rate_text(self) -> str:
        return numbers.percent(self.first_try_rate)


@dataclass
class PassRates:
    total: PassRow
    by_region: list[PassRow] = field(default_factory=list)
    by_organisation: list[PassRow] = field(default_factory=list)
    by_class: list[PassRow] = field(default_factory=list)


def _add(row: PassRow, person: dict) -> None:
    row.people += 1
    row.passed += person["passed"]
    row.attempts += person["attempts"]
    if person["first"] is not None:
        row.first_people += 1
        row.first_passed += person["first"]


def pass_rates(user, blueprint: Blueprint | None = None) -> PassRates:
    """Pass rates of the graded attempts ``user`` may see (rules in the module docstring)."""
    from courses.models import Enrolment

    rows = (graded_attempts(user, blueprint)
            .values_list("user_id", "blueprint_id", "blueprint__programme_id", "number", "passed",
                         "user__region__path")
            .order_by("user_id", "blueprint_id", "number"))
    people: dict[tuple[int, int], dict] = {}
    for user_id, bp_id, programme_id, number, passed, path in rows.iterator(chunk_size=5000):
        p = people.setdefault((user_id, bp_id), {"programme": programme_id, "path": path or "", "attempts": 0,
                                                 "passed": False, "first": None})
        p["attempts"] += 1
        p["passed"] = bool(passed)  # ordered by number: the latest graded attempt wins
        if number == 1:
            p["first"] = bool(passed)
    total = PassRow(key=None, label=_("Total"))
    for p in people.values():
        _add(total, p)
    result = PassRates(total=total)
    if not people:
        return result

    # class and organisation: the latest enrolment (not withdrawn) in a class of the exam's programme
    user_ids = sorted({u for u, _bp in people})
    class_of: dict[tuple[int, int], int] = {}
    classes: dict[int, tuple[str, str, int, str]] = {}
    for i in range(0, len(user_ids), BATCH):
        for u, cid, prog, cname, ccode, org_id, org_name in (
                Enrolment.objects.filter(user_id__in=user_ids[i:i + BATCH])
                .exclude(status=Enrolment.Status.WITHDRAWN).order_by("enrolled_at", "pk")
                .values_list("user_id", "training_class_id", "training_class__programme_id",
                             "training_class__name", "training_class__code", "training_class__training_base_id",
                             "training_class__training_base__name")):
            class_of[(u, prog)] = cid  # later enrolments overwrite earlier ones
            classes[cid] = (cname, ccode, org_id, org_name)
    no_class = _("No class")
    by_class: dict[object, PassRow] = {}
    by_org: dict[object, PassRow] = {}
    for (u, _bp), p in people.items():
        cid = class_of.get((u, p["programme"]))
        if cid is None:
            crow = by_class.setdefault(None, PassRow(key=None, label=no_class))
            orow = by_org.setdefault(None, PassRow(key=None, label=no_class))
        else:
            cname, ccode, org_id, org_name = classes[cid]
            crow = by_class.setdefault(cid, PassRow(key=cid, label=f"{cname}（{org_name}）"))
            orow = by_org.setdefault(org_id, PassRow(key=org_id, label=org_name))
        _add(crow, p)
        _add(orow, p)
    order = lambda r: (r.key is None, r.label)  # noqa: E731
    result.by_class = sorted(by_class.values(), key=order)
    result.by_organisation = sorted(by_org.values(), key=order)

    # regions: the person's region and each region above it that the viewer sees
    step = Region.steplen
    if is_system_admin(user):
        top_depth = 1
    else:
        tops = administered_regions(user)
        top_depth = min((r.depth for r in tops), default=1)
    by_path: dict[str, PassRow] = {}
    for p in people.values():
        path = p["path"]
        for depth in range(top_depth, len(path) // step + 1):
            prefix = path[:depth * step]
            _add(by_path.setdefault(prefix, PassRow(key=prefix, label="", depth=depth - top_depth)), p)
    names = {path: (name, level) for path, name, level in
             Region.objects.filter(path__in=list(by_path)).values_list("path", "name", "level")}
    # an organisation admin without a region sees the regions of their own trainees
    visible = None if is_system_admin(user) or not administered_regions(user) else \
        [r.path for r in administered_regions(user)]
    region_rows = []
    for path in sorted(by_path):
        if visible is not None and not any(path.startswith(v) for v in visible):
            continue  # a region above the admin's own (an org admin's trainee from elsewhere)
        row = by_path[path]
        row.label = names.get(path, ("?", ""))[0]
        region_rows.append(row)
    no_region = [p for p in people.values() if not p["path"]]
    if no_region and is_system_admin(user):
        row = PassRow(key="", label=_("No region"))
        for p in no_region:
            _add(row, p)
        region_rows.append(row)
    result.by_region = region_rows
    return result


# ---------------------------------------------------------------- item statistics

_Event = namedtuple("_Event", "item_id choice saved_at client_seq")


@dataclass
class ItemRow:
    version_id: int
    question_id: int
    code: str
    version: int
    is_current: bool
    module: str
    kind: str
    difficulty: str
    stem: str
    n: int
    correct: int
    discrimination: float | None

    @property
    def p(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def enough(self) -> bool:
        return self.n >= MIN_SAMPLE

    @property
    def flags(self) -> list[str]:
        """Why the question looks weak (empty: fine, or too few answers to say)."""
        if not self.enough:
            return []
        out = []
        if self.p < TOO_HARD_P:
            out.append(_("Too hard"))
        if self.p > TOO_EASY_P:
            out.append(_("Too easy"))
        if self.discrimination is not None and self.discrimination < WEAK_DISCRIMINATION:
            out.append(_("Low discrimination"))
        return out

    @property
    def p_text(self) -> str:
        return two_decimals(self.p)

    @property
    def discrimination_text(self) -> str:
        return two_decimals(self.discrimination)

    @property
    def p_value(self) -> float | None:
        return None if self.p is None else numbers.floor_to(self.p, 2)

    @property
    def discrimination_value(self) -> float | None:
        return None if self.discrimination is None else numbers.floor_to(self.discrimination, 2)


def two_decimals(v) -> str:
    """A proportion or correlation with two decimals, rounded down (0.949 reads 0.94, never 0.95)."""
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return numbers.DASH
    return f"{numbers.floor_to(v, 2):.2f}"


def point_biserial(n, sx, sy, sxy, syy):
    """Pearson correlation of a 0/1 variable x and y from sums (n, Σx, Σy, Σxy, Σy²; Σx² = Σx);
    NaN where n < 2 or either variance is zero. Works on numpy arrays."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = n * sxy - sx * sy
        vx = n * sx - sx * sx
        vy = n * syy - sy * sy
        r = cov / np.sqrt(vx * vy)
    tiny = 1e-9 * np.maximum(n * n, 1)
    return np.where((n < 2) | (vx <= tiny) | (vy <= tiny), np.nan, np.clip(r, -1.0, 1.0))


def _item_correctness(attempt_ids, module_id=None):
    """For a batch of graded attempts: their items ``[(item id, attempt id, version id, points)]`` and the
    answer that counts per item id (original option indices), as grading saw it."""
    from .attempts import _counted  # the rule that picks the answer that counts (as current_answers does)

    items = PaperItem.objects.filter(attempt_id__in=attempt_ids)
    # Only saves up to the submission (and never past the deadline) count, as in grading; the choice is
    # read as text and parsed only for the answer that counts (no JSON or datetime conversion per row).
    events = (AnswerEvent.objects.filter(item__attempt_id__in=attempt_ids)
              .filter(saved_at__lte=F("item__attempt__submitted_at"))
              .filter(saved_at__lte=F("item__attempt__deadline_at")))
    if module_id is not None:
        items = items.filter(version__question__module_id=module_id)
        events = events.filter(item__version__question__module_id=module_id)
    item_rows = list(items.values_list("id", "attempt_id", "version_id", "points"))
    rows = (events.annotate(choice_text=Cast("choice", TextField())).order_by("item_id", "saved_at", "pk")
            .values_list("item_id", "choice_text", "client_seq"))
    answers = {}
    for item_id, group in groupby(rows, key=itemgetter(0)):
        counted = _counted([_Event(i, text, None, seq) for i, text, seq in group])
        if counted is not None:
            answers[item_id] = counted.choice
    return item_rows, answers


def _canonical(indices) -> str:
    return json.dumps(sorted(indices), separators=(",", ":"))


def _is_right(choice_text: str | None, correct_text: str) -> bool:
    """The stored choice (JSON text) equals the key: compared as text when it is in canonical form
    (sorted, no spaces, as the attempts module stores it), parsed otherwise."""
    if choice_text is None:
        return False
    compact = choice_text.replace(" ", "")
    if compact == correct_text:
        return True
    if "," not in compact:
        return False  # one option (or none), not the key
    try:
        return _canonical(json.loads(choice_text)) == correct_text
    except (TypeError, ValueError):
        return False


def item_statistics(user, blueprint: Blueprint | None = None, module_id: int | None = None) -> list[ItemRow]:
    """Difficulty and discrimination per question version over the graded attempts ``user`` may see.

    Over ``CACHE_MIN_ATTEMPTS`` graded attempts the result is cached for ``CACHE_S`` seconds under a
    key made of the viewer, the filters, the language and the attempts' own signature (how many, the
    highest id, the latest submission): a new or voided attempt makes a new key, so the page and its
    export show the same fresh figures without computing a province's answers twice.
    """
    graded = graded_attempts(user, blueprint)
    sig = graded.aggregate(n=Count("pk"), top=Max("pk"), last=Max("submitted_at"))
    if sig["n"] < CACHE_MIN_ATTEMPTS:
        return _item_statistics(user, blueprint, module_id)
    key = "exams-analytics-items:" + hashlib.sha256(repr((
        user.pk, blueprint.pk if blueprint else None, module_id, translation.get_language(), sig["n"], sig["top"],
        sig["last"].isoformat() if sig["last"] else None)).encode()).hexdigest()
    rows = cache.get(key)
    if rows is None:
        rows = _item_statistics(user, blueprint, module_id)
        cache.set(key, rows, CACHE_S)
    return rows


def _item_statistics(user, blueprint, module_id) -> list[ItemRow]:
    attempts = (graded_attempts(user, blueprint).filter(max_points__gt=0)
                .values_list("id", "score_points", "max_points").order_by("id"))
    attempt_info: dict[int, tuple[int, int]] = {}
    batch: list[int] = []
    keys: dict[int, int] = {}  # version id -> index
    correct_of: dict[int, str] = {}  # version id -> its key as canonical JSON text
    sums = {k: np.zeros(0) for k in ("n", "sx", "sy", "sxy", "syy")}

    def flush():
        if not batch:
            return
        item_rows, answers = _item_correctness(batch, module_id)
        batch.clear()
        if not item_rows:
            return
        missing = {v for _i, _a, v, _p in item_rows if v not in correct_of}
        if missing:
            for vid, corr in QuestionVersion.objects.filter(pk__in=missing).values_list("id", "correct"):
                correct_of[vid] = _canonical(corr)
        idx = np.empty(len(item_rows), dtype=np.int64)
        x = np.empty(len(item_rows))
        y = np.empty(len(item_rows))
        for k, (item_id, attempt_id, vid, points) in enumerate(item_rows):
            if vid not in keys:
                keys[vid] = len(keys)
            idx[k] = keys[vid]
            right = _is_right(answers.get(item_id), correct_of[vid])
            x[k] = 1.0 if right else 0.0
            score, max_points = attempt_info[attempt_id]
            rest_max = max_points - points
            y[k] = (score - (points if right else 0)) / rest_max if rest_max > 0 else 0.0
        size = len(keys)
        for name, w in (("n", None), ("sx", x), ("sy", y), ("sxy", x * y), ("syy", y * y)):
            add = np.bincount(idx, weights=w, minlength=size).astype(float)
            old = sums[name]
            sums[name] = np.concatenate([old, np.zeros(size - len(old))]) + add

    for attempt_id, score, max_points in attempts.iterator(chunk_size=BATCH):
        attempt_info[attempt_id] = (score or 0, max_points)
        batch.append(attempt_id)
        if len(batch) >= BATCH:
            flush()
    flush()
    if not keys:
        return []
    r = point_biserial(sums["n"], sums["sx"], sums["sy"], sums["sxy"], sums["syy"])
    versions = {v.pk: v for v in QuestionVersion.objects.filter(pk__in=list(keys))
                .select_related("question__module")}
    out = []
    for vid, k in keys.items():
        v = versions[vid]
        disc = None if np.isnan(r[k]) else float(r[k])
        out.append(ItemRow(
            version_id=vid, question_id=v.question_id, code=v.question.code, version=v.number,
            is_current=v.question.current_id == vid, module=v.question.module.title,
            kind=str(v.get_kind_display()), difficulty=str(v.get_difficulty_display()),
            stem=v.stem, n=int(sums["n"][k]), correct=int(round(sums["sx"][k])), discrimination=disc))
    out.sort(key=lambda row: (row.code, row.version))
    return out


def question_modules():
    """The module pages that bank questions belong to (the module filter's choices)."""
    from content.models import ModulePage

    return ModulePage.objects.filter(pk__in=Question.objects.values("module_id")).order_by("path")


# ---------------------------------------------------------------- XLSX


def _sheet(wb, title, header, rows, number_formats=None):
    ws = wb.create_sheet(title)
    ws.append(header)
    for row in rows:
        ws.append(row)
    for col, fmt in (number_formats or {}).items():
        for cells in ws.iter_cols(min_col=col, max_col=col, min_row=2):
            for c in cells:
                c.number_format = fmt
    for cells in ws.iter_rows():
        for c in cells:
            if isinstance(c.value, str):
                c.data_type = "s"  # text, never a formula
    ws.freeze_panes = "A2"
    return ws


def _pct_value(rate) -> int | None:
    """A rate as a whole percent, rounded down (the page's figure) for the spreadsheet."""
    return None if rate is None else int(numbers.floor_to(rate, 0, scale=100))


def pass_rates_xlsx(rates: PassRates) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    header = [_("Trainees examined"), _("Trainees passed"), _("Pass rate (%)"), _("Graded attempts"), _("First-try pass rate (%)")]

    def figures(r: PassRow):
        return [r.people, r.passed, _pct_value(r.pass_rate), r.attempts, _pct_value(r.first_try_rate)]

    _sheet(wb, _("By region"), [_("Region"), _("Level")] + header,
           [["　" * r.depth + r.label, r.depth + 1] + figures(r) for r in rates.by_region])
    _sheet(wb, _("By organisation"), [_("Organisation")] + header,
           [[r.label] + figures(r) for r in rates.by_organisation])
    _sheet(wb, _("By class"), [_("Class")] + header, [[r.label] + figures(r) for r in rates.by_class])
    _sheet(wb, _("Total"), [""] + header, [[_("Total")] + figures(rates.total)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def item_statistics_xlsx(rows: list[ItemRow]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    header = [_("Question code"), _("Version"), _("Current version"), _("Module"), _("Kind"), _("Difficulty"),
              _("Stem"), _("Answers"), _("Correct answers"), _("Difficulty p (share correct)"),
              _("Discrimination (corrected point-biserial)"), _("Flags")]
    data = []
    for r in rows:
        flags = "、".join(r.flags) if r.enough else _("Too few answers")
        data.append([r.code, r.version, _("yes") if r.is_current else _("no"), r.module, r.kind, r.difficulty,
                     r.stem, r.n, r.correct, r.p_value, r.discrimination_value, flags])
    _sheet(wb, _("Item statistics"), header, data, number_formats={10: "0.00", 11: "0.00"})
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
