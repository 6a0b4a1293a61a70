"""Public functions of the inspections app (what other apps and the views call).

One function per write (validation, permission, transaction, audit record):
``create_plan``, ``assign_inspector``, ``assign_random_inspector``, ``start_inspection``,
``save_checklist_change``, ``upload_photo``, ``submit_inspection``, ``add_finding``, ``report_rectification``,
``verify_finding``, ``reopen_finding``, ``close_inspection``.

Reads: ``findings_by_instructor`` (the annual assessment), ``roster``, ``checklist_state``.

Secrecy: an inspection is known to its planners and its inspector only until it starts. Nothing here sends a
message, a notification or a socket event to the class's side; audit records name the inspection by number,
never the class, and only system admins read the audit log (``lms.api.audit_log``).

Errors: ``PermissionDenied`` for who may not, ``ValidationError`` (a dict of field → messages) for what is wrong;
a refused checklist change or photo is kept as a ``RejectedUpload`` with its reason, and nothing else changes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import uuid
from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lms.api import record_audit
from lms.photos import clean_photo

from . import permissions, planning
from .models import (
    Checklist,
    ChecklistChange,
    Finding,
    FollowUp,
    Inspection,
    InspectionPhoto,
    InspectionPlan,
    RejectedUpload,
)

NOTE_MAX = 500
NOTES_MAX = 4000
MANIKINS_MAX = 200
CAPTION_MAX = 200
DEADLINE_MAX_DAYS = 365


def findings_by_instructor(instructor_ids, *, year: int) -> dict[int, dict[str, int]]:
    """{instructor id: {"minor": n, "major": n, "critical": n}} over the inspections carried out in ``year``
    (by the day they started) of classes the instructor taught."""
    ids = set(instructor_ids)
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"minor": 0, "major": 0, "critical": 0})
    rows = (Finding.objects.filter(inspection__started_at__year=year,
                                   inspection__training_class__instructors__in=list(ids))
            .values_list("pk", "inspection__training_class__instructors", "severity"))
    seen = set()
    for pk, instructor, severity in rows:
        if instructor in ids and (pk, instructor) not in seen:
            seen.add((pk, instructor))
            out[instructor][severity] += 1
    return dict(out)


def _audit(actor, action: str, obj, **after):
    """An audit record naming the object by number only (never the class: see the module docstring)."""
    record_audit(actor, action, obj, object_repr=f"{obj._meta.model_name} #{obj.pk}", after=after or None)


def _locked(inspection: Inspection) -> Inspection:
    return Inspection.objects.select_for_update(of=("self",)).select_related(
        "training_class__training_base__region", "plan__region", "checklist").get(pk=inspection.pk)


def _today(today=None) -> datetime.date:
    return today or timezone.localdate()


# ------------------------------------------------------------------ plans


def create_plan(actor, *, region, name: str, period_start: datetime.date, period_end: datetime.date,
                sample_size: int, checklist: Checklist | None = None, seed: str | None = None,
                weights: dict | None = None, today: datetime.date | None = None) -> InspectionPlan:
    """Draw ``sample_size`` classes of ``region`` running in the period, weighted by risk, and plan an
    inspection of each (no inspector yet). The seed is recorded (a new random one when not given)."""
    if not permissions.is_planner_of_region(actor, region):
        raise PermissionDenied(_("Only the region's admins plan its inspections."))
    today = _today(today)
    errors: dict[str, list[str]] = defaultdict(list)
    name = (name or "").strip()
    if not name or len(name) > 128:
        errors["name"].append(_("Give the plan a name of at most 128 characters."))
    if period_start is None or period_end is None:
        errors["period_end"].append(_("Give the period's first and last day."))
    elif period_end < period_start:
        errors["period_end"].append(_("The period ends before it starts."))
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or not 1 <= sample_size <= 500:
        errors["sample_size"].append(_("The number of classes to inspect must be from 1 to 500."))
    seed = (seed or "").strip() or planning.new_seed()
    if len(seed) > 64:
        errors["seed"].append(_("The seed is at most 64 characters."))
    try:
        used_weights = planning.weights_with_defaults(weights)
    except ValueError as e:
        errors["weights"].append(str(e))
        used_weights = dict(planning.DEFAULT_WEIGHTS)
    if checklist is None:
        checklist = Checklist.objects.filter(is_active=True).order_by("-version", "-pk").first()
    if checklist is None or not checklist.is_active:
        errors["checklist"].append(_("There is no checklist in use: a system admin adds one first."))
    if errors:
        raise ValidationError(dict(errors))
    rows = planning.population(region, period_start, period_end, used_weights, today=today)
    if not rows:
        raise ValidationError({"period_end": [_("No class of %(region)s runs in this period.")
                                              % {"region": region.name}]})
    drawn = planning.draw(seed, rows, sample_size)
    from courses.models import TrainingClass

    classes = TrainingClass.objects.in_bulk(drawn)
    with transaction.atomic():
        plan = InspectionPlan.objects.create(
            region=region, name=name, period_start=period_start, period_end=period_end, sample_size=sample_size,
            seed=seed, weights=used_weights, population=rows, drawn=drawn, checklist=checklist, created_by=actor)
        for class_id in drawn:
            klass = classes[class_id]
            first, last = max(period_start, klass.starts_on), min(period_end, klass.ends_on)
            Inspection.objects.create(plan=plan, training_class=klass, checklist=checklist, created_by=actor,
                                      scheduled_on=planning.visit_day(seed, class_id, first, last))
        _audit(actor, "inspection.plan.create", plan, region=region.pk, period=[str(period_start), str(period_end)],
               sample_size=sample_size, seed=seed, population=len(rows), drawn=len(drawn))
    return plan


def assign_inspector(actor, inspection: Inspection, inspector) -> Inspection:
    """Put ``inspector`` on a planned inspection; refused with the reasons when they are not eligible."""
    if not permissions.can_plan(actor, inspection):
        raise PermissionDenied(_("Only the region's admins assign inspectors."))
    with transaction.atomic():
        locked = _locked(inspection)
        if locked.status != Inspection.Status.PLANNED:
            raise ValidationError({"inspector": [_("The inspection has started: its inspector stays.")]})
        reasons = permissions.inspector_refusals(inspector, locked)
        if reasons:
            raise ValidationError({"inspector": reasons})
        locked.inspector = inspector
        locked.save(update_fields=["inspector"])
        _audit(actor, "inspection.assign", locked, inspector=inspector.pk)
    inspection.inspector = inspector
    return locked


def assign_random_inspector(actor, inspection: Inspection, *, seed: str | None = None) -> Inspection:
    """Assign an inspector drawn at random among the eligible ones."""
    if not permissions.can_plan(actor, inspection):
        raise PermissionDenied(_("Only the region's admins assign inspectors."))
    candidates = permissions.eligible_inspectors(inspection)
    if not candidates:
        raise ValidationError({"inspector": [_("No inspector of the region is eligible for this class.")]})
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    return assign_inspector(actor, inspection, rng.choice(candidates))


# ------------------------------------------------------------------ on site


def _require_inspector(actor, inspection: Inspection) -> None:
    if not permissions.is_inspector_of(actor, inspection):
        raise PermissionDenied(_("Only the inspector assigned files this inspection."))


def start_inspection(actor, inspection: Inspection, *, now: datetime.datetime | None = None) -> Inspection:
    """The inspector starts the visit (on site, on or after the planned day): from now on the class's side may
    see its findings."""
    _require_inspector(actor, inspection)
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(inspection)
        if locked.status != Inspection.Status.PLANNED:
            raise ValidationError({"status": [_("This inspection has already started.")]})
        if locked.scheduled_on and timezone.localtime(now).date() < locked.scheduled_on:
            raise ValidationError({"status": [_("This inspection is planned for %(day)s: it cannot start before.")
                                              % {"day": locked.scheduled_on.isoformat()}]})
        locked.status = Inspection.Status.IN_PROGRESS
        locked.started_at = now
        locked.roster_size = len(roster(locked))
        locked.save(update_fields=["status", "started_at", "roster_size"])
        _audit(actor, "inspection.start", locked)
    return locked


def roster(inspection: Inspection) -> list:
    """The class's roster: enrolments not withdrawn, with the trainee (by name)."""
    from courses.models import Enrolment

    return list(Enrolment.objects.filter(training_class_id=inspection.training_class_id)
                .exclude(status=Enrolment.Status.WITHDRAWN).select_related("user").order_by("user__real_name", "pk"))


