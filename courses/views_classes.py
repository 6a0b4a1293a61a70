"""Class administration pages (/classes/): list, open or change a class, its enrolments, its roster upload.

For organisation, region and system admins (``courses.permissions``); a class outside the admin's
scope answers 404. Thin views over ``courses.classes`` and ``courses.roster``.
"""

from __future__ import annotations

import base64
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from lms import protection
from lms.views import _add_errors

from . import classes, permissions
from .forms_classes import ClassForm, RosterForm
from .models import Enrolment, RosterImport, TrainingClass
from .roster import import_roster

# An upload with bad rows is kept (encrypted, in the cache) this long, for "import the good rows".
PENDING_TTL_S = 30 * 60


def _require_class_admin(user) -> None:
    if not permissions.is_class_admin(user):
        raise PermissionDenied(_("This page is for organisation, region and system admins."))


def _class_or_404(user, pk: int) -> TrainingClass:
    try:
        return permissions.managed_classes(user).get(pk=pk)
    except TrainingClass.DoesNotExist:
        raise Http404 from None


@login_required
def class_list(request):
    _require_class_admin(request.user)
    qs = (permissions.managed_classes(request.user)
          .annotate(enrolled=Count("enrolments", filter=Q(enrolments__status=Enrolment.Status.ACTIVE)))
          .order_by("-starts_on", "name"))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "courses/classes/list.html", {"page": page})


def _form_data(form) -> dict:
    data = dict(form.cleaned_data)
    data["instructors"] = list(data.get("instructors") or [])
    return data


@login_required
@require_http_methods(["GET", "POST"])
def class_create(request):
    _require_class_admin(request.user)
    form = ClassForm(request.POST or None, user=request.user)
    if request.method == "GET":
        bases = permissions.class_organisations(request.user)
        if bases.count() == 1:
            form.initial["training_base"] = bases.first().pk
    elif form.is_valid():
        try:
            created = classes.create_class(request.user, **_form_data(form))
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Opened the class %(name)s. Its class code is %(code)s.")
                             % {"name": created.name, "code": created.code})
            return redirect("classes:detail", pk=created.pk)
    return render(request, "courses/classes/form.html", {"form": form, "klass": None})


@login_required
@require_http_methods(["GET", "POST"])
def class_edit(request, pk: int):
    _require_class_admin(request.user)
    klass = _class_or_404(request.user, pk)
    form = ClassForm(request.POST or None, user=request.user, training_class=klass)
    if request.method == "GET":
        form.initial = {f: getattr(klass, f) for f in classes.FIELDS if f not in ("programme", "training_base")}
        form.initial.update(programme=klass.programme_id, training_base=klass.training_base_id, status=klass.status,
                            instructors=list(klass.instructors.values_list("pk", flat=True)))
    elif form.is_valid():
        try:
            classes.update_class(request.user, klass, **_form_data(form))
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Saved the changes to %(name)s.") % {"name": form.cleaned_data["name"]})
            return redirect("classes:detail", pk=klass.pk)
    return render(request, "courses/classes/form.html", {"form": form, "klass": klass})


@login_required
def class_detail(request, pk: int):
    _require_class_admin(request.user)
    klass = _class_or_404(request.user, pk)
    enrolments = (klass.enrolments.select_related("user__organisation").order_by("user__real_name", "pk"))
    page = Paginator(enrolments, 100).get_page(request.GET.get("page"))
    lessons_total, progress = classes.class_progress(klass, [e.user_id for e in page])
    for e in page:
        e.progress = progress.get(e.user_id, {"done": 0, "minutes": 0})
    active = klass.enrolments.filter(status=Enrolment.Status.ACTIVE).count()
    return render(request, "courses/classes/detail.html", {
        "klass": klass, "page": page, "active": active, "lessons_total": lessons_total, "free": max(0, klass.capacity - active),
        "instructors": klass.instructors.order_by("real_name"),
        "imports": klass.roster_imports.select_related("uploaded_by")[:10],
    })


@login_required
@require_POST
def class_rotate_code(request, pk: int):
    _require_class_admin(request.user)
    klass = _class_or_404(request.user, pk)
    code = classes.rotate_class_code(request.user, klass)
    messages.success(request, _("The class has a new code: %(code)s. The old code no longer works.") % {"code": code})
    return redirect("classes:detail", pk=klass.pk)


def _pending_key(import_pk: int, user_pk: int) -> str:
    return f"courses:roster:pending:{import_pk}:{user_pk}"


def _keep_pending(result: RosterImport, user, data: bytes) -> None:
    """Keep the rejected upload, encrypted, so that "import the N good rows" needs no second upload."""
    token = protection.encrypt(base64.b64encode(data).decode(), "roster-file")
    cache.set(_pending_key(result.pk, user.pk), token, PENDING_TTL_S)


def _take_pending(result: RosterImport, user) -> bytes | None:
    token = cache.get(_pending_key(result.pk, user.pk))
    if token is None:
        return None
    try:
        return base64.b64decode(protection.decrypt(token, "roster-file"))
    except Exception:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def class_roster(request, pk: int):
    """GET: the upload form. POST ``file``: import (or show the bad rows). POST ``good_rows_of``: import the
    good rows of an upload just shown with bad rows."""
    _require_class_admin(request.user)
    klass = _class_or_404(request.user, pk)
    form = RosterForm()
    context = {"klass": klass, "form": form, "result": None}
    status = 200
    if request.method == "POST":
        data = name = None
        good_rows_only = False
        if request.POST.get("good_rows_of"):
            shown = RosterImport.objects.filter(pk=request.POST["good_rows_of"], training_class=klass,
                                                uploaded_by=request.user, outcome=RosterImport.Outcome.REJECTED).first()
            data = _take_pending(shown, request.user) if shown is not None else None
            if data is None:
                messages.warning(request, _("That upload is no longer kept. Please choose the file again and tick "
                                            "“import the good rows anyway”."))
                return redirect("classes:roster", pk=klass.pk)
            name, good_rows_only = shown.file_name, True
        else:
            form = RosterForm(request.POST, request.FILES)
            context["form"] = form
            if form.is_valid():
                upload = form.cleaned_data["file"]
                data, name = upload.read(), upload.name
                good_rows_only = form.cleaned_data["good_rows_only"]
        if data is not None:
            try:
                result = import_roster(request.user, klass, io.BytesIO(data), file_name=name,
                                       good_rows_only=good_rows_only)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("file" if "file" in form.fields else None, message)
                status = 400
            else:
                if result.outcome != RosterImport.Outcome.REJECTED:
                    cache.delete(_pending_key(result.pk, request.user.pk))
                    messages.success(request, _(
                        "Roster imported: %(enrolled)s enrolled (%(created)s new people), %(bad)s rows left out.")
                        % {"enrolled": result.enrolments_created, "created": result.people_created,
                           "bad": result.rows_bad})
                    return redirect("classes:detail", pk=klass.pk)
                _keep_pending(result, request.user, data)
                context["result"] = result
                context["bad_rows"] = [r for r in result.rows if r["status"] == "bad"]
                context["good_count"] = result.rows_total - result.rows_bad
    return render(request, "courses/classes/roster.html", context, status=status)
