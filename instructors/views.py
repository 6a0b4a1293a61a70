"""The instructors' pages (thin views over ``instructors.api``).

- ``/instructors/``: region admins (their subtree, ``assessment.profiles_in_scope``) and system admins (all):
  the profiles with tier, status and qualification, filters, and the registration form. Others: 403.
- ``/instructors/<pk>/``: one profile: standing, the teaching record per year, the classes taught with
  their feedback summaries, the assessments and the standing history; the region admin's actions (suspend,
  reinstate, change the tier: POST, each through ``instructors.profiles``). Visible to the admins of the
  instructor's region and to the instructor (read-only); anyone else 404.
- ``/my/teaching/``: the signed-in instructor's own profile page (read-only).
- ``/my/classes/<enrolment_id>/feedback/``: the trainee's rating of a finished class (their own enrolment only).
- ``/instructors/assessment/…``: the annual assessment (region and system admins): run a year, the table,
  one assessment with its criteria and the decision, the XLSX export of a year.
"""

from __future__ import annotations

import io
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses import permissions as course_permissions
from courses.models import Enrolment, TrainingClass
from lms import permissions as lms_permissions
from lms.models import Role
from lms.views import _add_errors
from lms.errors import messages_of as _messages_of

from . import assessment as assessment_mod
from . import feedback as feedback_mod
from . import profiles, record, standing
from .presentation import DASH, criteria_rows, fmt_count, fmt_feedback, fmt_hours, fmt_pct, reason_lines
from .forms import DecisionForm, FeedbackForm, ProfileFilterForm, ReasonForm, RegisterForm, TierChangeForm, YearForm
from .models import Assessment, InstructorProfile, Outcome

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def figures_row(f: record.Figures) -> dict:
    """A year of the teaching record as shown: every value with its unit, rates floored, — without data.
    The feedback mean is shown only over at least ``feedback.MIN_SHOWN`` answers (anonymity)."""
    shown = f.feedback_n >= feedback_mod.MIN_SHOWN
    return {
        "classes": fmt_count(f.classes), "hours": fmt_hours(f.hours), "trainees": fmt_count(f.trainees),
        "theory": fmt_pct(f.theory_pass_pct), "theory_of": (f.theory_passed, f.theory_sat),
        "practical": fmt_pct(f.practical_pass_pct), "practical_of": (f.practical_passed, f.practical_sat),
        "cpr": fmt_pct(f.cpr_mean_pct), "cpr_n": len(f.cpr_scores),
        "feedback": fmt_feedback(f.feedback_mean) if shown else DASH, "feedback_n": fmt_count(f.feedback_n),
        "feedback_hidden": bool(f.feedback_n) and not shown,
    }


# ------------------------------------------------------------------ who sees what

def _is_assessor(user) -> bool:
    return lms_permissions.is_system_admin(user) or bool(lms_permissions.administered_regions(user))


def _require_assessor(user) -> None:
    if not _is_assessor(user):
        raise PermissionDenied(_("This page is for region and system admins. Instructors find their record under "
                                 "“My teaching”."))


def _visible_profile(user, pk: int) -> InstructorProfile:
    """The profile ``pk`` if ``user`` may see it (an admin of its region, or its own), else 404."""
    qs = InstructorProfile.objects.select_related("user__region", "tier__qualification", "training_base__region")
    profile = qs.filter(pk=pk).first()
    if profile is None:
        raise Http404
    if profile.user_id == user.pk or (_is_assessor(user) and assessment_mod.can_assess(user, profile)):
        return profile
    raise Http404


def _managed_profile(user, pk: int) -> InstructorProfile:
    profile = _visible_profile(user, pk)
    if not assessment_mod.can_assess(user, profile):
        raise PermissionDenied(_("Only the admins of the instructor's region change their standing."))
    return profile


# ------------------------------------------------------------------ the list and registration

@never_cache
@login_required
@require_GET
def instructor_list(request):
    _require_assessor(request.user)
    return _list_page(request, RegisterForm(actor=request.user))