def checklist_state(inspection: Inspection) -> dict:
    """What the server holds of the checklist (the phone's starting point and every sync's answer)."""
    return {
        "status": inspection.status,
        "answers": inspection.answers,
        "present": inspection.present,
        "manikins_in_use": inspection.manikins_in_use,
        "notes": inspection.notes,
        "photos": [str(c) for c in inspection.photos.values_list("client_id", flat=True)],
    }


def _change_errors(inspection: Inspection, body) -> list[str]:
    if inspection.status != Inspection.Status.IN_PROGRESS:
        return [_("The checklist was already submitted: this change was not applied.")
                if inspection.submitted_at else _("The inspection has not started.")]
    if not isinstance(body, dict) or not body:
        return [_("The change is empty or not an object.")]
    errors = []
    unknown = set(body) - {"answers", "present", "manikins_in_use", "notes"}
    if unknown:
        errors.append(_("Unknown fields: %(keys)s.") % {"keys": ", ".join(sorted(map(str, unknown)))})
    codes = {i["code"] for i in inspection.checklist.items}
    answers = body.get("answers", {})
    if not isinstance(answers, dict):
        errors.append(_("The answers must be an object by item."))
    else:
        for code, answer in answers.items():
            if code not in codes:
                errors.append(_("There is no checklist item %(code)s.") % {"code": code})
                continue
            if not isinstance(answer, dict) or set(answer) - {"ok", "note"}:
                errors.append(_("The answer to %(code)s must have ok and note only.") % {"code": code})
                continue
            if "ok" in answer and answer["ok"] not in (True, False, None):
                errors.append(_("The answer to %(code)s must be yes, no or empty.") % {"code": code})
            note = answer.get("note", "")
            if not isinstance(note, str) or len(note) > NOTE_MAX:
                errors.append(_("The note on %(code)s must be text of at most %(n)s characters.")
                              % {"code": code, "n": NOTE_MAX})
    if "present" in body:
        present = body["present"]
        allowed = {e.pk for e in roster(inspection)}
        if not isinstance(present, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in present):
            errors.append(_("The attendance must be a list of enrolments."))
        elif len(set(present)) != len(present):
            errors.append(_("A trainee is marked present twice."))
        elif set(present) - allowed:
            errors.append(_("Someone marked present is not on the class's roster."))
    if "manikins_in_use" in body:
        m = body["manikins_in_use"]
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= MANIKINS_MAX):
            errors.append(_("The number of manikins in use must be a whole number from 0 to %(n)s.")
                          % {"n": MANIKINS_MAX})
    if "notes" in body:
        notes = body["notes"]
        if not isinstance(notes, str) or len(notes) > NOTES_MAX:
            errors.append(_("The notes must be text of at most %(n)s characters.") % {"n": NOTES_MAX})
    return errors


