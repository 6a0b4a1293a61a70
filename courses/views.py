"""Thin views of the trainee's study: 我的学习, enrolling with a class code, and the JSON endpoints
the lesson pages call (heartbeats, video ranges, practice answers, a lesson's state)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import api
from .study_forms import ClassCodeForm

MAX_BODY_BYTES = 64 * 1024


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": str(message)}, status=status, json_dumps_params={"ensure_ascii": False})


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


def _json_view(func):
    """Run ``func(request, data)`` and turn the api's exceptions into JSON errors (400, 403, 404)."""

    def wrapper(request, *args, **kwargs):
        try:
            data = _json_body(request) if request.method == "POST" else {}
            result = func(request, data, *args, **kwargs)
        except ValidationError as exc:
            return _error(" ".join(exc.messages), 400)
        except PermissionDenied as exc:
            return _error(str(exc) or _("You may not study this lesson."), 403)
        except api.LessonNotFound as exc:
            return _error(str(exc), 404)
        response = JsonResponse(result, json_dumps_params={"ensure_ascii": False})
        response["Cache-Control"] = "no-store"
        return response

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@login_required
@require_POST
@_json_view
def heartbeat(request, data):
    return api.record_heartbeat(request.user, data.get("lesson"), visible=data.get("visible"),
                                start=data.get("start", False))


@login_required
@require_POST
@_json_view
def video(request, data):
    return api.record_video_ranges(request.user, data.get("lesson"), data.get("video"), data.get("ranges"))


@login_required
@require_POST
@_json_view
def answer(request, data):
    return api.answer_question(request.user, data.get("lesson"), data.get("question"), data.get("choice"))


def _labels() -> dict[str, str]:
    """The words study.js shows, in the person's language (``%(name)s`` filled in by the script)."""
    return {
        "time_studied": _("Time studied (min:s)"),
        "videos": _("Videos"), "videos_watched": _("%(done)s of %(total)s watched"),
        "questions": _("Questions"), "questions_answered": _("%(done)s of %(total)s answered"),
        "lesson_done": _("You have finished this lesson."),
        "lesson_todo": _("Watch the videos, answer the questions and study long enough to finish this lesson."),
        "next_lesson": _("Next lesson"), "correct": _("Correct."), "incorrect": _("Not correct."),
        "correct_answer": _("Correct answer: %(choices)s"), "separator": _("; "),
        "choose_first": _("Choose an answer first."), "send_failed": _("Could not send the answer; try again."),
        "locked": _("You may not study this lesson."), "back_to_study": _("Back to My study"),
        "log_in_first": _("Please log in first."),
    }


@login_required
@require_GET
@_json_view
def lesson_state(request, data, lesson_id: int):
    return {**api.lesson_state(request.user, lesson_id), "labels": _labels()}


@never_cache
@login_required
@require_GET
def home(request):
    """我的学习: each active enrolment with its deadline, credits and hours, the next lesson and the modules."""
    return render(request, "courses/home.html", {"summaries": api.study_summaries(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def enrol(request):
    form = ClassCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enrolment = api.enrol_with_code(request.user, form.cleaned_data["code"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("code", message)
        else:
            messages.success(request, _("You are enrolled in %(name)s.") % {"name": enrolment.training_class.name})
            return redirect("courses:home")
    return render(request, "courses/enrol.html", {"form": form})


@login_required
@require_POST
def choose_modules(request, enrolment_id: int):
    """菜单式: save the optional modules the trainee chose (their own enrolment only)."""
    enrolment = api.active_enrolments(request.user).filter(pk=enrolment_id).first()
    if enrolment is None:
        raise PermissionDenied(_("This is not your enrolment."))
    try:
        api.choose_modules(request.user, enrolment, request.POST.getlist("module"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Your choice of modules is saved."))
    return redirect("courses:home")