def _list_page(request, register_form, status: int = 200):
    today = timezone.localdate()
    form = ProfileFilterForm(request.GET or None)
    qs = assessment_mod.profiles_in_scope(request.user).select_related("tier__qualification")
    query = {}
    if form.is_valid():
        q, tier, st = form.cleaned_data["q"].strip(), form.cleaned_data["tier"], form.cleaned_data["status"]
        if q:
            qs = qs.filter(Q(user__real_name__icontains=q) | Q(user__username__icontains=q))
            query["q"] = q
        if tier is not None:
            qs = qs.filter(tier=tier)
            query["tier"] = tier.pk
        if st:
            qs = qs.filter(status=st)
            query["status"] = st
    page = Paginator(qs.order_by("user__real_name", "pk"), 50).get_page(request.GET.get("page"))
    profiles_on_page = list(page.object_list)
    certificates = standing.qualification_of(profiles_on_page, today=today)
    rows = [{"p": p, "certificate": certificates.get(p.user_id), "region": assessment_mod.region_of(p)}
            for p in profiles_on_page]
    return render(request, "instructors/list.html", {
        "form": form, "page": page, "rows": rows, "pager_query": urlencode(query), "filtered": bool(query),
        "register_form": register_form, "can_register": register_form.fields["person"].queryset.exists(),
        "this_year": today.year}, status=status)


@login_required
@require_POST
def instructor_register(request):
    _require_assessor(request.user)
    form = RegisterForm(request.POST, actor=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            profile = profiles.register(request.user, data["person"], tier=data["tier"],
                                        training_base=data["training_base"],
                                        instructor_since=data["instructor_since"], reason=data["reason"])
        except PermissionDenied as exc:
            form.add_error("person", str(exc))
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("%(name)s is registered as an instructor (%(tier)s).")
                             % {"name": profile.user.display_name, "tier": profile.tier.name})
            return redirect("instructors:detail", pk=profile.pk)
    return _list_page(request, form, status=200)


# ------------------------------------------------------------------ one profile

def _record(profile: InstructorProfile, today) -> tuple[list, dict | None]:
    user_id = profile.user_id
    ends = (TrainingClass.objects.filter(instructors=user_id, ends_on__lte=today)
            .exclude(status=TrainingClass.Status.CANCELLED).values_list("ends_on", flat=True))
    years = sorted({d.year for d in ends}, reverse=True)
    rows = [{"year": y, **figures_row(record.records([user_id], year=y, today=today)[user_id])} for y in years]
    total = figures_row(record.records([user_id], today=today)[user_id]) if len(years) > 1 else None
    return rows, total


def _classes(profile: InstructorProfile, viewer, today) -> list[dict]:
    classes = (TrainingClass.objects.filter(instructors=profile.user_id)
               .select_related("programme", "training_base")
               .annotate(trainees=Count("enrolments", filter=~Q(enrolments__status=Enrolment.Status.WITHDRAWN)))
               .order_by("-ends_on", "-pk")[:100])
    managed = set(course_permissions.managed_classes(viewer).filter(pk__in=[c.pk for c in classes])
                  .values_list("pk", flat=True)) if course_permissions.is_class_admin(viewer) else set()
    out = []
    for c in classes:
        ended = c.status != TrainingClass.Status.CANCELLED and c.ends_on <= today
        out.append({"c": c, "ended": ended, "managed": c.pk in managed,
                    "feedback": feedback_mod.class_feedback_summary(c) if ended else None})
    return out


def _profile_page(request, profile: InstructorProfile, *, own: bool, tier_form=None, status_form=None):
    today = timezone.localdate()
    st = standing.standing(profile.user, today=today)
    rows, total = _record(profile, today)
    manage = not own and assessment_mod.can_assess(request.user, profile)
    assessments = list(profile.assessments.select_related("tier", "decided_by").order_by("-year"))
    changes = list(profile.changes.select_related("from_tier", "to_tier", "changed_by", "assessment"))
    return render(request, "instructors/profile.html", {
        "profile": profile, "person": profile.user, "standing": st, "certificate": st["certificate"],
        "region": assessment_mod.region_of(profile), "rows": rows, "total": total,
        "classes": _classes(profile, request.user, today), "assessments": assessments, "changes": changes,
        "own": own, "manage": manage, "is_assessor": _is_assessor(request.user),
        "min_shown": feedback_mod.MIN_SHOWN, "today": today,
        "tier_form": tier_form or (TierChangeForm(profile=profile) if manage else None),
        "status_form": status_form or (ReasonForm() if manage else None),
        "Status": InstructorProfile.Status,
    })


@never_cache
@login_required
@require_GET
def profile_detail(request, pk: int):
    profile = _visible_profile(request.user, pk)
    return _profile_page(request, profile, own=profile.user_id == request.user.pk)


@never_cache
@login_required
@require_GET
def my_teaching(request):
    profile = (InstructorProfile.objects.select_related("user__region", "tier__qualification", "training_base__region")
               .filter(user=request.user).first())
    if profile is None:
        if not request.user.has_role(Role.INSTRUCTOR):
            raise PermissionDenied(_("This page is for instructors."))
        return render(request, "instructors/not_registered.html")
    return _profile_page(request, profile, own=True)