def _reject(inspection: Inspection, kind: str, client_id: str, reasons: list[str], detail: dict) -> None:
    RejectedUpload.objects.create(inspection=inspection, kind=kind, client_id=str(client_id)[:64],
                                  reason="\n".join(reasons), detail=detail)


def _body_detail(body) -> dict:
    try:
        text = json.dumps(body, ensure_ascii=False)
    except (TypeError, ValueError):
        return {"body": None}
    return {"body": body} if len(text) <= 20_000 else {"body": None, "body_chars": len(text)}


def save_checklist_change(actor, inspection: Inspection, *, client_id, body) -> dict:
    """Apply one change the phone made (``body``: any of ``answers`` {code: {"ok", "note"}}, ``present`` [enrolment
    ids, the whole list], ``manikins_in_use``, ``notes``) under its id ``client_id``. The same id again changes
    nothing and answers the state. A bad change is refused whole (``ValidationError``) and kept as rejected."""
    _require_inspector(actor, inspection)
    try:
        cid = uuid.UUID(str(client_id))
    except (TypeError, ValueError, AttributeError):
        reasons = [_("The change has no valid id.")]
        _reject(inspection, "checklist", str(client_id or ""), reasons, _body_detail(body))
        raise ValidationError({"change": reasons}) from None
    with transaction.atomic():
        locked = _locked(inspection)
        if ChecklistChange.objects.filter(inspection=locked, client_id=cid).exists():
            return {**checklist_state(locked), "applied": str(cid), "repeat": True}
        reasons = _change_errors(locked, body)
        if not reasons:
            fields = []
            if "answers" in body:
                answers = dict(locked.answers)
                for code, answer in body["answers"].items():
                    merged = {"ok": None, "note": ""} | answers.get(code, {}) | answer
                    answers[code] = {"ok": merged["ok"], "note": merged["note"].strip()}
                locked.answers = answers
                fields.append("answers")
            if "present" in body:
                locked.present = sorted(body["present"])
                locked.roster_size = len(roster(locked))
                fields += ["present", "roster_size"]
            if "manikins_in_use" in body:
                locked.manikins_in_use = body["manikins_in_use"]
                fields.append("manikins_in_use")
            if "present" in body or "manikins_in_use" in body:
                m = locked.manikins_in_use
                locked.trainees_per_manikin = (round(len(locked.present) / m, 1) if m else None)
                fields.append("trainees_per_manikin")
            if "notes" in body:
                locked.notes = body["notes"].strip()
                fields.append("notes")
            locked.last_client_change = cid
            locked.save(update_fields=[*fields, "last_client_change"])
            ChecklistChange.objects.create(inspection=locked, client_id=cid, body=body, by=actor)
            _audit(actor, "inspection.checklist.change", locked, change=str(cid), fields=sorted(body))
            return {**checklist_state(locked), "applied": str(cid), "repeat": False}
    _reject(inspection, "checklist", str(cid), reasons, _body_detail(body))
    raise ValidationError({"change": reasons})


