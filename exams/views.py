"""Thin views of the online theory exam: the trainee's exam list, the exam page and its JSON
endpoints (answers, leaves, state), the result page; staff pages of attempts with grants and voids.

An attempt's pages and endpoints answer 404 to anyone but its trainee (its existence is not
revealed); staff pages answer 404 for an attempt of a person outside the admin's region. No page
or answer before submission carries the answer key (correct options, explanations, the original
option order): the exam page shows each question's options in the attempt's shuffled order only.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lms.permissions import is_system_admin, scope

from . import attempts as api
from .models import Attempt, Blueprint, Grant

MAX_BODY_BYTES = 16 * 1024
LETTERS = "ABCDEFGHIJ"


def _labels() -> dict[str, str]:
    """The words exam.js shows, in the person's language."""
    return {
        "saving": _("Saving…"), "saved": _("Saved"), "failed": _("Not saved: retrying…"),
        "offline": _("No connection: your answers will be sent when it is back."), "over": _("The time is over."),
        "unanswered": _("Unanswered questions: %(n)s"), "closed": _("The exam has been submitted."),
        "refused": _("This answer was not accepted:"),
    }


def _error(message: str, http_status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": str(message), **extra}, status=http_status,
                        json_dumps_params={"ensure_ascii": False})


def _json_body(request) -> dict:
    if len(request.body) > MAX_BODY_BYTES:
        raise ValidationError(_("The request is too large."))
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError(_("The request is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise ValidationError(_("The request is not valid JSON."))
    return data


def _own_attempt(request, attempt_id: int) -> Attempt:
    """The signed-in trainee's attempt, else 404."""
    return get_object_or_404(Attempt.objects.select_related("blueprint__programme"), pk=attempt_id,
                             user=request.user)


def _json_view(func):
    """Run ``func(request, attempt, data)`` on the trainee's own attempt; the api's exceptions become
    JSON errors (400; 409 when the attempt takes no more answers, with where to go; 403)."""

    def wrapper(request, attempt_id: int):
        attempt = _own_attempt(request, attempt_id)
        try:
            data = _json_body(request) if request.method == "POST" else {}
            result = func(request, attempt, data)
        except api.AttemptClosed as exc:
            return _error(" ".join(exc.messages), 409, status="closed",
                          result_url=f"/exams/attempts/{attempt.pk}/result/")
        except ValidationError as exc:
            return _error(" ".join(exc.messages), 400)
        except PermissionDenied as exc:
            return _error(str(exc), 403)
        response = JsonResponse(result, json_dumps_params={"ensure_ascii": False})
        response["Cache-Control"] = "no-store"
        return response

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


# ---------------------------------------------------------------- trainee


@never_cache
@login_required
@require_GET
def exam_list(request):
    """参加理论考试: the exams of the trainee's programmes, with the state and why one cannot start."""
    return render(request, "exams/list.html", {"exams": api.exams_for(request.user)})


@login_required
@require_POST
def start(request, blueprint_id: int):
    blueprint = get_object_or_404(Blueprint.objects.select_related("programme"), pk=blueprint_id)
    try:
        attempt = api.start_or_resume(request.user, blueprint)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
        return redirect("exams:list")
    return redirect("exams:attempt", attempt_id=attempt.pk)


@never_cache
@login_required
@require_GET
def attempt_page(request, attempt_id: int):
    """The exam: every question on one page, options in the attempt's order, answers saved as given."""
    attempt = _own_attempt(request, attempt_id)
    state = api.attempt_state(request.user, attempt)
    if attempt.status != Attempt.Status.OPEN:
        return redirect("exams:result", attempt_id=attempt.pk)
    items = []
    for item in attempt.items.select_related("version").order_by("position"):
        chosen = set(state["answers"].get(str(item.position), []))
        options = [{"pos": pos, "letter": LETTERS[pos], "text": item.version.options[orig], "checked": pos in chosen}
                   for pos, orig in enumerate(item.option_order)]
        items.append({"position": item.position, "kind": item.version.kind, "stem": item.version.stem,
                      "options": options, "points": item.points, "answered": bool(chosen)})
    return render(request, "exams/attempt.html", {"attempt": attempt, "blueprint": attempt.blueprint,
                                                  "items": items, "state": state,
                                                  "labels": _labels()})


@login_required
@require_POST
@_json_view
def answer(request, attempt, data):
    return api.save_answer(request.user, attempt, data.get("position"), data.get("choice"), data.get("seq"))


@login_required
@require_POST
@_json_view
def leave(request, attempt, data):
    return api.record_leave(request.user, attempt, returned=data.get("returned", False))


@login_required
@require_GET
@_json_view
def state(request, attempt, data):
    return api.attempt_state(request.user, attempt)


@login_required
@require_POST
def submit(request, attempt_id: int):
    attempt = _own_attempt(request, attempt_id)
    api.submit(request.user, attempt)
    return redirect("exams:result", attempt_id=attempt.pk)


@never_cache
@login_required
@require_GET
def result(request, attempt_id: int):
    """Score and pass/fail; each question with the trainee's answer and, when the blueprint shows
    them, the correct options and the explanation (only once submitted)."""
    attempt = _own_attempt(request, attempt_id)
    api.attempt_state(request.user, attempt)  # closes it when its time is over
    attempt.refresh_from_db()
    if attempt.status == Attempt.Status.OPEN:
        return redirect("exams:attempt", attempt_id=attempt.pk)
    return render(request, "exams/result.html", {"attempt": attempt, "blueprint": attempt.blueprint,
                                                 "review": _review(attempt)})


def _review(attempt: Attempt) -> list[dict] | None:
    if attempt.status != Attempt.Status.SUBMITTED or not attempt.blueprint.show_explanations:
        return None
    answers = api.current_answers(attempt, until=attempt.deadline_at)
    out = []
    for item in attempt.items.select_related("version").order_by("position"):
        chosen = set(answers.get(item.pk) or [])
        correct = set(item.version.correct)
        options = [{"letter": LETTERS[pos], "text": item.version.options[orig], "chosen": orig in chosen,
                    "correct": orig in correct} for pos, orig in enumerate(item.option_order)]
        out.append({"position": item.position, "stem": item.version.stem, "options": options,
                    "right": chosen == correct, "explanation": item.version.explanation})
    return out


# ---------------------------------------------------------------- staff


def _require_staff(user) -> None:
    from lms.models import Role

    if not (is_system_admin(user) or user.has_role(Role.REGION_ADMIN)):
        raise PermissionDenied(_("This page is for region and system admins."))


def _staff_attempts(user):
    return scope(user, Attempt.objects.select_related("user", "blueprint__programme"), "user__region")


@never_cache
@login_required
@require_GET
def staff_attempts(request):
    """Attempts of the trainees in the admin's region (a name or username, or an exam, narrows it)."""
    _require_staff(request.user)
    qs = _staff_attempts(request.user).order_by("-started_at")
    q = (request.GET.get("q") or "").strip()[:64]
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(user__real_name__icontains=q) | Q(user__username__iexact=q))
    blueprint = (request.GET.get("blueprint") or "").strip()
    if blueprint.isdigit():
        qs = qs.filter(blueprint_id=int(blueprint))
    return render(request, "exams/staff_attempts.html", {"attempts": qs[:200], "q": q, "blueprint": blueprint})


def _staff_attempt(request, attempt_id: int) -> Attempt:
    _require_staff(request.user)
    attempt = _staff_attempts(request.user).filter(pk=attempt_id).first()
    if attempt is None:
        raise Http404(_("No such attempt."))
    return attempt


@never_cache
@login_required
@require_GET
def staff_attempt(request, attempt_id: int):
    """One attempt for staff: times, score, every leave with its times, grants; grant and void forms."""
    attempt = _staff_attempt(request, attempt_id)
    return render(request, "exams/staff_attempt.html", {
        "attempt": attempt, "leaves": attempt.leaves.order_by("left_at", "pk"),
        "grants": Grant.objects.filter(user=attempt.user, blueprint=attempt.blueprint).select_related("granted_by")
        .order_by("-created_at"),
        "remaining_s": api.remaining_s(attempt), "now": timezone.now(), "kinds": Grant.Kind.choices,
    })


@login_required
@require_POST
def staff_void(request, attempt_id: int):
    attempt = _staff_attempt(request, attempt_id)
    try:
        api.void(request.user, attempt, request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The attempt is voided."))
    return redirect("exams:staff_attempt", attempt_id=attempt.pk)


@login_required
@require_http_methods(["POST"])
def staff_grant(request, attempt_id: int):
    """Extra time or an extra attempt for the trainee of this attempt, at the same exam."""
    attempt = _staff_attempt(request, attempt_id)
    kind = request.POST.get("kind", "")
    minutes = (request.POST.get("extra_minutes") or "").strip()
    try:
        extra_s = None
        if kind == Grant.Kind.EXTRA_TIME:
            try:
                extra_s = int(minutes) * 60
            except ValueError:
                raise ValidationError(_("Extra time is between 1 second and 4 hours.")) from None
        api.grant(request.user, attempt.user, attempt.blueprint, kind, request.POST.get("reason", ""), extra_s)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Granted."))
    return redirect("exams:staff_attempt", attempt_id=attempt.pk)