def _standing_action(request, pk: int, action, done_message: str):
    profile = _managed_profile(request.user, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason."))
    else:
        try:
            action(request.user, profile, reason=form.cleaned_data["reason"])
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _messages_of(exc))
        else:
            messages.success(request, done_message)
    return redirect("instructors:detail", pk=profile.pk)


@login_required
@require_POST
def profile_suspend(request, pk: int):
    return _standing_action(request, pk, profiles.suspend,
                            _("The instructor is suspended: they cannot be put on classes or exams."))


@login_required
@require_POST
def profile_reinstate(request, pk: int):
    return _standing_action(request, pk, profiles.reinstate, _("The instructor is reinstated."))


@login_required
@require_POST
def profile_tier(request, pk: int):
    profile = _managed_profile(request.user, pk)
    form = TierChangeForm(request.POST, profile=profile)
    if form.is_valid():
        try:
            profiles.change_tier(request.user, profile, tier=form.cleaned_data["tier"],
                                 reason=form.cleaned_data["reason"])
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, _messages_of(exc))
        else:
            messages.success(request, _("The tier is changed to %(tier)s.") % {"tier": form.cleaned_data["tier"].name})
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("instructors:detail", pk=profile.pk)


# ------------------------------------------------------------------ trainees' feedback

@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def class_feedback(request, enrolment_id: int):
    enrolment = (Enrolment.objects.select_related("training_class__programme", "training_class__training_base")
                 .filter(pk=enrolment_id, user=request.user).first())
    if enrolment is None:
        raise Http404
    refusal = feedback_mod.feedback_refusal(request.user, enrolment)
    form = FeedbackForm(request.POST or None)
    if request.method == "POST" and refusal is None and form.is_valid():
        data = form.cleaned_data
        try:
            feedback_mod.submit_feedback(request.user, enrolment, overall=data["overall"], clarity=data["clarity"],
                                         practice=data["practice"], comment=data["comment"])
        except PermissionDenied as exc:
            refusal = str(exc)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Thank you: your rating of %(name)s is recorded.")
                             % {"name": enrolment.training_class.name})
            return redirect("courses:home")
    return render(request, "instructors/feedback.html", {
        "enrolment": enrolment, "klass": enrolment.training_class, "refusal": refusal, "form": form,
        "min_shown": feedback_mod.MIN_SHOWN})


# ------------------------------------------------------------------ the annual assessment

@never_cache
@login_required
@require_GET
def assessment_index(request):
    _require_assessor(request.user)
    this_year = timezone.localdate().year
    form = YearForm(request.GET or None, initial={"year": this_year - 1})
    if request.GET and form.is_valid():
        return redirect("instructors:assessment_year", year=form.cleaned_data["year"])
    years = (assessment_mod.assessments_visible(request.user).order_by().values("year")
             .annotate(n=Count("pk"), proposed=Count("pk", filter=Q(status=Assessment.Status.PROPOSED)))
             .order_by("-year"))
    return render(request, "instructors/assessment_index.html", {
        "form": form, "years": years, "this_year": this_year,
        "in_scope": assessment_mod.profiles_in_scope(request.user).count()})


def _year_or_404(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise Http404
    return year


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def assessment_year(request, year: int):
    _require_assessor(request.user)
    _year_or_404(year)
    if request.method == "POST":
        try:
            done = assessment_mod.run_assessment(request.user, year)
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _messages_of(exc))
        else:
            decided = sum(1 for a in done if a.status != Assessment.Status.PROPOSED)
            messages.success(request, _("The %(year)s assessment is computed: %(n)s instructors, %(decided)s of them "
                                        "decided earlier and left as they were.")
                             % {"year": year, "n": len(done), "decided": decided})
        return redirect("instructors:assessment_year", year=year)
    qs = (assessment_mod.assessments_visible(request.user).filter(year=year)
          .select_related("profile__user", "tier", "decided_by").order_by("profile__user__real_name", "pk"))
    rows = list(qs)
    for a in rows:
        a.hours_shown = fmt_hours(a.figures.get("hours"))
        a.pass_shown = fmt_pct(a.figures.get("practical_pass_pct"))
        a.reason_lines = reason_lines(a)
    counts = {o: sum(1 for a in rows if a.proposal == o) for o in Outcome.values}
    return render(request, "instructors/assessment_year.html", {
        "year": year, "rows": rows, "counts": [(label, counts[value]) for value, label in Outcome.choices],
        "proposed": sum(1 for a in rows if a.status == Assessment.Status.PROPOSED),
        "can_run": year <= timezone.localdate().year,
        "in_scope": assessment_mod.profiles_in_scope(request.user).count()})