MAX_PHOTOS = 60


def upload_photo(actor, inspection: Inspection, *, client_id, upload, item_code: str = "", caption: str = "",
                 taken_at: datetime.datetime | None = None) -> InspectionPhoto:
    """Store a photo the phone took (JPEG or PNG, at most ``lms.photos.MAX_BYTES``, re-encoded without metadata:
    no EXIF, no GPS). The same ``client_id`` again returns the photo stored the first time."""
    _require_inspector(actor, inspection)
    detail = {"name": str(getattr(upload, "name", ""))[:200], "content_type": str(getattr(upload, "content_type", ""))[:100],
              "size": getattr(upload, "size", None)}
    try:
        cid = uuid.UUID(str(client_id))
    except (TypeError, ValueError, AttributeError):
        reasons = [_("The photo has no valid id.")]
        _reject(inspection, "photo", str(client_id or ""), reasons, detail)
        raise ValidationError({"photo": reasons}) from None
    existing = InspectionPhoto.objects.filter(inspection=inspection, client_id=cid).first()
    if existing is not None:
        return existing
    reasons = []
    if inspection.status != Inspection.Status.IN_PROGRESS:
        reasons.append(_("The checklist was already submitted: this photo was not added.")
                       if inspection.submitted_at else _("The inspection has not started."))
    item_code = (item_code or "").strip()
    if item_code and item_code not in {i["code"] for i in inspection.checklist.items}:
        reasons.append(_("There is no checklist item %(code)s.") % {"code": item_code})
    caption = (caption or "").strip()
    if len(caption) > CAPTION_MAX:
        reasons.append(_("The caption is at most %(n)s characters.") % {"n": CAPTION_MAX})
    if inspection.photos.count() >= MAX_PHOTOS:
        reasons.append(_("An inspection keeps at most %(n)s photos.") % {"n": MAX_PHOTOS})
    content = None
    if upload is None:
        reasons.append(_("No photo was sent."))
    elif not reasons:
        try:
            content = clean_photo(upload)
        except ValidationError as e:
            reasons.extend(e.messages)
    if reasons:
        _reject(inspection, "photo", str(cid), reasons, detail)
        raise ValidationError({"photo": reasons})
    data = content.read()
    content.seek(0)
    try:
        with transaction.atomic():
            photo = InspectionPhoto(inspection=inspection, client_id=cid, item_code=item_code, caption=caption,
                                    sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), taken_at=taken_at)
            photo.file.save(content.name, content, save=False)
            photo.save()
            _audit(actor, "inspection.photo", inspection, photo=photo.pk, bytes=len(data))
    except IntegrityError:  # the same photo, sent twice at once
        if photo.file:
            photo.file.delete(save=False)
        return InspectionPhoto.objects.get(inspection=inspection, client_id=cid)
    return photo