@login_required
@require_GET
def assessment_export(request, year: int):
    _require_assessor(request.user)
    _year_or_404(year)
    from openpyxl import Workbook
    from openpyxl.styles import Font

    rows = (assessment_mod.assessments_visible(request.user).filter(year=year)
            .select_related("profile__user", "tier", "decided_by").order_by("profile__user__real_name", "pk"))
    wb = Workbook()
    ws = wb.active
    ws.title = str(year)
    headers = [_("Instructor"), _("Tier assessed"), _("Classes"), _("Class hours"), _("Trainees"),
               _("Practical-exam pass rate (%)"), _("Trainees' CPR quality (%)"), _("Feedback (1–5)"),
               _("Feedback answers"), _("Proposal"), _("Reasons"), _("Status"), _("Decision"),
               _("Reason for the decision"), _("Decided by"), _("Decided at")]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)

    def num(value):
        return None if value in (None, "") else float(Decimal(str(value)))

    for a in rows:
        f = a.figures
        shown_feedback = f.get("feedback_mean") if (f.get("feedback_n") or 0) >= feedback_mod.MIN_SHOWN else None
        ws.append([a.profile.user.display_name, a.tier.name, f.get("classes", 0), num(f.get("hours")),
                   f.get("trainees", 0), num(f.get("practical_pass_pct")), num(f.get("cpr_mean_pct")),
                   num(shown_feedback), f.get("feedback_n", 0), a.get_proposal_display(), "；".join(reason_lines(a)),
                   a.get_status_display(), a.get_decision_display() if a.decision else "", a.decision_reason,
                   a.decided_by.display_name if a.decided_by else "",
                   timezone.localtime(a.decided_at).strftime("%Y-%m-%d %H:%M") if a.decided_at else ""])
    for column, width in zip("ABCDEFGHIJKLMNOP", (14, 12, 8, 10, 8, 12, 12, 10, 10, 10, 60, 10, 10, 30, 12, 16)):
        ws.column_dimensions[column].width = width
    buf = io.BytesIO()
    wb.save(buf)
    resp = HttpResponse(buf.getvalue(), content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="instructor-assessment-{year}.xlsx"'
    return resp


def _assessment_or_404(user, pk: int) -> Assessment:
    a = (assessment_mod.assessments_visible(user).select_related("profile__user__region", "profile__tier", "rule",
                                                                  "rule__tier", "profile__training_base__region")
         .filter(pk=pk).first())
    if a is None:
        raise Http404
    return a


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def assessment_item(request, pk: int):
    _require_assessor(request.user)
    a = _assessment_or_404(request.user, pk)
    form = DecisionForm(request.POST or None, initial={"decision": a.proposal})
    if request.method == "POST" and form.is_valid():
        try:
            assessment_mod.decide(request.user, a, decision=form.cleaned_data["decision"],
                                  reason=form.cleaned_data["reason"])
        except PermissionDenied as exc:
            raise Http404 from exc  # not the actor's region: its existence is not revealed
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The decision is recorded and applied to the instructor's standing."))
            return redirect("instructors:assessment_item", pk=a.pk)
    f = a.figures
    figures = figures_row_from_json(f)
    return render(request, "instructors/assessment_item.html", {
        "a": a, "criteria": criteria_rows(a), "reason_lines": reason_lines(a), "figures": figures, "form": form,
        "decided": a.status != Assessment.Status.PROPOSED, "Outcome": Outcome})


def figures_row_from_json(f: dict) -> dict:
    """The stored figures of an assessment, in the formats of the teaching record."""
    n = f.get("feedback_n") or 0
    shown = n >= feedback_mod.MIN_SHOWN
    return {
        "classes": fmt_count(f.get("classes", 0)), "hours": fmt_hours(f.get("hours")),
        "trainees": fmt_count(f.get("trainees", 0)),
        "theory": fmt_pct(f.get("theory_pass_pct")), "theory_of": (f.get("theory_passed", 0), f.get("theory_sat", 0)),
        "practical": fmt_pct(f.get("practical_pass_pct")),
        "practical_of": (f.get("practical_passed", 0), f.get("practical_sat", 0)),
        "cpr": fmt_pct(f.get("cpr_mean_pct")), "cpr_n": f.get("cpr_n", 0),
        "feedback": fmt_feedback(f.get("feedback_mean")) if shown else DASH, "feedback_n": fmt_count(n),
        "feedback_hidden": bool(n) and not shown,
    }