def submit_inspection(actor, inspection: Inspection, *, now: datetime.datetime | None = None) -> Inspection:
    """The inspector submits the checklist: every item answered. Findings may still be added after."""
    _require_inspector(actor, inspection)
    with transaction.atomic():
        locked = _locked(inspection)
        if locked.status != Inspection.Status.IN_PROGRESS:
            raise ValidationError({"status": [_("Only an inspection in progress can be submitted.")]})
        missing = [i["text"] for i in locked.checklist.items
                   if locked.answers.get(i["code"], {}).get("ok") not in (True, False)]
        if missing:
            raise ValidationError({"answers": [_("%(n)s items are not answered yet, e.g. %(item)s")
                                               % {"n": len(missing), "item": missing[0]}]})
        locked.status = Inspection.Status.SUBMITTED
        locked.submitted_at = now or timezone.now()
        locked.save(update_fields=["status", "submitted_at"])
        _audit(actor, "inspection.submit", locked, not_ok=sum(1 for a in locked.answers.values() if a.get("ok") is False))
    return locked


# ------------------------------------------------------------------ findings and follow-ups


def add_finding(actor, inspection: Inspection, *, severity: str, deadline: datetime.date | None, description: str,
                item_code: str = "", client_id=None, today: datetime.date | None = None) -> Finding:
    """A finding of a started inspection, by its inspector or a planner: severity, rectification deadline (not in
    the past, within a year) and what was found."""
    if not permissions.can_see(actor, inspection):
        raise PermissionDenied(_("Only the inspector or the region's admins record findings."))
    today = _today(today)
    errors: dict[str, list[str]] = defaultdict(list)
    if inspection.started_at is None or inspection.status == Inspection.Status.CLOSED:
        errors["inspection"].append(_("Findings are recorded once the inspection has started and until it is closed."))
    if severity not in Finding.Severity.values:
        errors["severity"].append(_("Choose the severity: minor, major or critical."))
    if deadline is None:
        errors["deadline"].append(_("Give the day by which it is to be rectified."))
    elif deadline < today:
        errors["deadline"].append(_("The rectification deadline cannot be in the past."))
    elif deadline > today + datetime.timedelta(days=DEADLINE_MAX_DAYS):
        errors["deadline"].append(_("The rectification deadline is at most a year away."))
    description = (description or "").strip()
    if not description or len(description) > 2000:
        errors["description"].append(_("Describe the finding in at most 2000 characters."))
    item_code = (item_code or "").strip()
    if item_code and item_code not in {i["code"] for i in inspection.checklist.items}:
        errors["item_code"].append(_("There is no checklist item %(code)s.") % {"code": item_code})
    cid = None
    if client_id:
        try:
            cid = uuid.UUID(str(client_id))
        except ValueError:
            errors["client_id"].append(_("The finding has no valid id."))
    if errors:
        raise ValidationError(dict(errors))
    if cid is not None:
        existing = Finding.objects.filter(inspection=inspection, client_id=cid).first()
        if existing is not None:
            return existing
    with transaction.atomic():
        finding = Finding.objects.create(inspection=inspection, client_id=cid, item_code=item_code, severity=severity,
                                         description=description, deadline=deadline, created_by=actor)
        _audit(actor, "inspection.finding.add", finding, inspection=inspection.pk, severity=severity,
               deadline=str(deadline))
    return finding


def _follow_up(actor, finding: Finding, *, kind: str, note: str, from_status: str, to_status: str,
               deadline: datetime.date | None = None) -> FollowUp:
    note = (note or "").strip()
    errors = {}
    if not note or len(note) > 2000:
        errors["note"] = [_("Write what was done or found, in at most 2000 characters.")]
    with transaction.atomic():
        locked = Finding.objects.select_for_update(of=("self",)).select_related("inspection").get(pk=finding.pk)
        if locked.inspection.status == Inspection.Status.CLOSED:
            errors["status"] = [_("The inspection is closed.")]
        elif locked.status != from_status:
            errors["status"] = [_("This finding is %(status)s.") % {"status": locked.get_status_display()}]
        if errors:
            raise ValidationError(errors)
        locked.status = to_status
        fields = ["status"]
        if deadline is not None:
            locked.deadline = deadline
            fields.append("deadline")
        locked.save(update_fields=fields)
        follow_up = FollowUp.objects.create(finding=locked, kind=kind, note=note, by=actor)
        _audit(actor, f"inspection.finding.{kind}", locked, status=to_status)
    finding.status = to_status
    return follow_up


def report_rectification(actor, finding: Finding, *, note: str) -> FollowUp:
    """The class's side (its base's organisation admins, its instructors) reports the finding rectified."""
    if not permissions.can_rectify(actor, finding):
        raise PermissionDenied(_("Only the class's organisation admins and instructors report a rectification."))
    return _follow_up(actor, finding, kind=FollowUp.Kind.RECTIFICATION, note=note,
                      from_status=Finding.Status.OPEN, to_status=Finding.Status.RECTIFIED)


def verify_finding(actor, finding: Finding, *, note: str) -> FollowUp:
    """A planner or the inspector confirms the rectification."""
    if not permissions.can_verify(actor, finding):
        raise PermissionDenied(_("Only the inspector or the region's admins verify a rectification."))
    return _follow_up(actor, finding, kind=FollowUp.Kind.VERIFIED, note=note,
                      from_status=Finding.Status.RECTIFIED, to_status=Finding.Status.VERIFIED)


def reopen_finding(actor, finding: Finding, *, note: str, deadline: datetime.date | None = None,
                   today: datetime.date | None = None) -> FollowUp:
    """A planner or the inspector finds it not rectified: open again, with a new deadline if given."""
    if not permissions.can_verify(actor, finding):
        raise PermissionDenied(_("Only the inspector or the region's admins verify a rectification."))
    if deadline is not None and deadline < _today(today):
        raise ValidationError({"deadline": [_("The rectification deadline cannot be in the past.")]})
    return _follow_up(actor, finding, kind=FollowUp.Kind.REOPENED, note=note, from_status=Finding.Status.RECTIFIED,
                      to_status=Finding.Status.OPEN, deadline=deadline)


def close_inspection(actor, inspection: Inspection) -> Inspection:
    """A planner closes a submitted inspection once every finding is verified as rectified."""
    if not permissions.can_plan(actor, inspection):
        raise PermissionDenied(_("Only the region's admins close an inspection."))
    with transaction.atomic():
        locked = _locked(inspection)
        if locked.status != Inspection.Status.SUBMITTED:
            raise ValidationError({"status": [_("Only a submitted inspection can be closed.")]})
        left = locked.findings.exclude(status=Finding.Status.VERIFIED).count()
        if left:
            raise ValidationError({"status": [_("%(n)s findings are not verified as rectified yet.") % {"n": left}]})
        locked.status = Inspection.Status.CLOSED
        locked.save(update_fields=["status"])
        _audit(actor, "inspection.close", locked)
    return locked
