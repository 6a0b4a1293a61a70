"""The certificates' staff pages and the holder's page (thin views over ``certificates.issuing`` and
``certificates.lifecycle``).

Staff pages (``/certificates/…``): system, region and organisation admins, each in their scope
(``lifecycle.visible_certificates``, ``courses.permissions.managed_classes``); anyone else 403, an object
outside the scope 404 (its existence is not revealed). Changes (revoke, correct a name, renew, issue a
class, grant an exception) are refused on the server by the api with its reason, shown as a message.

The holder's page (``/my/certificates/``): the signed-in person's own certificates and reminders.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses import permissions as course_permissions
from courses.models import Enrolment, Programme, TrainingClass
from lms import permissions as lms_permissions
from lms.views import _add_errors
from lms.errors import messages_of as _messages_of

from . import issuing, lifecycle
from .forms import CertificateSearchForm, CorrectNameForm, ExceptionForm, RevokeForm
from .models import Certificate, IssueJob, Reminder

RUNNING = (IssueJob.Status.QUEUED, IssueJob.Status.RUNNING)


def _require_staff(user) -> None:
    if not lifecycle.is_certificate_staff(user):
        raise PermissionDenied(_("This page is for organisation, region and system admins."))


def _certificate_or_404(user, pk: int) -> Certificate:
    try:
        return lifecycle.visible_certificates(user).select_related("issuer", "renews", "revoked_by").get(pk=pk)
    except Certificate.DoesNotExist:
        raise Http404 from None


def _class_or_404(user, pk: int) -> TrainingClass:
    try:
        return course_permissions.managed_classes(user).get(pk=pk)
    except TrainingClass.DoesNotExist:
        raise Http404 from None


def _url(name: str, *args) -> str | None:
    """The URL of a route of another area, or None while it does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _with_links(certificates, today):
    for c in certificates:
        c.status_now = c.status(today)
        c.pdf_url = _url("certificates:certificate_pdf", c.pk)
        c.badge_url = _url("certificates:certificate_badge", c.pk)
    return certificates


# ------------------------------------------------------------------ the list

def _status_q(status: str, today) -> Q | None:
    if status == Certificate.Status.REVOKED:
        return Q(revoked_at__isnull=False)
    if status == Certificate.Status.EXPIRED:
        return Q(revoked_at__isnull=True, expires_on__lt=today)
    if status == Certificate.Status.VALID:
        return Q(revoked_at__isnull=True, expires_on__gte=today)
    return None


@never_cache
@login_required
@require_GET
def certificate_list(request):
    _require_staff(request.user)
    today = timezone.localdate()
    form = CertificateSearchForm(request.GET or None)
    qs = lifecycle.visible_certificates(request.user)
    q = status = ""
    if form.is_valid():
        q, status = form.cleaned_data["q"].strip(), form.cleaned_data["status"]
        if q:
            qs = qs.filter(Q(number__startswith=q.replace(" ", "")) | Q(holder_name__icontains=q)
                           | Q(training_class__name__icontains=q))
        status_q = _status_q(status, today)
        if status_q is not None:
            qs = qs.filter(status_q)
    page = Paginator(qs.order_by("-issued_on", "-pk"), 50).get_page(request.GET.get("page"))
    _with_links(page.object_list, today)
    query = {k: v for k, v in (("q", q), ("status", status)) if v}
    return render(request, "certificates/staff/list.html", {
        "form": form, "page": page, "pager_query": urlencode(query), "searched": bool(query),
        "can_grant": _can_grant(request.user)})


# ------------------------------------------------------------------ one certificate

PRINTED_LABELS = [
    ("number", _("Certificate number")), ("title", _("Certificate title")), ("holder_name", _("Holder's name")),
    ("id_card_masked", _("ID-card number")), ("programme_name", _("Programme")), ("class_hours", _("Class hours")),
    ("issuer_name", _("Issuing organisation")), ("instructor_names", _("Instructors")),
    ("examiner_name", _("Examiner")), ("issued_on", _("Issued on")), ("expires_on", _("Expires on")),
]


def _printed(values: dict) -> list[tuple[str, object]]:
    return [(str(label), values.get(name) if values.get(name) not in (None, "") else "—")
            for name, label in PRINTED_LABELS]


def _detail(request, certificate: Certificate, *, revoke_form=None, name_form=None):
    today = timezone.localdate()
    _with_links([certificate], today)
    manage = lifecycle.can_manage(request.user, certificate)
    renewal = None
    renewed_by = Certificate.objects.filter(renews=certificate).first()
    if manage and certificate.revoked_at is None and renewed_by is None:
        renewal = lifecycle.renewal_check(certificate, today=today)
    reminders = certificate.reminders.order_by("-sent_at")
    current = lifecycle.printed_fields(certificate)
    revisions = []
    for r in certificate.revisions.select_related("replaced_by").order_by("-revision"):
        # what that revision printed differently from the current one (all of it if nothing differs)
        changed = {k: v for k, v in r.fields.items() if k in current and k != "revision" and current[k] != v}
        revisions.append((r, [(label, value) for label, value in _printed(changed or r.fields)
                              if changed == {} or value != "—"]))
    return render(request, "certificates/staff/detail.html", {
        "c": certificate, "printed": _printed(current), "revisions": revisions,
        "renewed_by": renewed_by, "renewal": renewal, "manage": manage, "reminders": reminders,
        "revoke_form": revoke_form or RevokeForm(), "name_form": name_form or CorrectNameForm(),
        "today": today, "Status": Certificate.Status,
        "person_edit_url": (_url("lms:person_edit", certificate.holder_id)
                            if manage and lms_permissions.can_manage_region(request.user, certificate.holder.region)
                            else None),
    })


@never_cache
@login_required
@require_GET
def certificate_detail(request, pk: int):
    _require_staff(request.user)
    return _detail(request, _certificate_or_404(request.user, pk))


@login_required
@require_POST
def certificate_revoke(request, pk: int):
    _require_staff(request.user)
    certificate = _certificate_or_404(request.user, pk)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            lifecycle.revoke(request.user, certificate, reason=form.cleaned_data["reason"])
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _messages_of(exc))
        else:
            messages.success(request, _("Certificate %(number)s is revoked.") % {"number": certificate.number})
        return redirect("certificates:detail", pk=certificate.pk)
    return _detail(request, certificate, revoke_form=form)


@login_required
@require_POST
def certificate_correct_name(request, pk: int):
    _require_staff(request.user)
    certificate = _certificate_or_404(request.user, pk)
    form = CorrectNameForm(request.POST)
    if form.is_valid():
        try:
            done = lifecycle.correct_name(request.user, certificate, new_name=form.cleaned_data["new_name"],
                                          reason=form.cleaned_data["reason"])
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Certificate %(number)s is re-issued as revision %(revision)s; its PDF is "
                                        "being made again.") % {"number": done.number, "revision": done.revision})
            return redirect("certificates:detail", pk=certificate.pk)
        if not form.errors:
            return redirect("certificates:detail", pk=certificate.pk)
    return _detail(request, certificate, name_form=form)


@login_required
@require_POST
def certificate_renew(request, pk: int):
    _require_staff(request.user)
    certificate = _certificate_or_404(request.user, pk)
    try:
        new = lifecycle.renew(request.user, certificate)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _messages_of(exc))
        return redirect("certificates:detail", pk=certificate.pk)
    messages.success(request, _("Renewed: certificate %(number)s, valid until %(date)s.")
                     % {"number": new.number, "date": f"{new.expires_on:%Y-%m-%d}"})
    if lifecycle.visible_certificates(request.user).filter(pk=new.pk).exists():
        return redirect("certificates:detail", pk=new.pk)
    return redirect("certificates:detail", pk=certificate.pk)


# ------------------------------------------------------------------ a class

def _job_json(job: IssueJob) -> dict:
    finished = job.status not in RUNNING
    out = {"id": job.pk, "status": job.status, "status_label": job.get_status_display(), "done": job.done,
           "total": job.total, "issued": job.issued, "finished": finished}
    if finished:
        out["rows"] = job.rows
        out["error"] = job.error
    return out


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def class_issue(request, class_id: int):
    _require_staff(request.user)
    klass = _class_or_404(request.user, class_id)
    if request.method == "POST":
        under_way = klass.issue_jobs.filter(status__in=RUNNING).exists()
        try:
            job = issuing.start_class_issue(request.user, klass)
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _messages_of(exc))
        else:
            if not under_way:
                messages.success(request, _("Issuing the certificates of %(n)s trainees: the bar below shows the "
                                            "progress.") % {"n": job.total})
            else:
                messages.warning(request, _("An issue of this class is already under way."))
        return redirect("certificates:class_issue", class_id=klass.pk)
    today = timezone.localdate()
    rule = issuing.rule_for(klass.programme)
    enrolments = (Enrolment.objects.filter(training_class=klass)
                  .exclude(status=Enrolment.Status.WITHDRAWN).select_related("user").order_by("user__real_name", "pk"))
    page = Paginator(enrolments, 100).get_page(request.GET.get("page"))
    issued = _with_links(list(Certificate.objects.filter(training_class=klass).select_related("holder")
                              .order_by("holder_name", "pk")), today)
    by_person: dict[int, list[Certificate]] = {}
    for c in issued:
        by_person.setdefault(c.holder_id, []).append(c)
    rows = []
    for e in page:
        check = issuing.eligibility(e.user, klass.programme, today=today) if rule is not None else None
        rows.append({"enrolment": e, "person": e.user, "check": check, "certificates": by_person.get(e.user_id, [])})
    job = klass.issue_jobs.select_related("requested_by").first()
    any_valid = any(c.status_now == Certificate.Status.VALID for c in issued)  # the class bundle's downloads
    return render(request, "certificates/staff/class_issue.html", {
        "klass": klass, "rule": rule, "page": page, "rows": rows, "issued": issued, "job": job,
        "job_running": job is not None and job.status in RUNNING,
        "job_state": _job_json(job) if job is not None else None,
        "outcomes": _outcomes(job) if job is not None and job.status not in RUNNING else None,
        "bundle_pdf_url": _url("certificates:class_bundle_pdf", klass.pk) if any_valid else None,
        "bundle_zip_url": _url("certificates:class_bundle_zip", klass.pk) if any_valid else None,
        "can_issue": lms_permissions.can_manage_region(request.user, klass.training_base.region),
        "can_grant": _can_grant(request.user),
        "labels": {"progress": _("%(done)s of %(total)s trainees done, %(issued)s issued"),
                   "lost": _("The connection was lost; retrying…")},
    })


def _outcomes(job: IssueJob) -> dict:
    groups = {"issued": [], "already": [], "not_eligible": [], "error": []}
    for row in job.rows:
        groups.setdefault(row.get("outcome", "error"), []).append(row)
    return groups


@never_cache
@login_required
@require_GET
def job_status(request, job_id: int):
    _require_staff(request.user)
    job = get_object_or_404(IssueJob.objects.select_related("training_class"), pk=job_id)
    if not course_permissions.can_manage_class(request.user, job.training_class):
        raise Http404
    return JsonResponse(_job_json(job))


# ------------------------------------------------------------------ the allowlist

def _can_grant(user) -> bool:
    return lms_permissions.is_system_admin(user) or bool(lms_permissions.administered_regions(user))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def exception_new(request):
    if not _can_grant(request.user):
        raise PermissionDenied(_("Exceptions are granted by region and system admins."))
    people = lms_permissions.visible_people(request.user).exclude(pk=request.user.pk)
    klass = None
    class_id = request.GET.get("class") or request.POST.get("class")
    if class_id and str(class_id).isdigit():
        klass = course_permissions.managed_classes(request.user).filter(pk=int(class_id)).first()
    if request.method == "POST":
        form = ExceptionForm(request.POST)
        if form.is_valid():
            person = people.filter(username=form.cleaned_data["person"].strip()).first()
            if person is None:
                form.add_error("person", _("No person with this login name in your region."))
            else:
                try:
                    issuing.grant_exception(request.user, person, form.cleaned_data["programme"],
                                            waives=form.cleaned_data["waives"], reason=form.cleaned_data["reason"])
                except PermissionDenied as exc:
                    form.add_error(None, str(exc))
                except ValidationError as exc:
                    _add_errors(form, exc)
                else:
                    messages.success(request, _("%(name)s is on the allowlist of %(programme)s.")
                                     % {"name": person.display_name, "programme": form.cleaned_data["programme"].name})
                    if klass is not None:
                        return redirect("certificates:class_issue", class_id=klass.pk)
                    return redirect("certificates:list")
    else:
        initial = {}
        person_id, programme_id = request.GET.get("person", ""), request.GET.get("programme", "")
        if person_id.isdigit():
            person = people.filter(pk=int(person_id)).first()
            if person is not None:
                initial["person"] = person.username
        if programme_id.isdigit() and Programme.objects.filter(pk=int(programme_id)).exists():
            initial["programme"] = int(programme_id)
        form = ExceptionForm(initial=initial)
    person_shown = None
    username = form["person"].value()
    if username:
        person_shown = people.filter(username=str(username).strip()).select_related("region").first()
    return render(request, "certificates/staff/exception_form.html", {
        "form": form, "klass": klass, "person_shown": person_shown})


# ------------------------------------------------------------------ the holder

@never_cache
@login_required
@require_GET
def mine(request):
    today = timezone.localdate()
    certificates = _with_links(list(Certificate.objects.filter(holder=request.user)
                                    .select_related("programme", "renews").order_by("-issued_on", "-pk")), today)
    renewed = set(Certificate.objects.filter(renews__in=[c.pk for c in certificates])
                  .values_list("renews_id", flat=True))
    refreshers: dict[int, list[str]] = {}
    for c in certificates:
        c.is_renewed = c.pk in renewed
        c.opens, c.closes = lifecycle.renewal_window(c)
        c.renewal_hint = (c.revoked_at is None and not c.is_renewed and c.opens <= today <= c.closes)
        if c.renewal_hint:
            if c.programme_id not in refreshers:
                refreshers[c.programme_id] = [r.programme.name for r in lifecycle.refresher_rules(c.programme)]
            c.refreshers = refreshers[c.programme_id]
            c.renewal_hint = bool(c.refreshers)  # no refresher programme: nothing to suggest
            c.new_expiry = lifecycle.new_expiry(c, today)
    # the unread in-app reminders (as on the dashboard), then the last few read ones
    reminders = list(lifecycle.unread_reminders(request.user)[:10]) + list(
        Reminder.objects.filter(certificate__holder=request.user, channel=Reminder.Channel.APP, read_at__isnull=False)
        .select_related("certificate").order_by("-read_at")[:5])
    return render(request, "certificates/mine.html", {
        "certificates": certificates, "reminders": reminders, "today": today, "Status": Certificate.Status})


@login_required
@require_POST
def reminder_read(request, pk: int):
    reminder = get_object_or_404(Reminder.objects.select_related("certificate"), pk=pk,
                                 certificate__holder=request.user)
    lifecycle.mark_reminder_read(request.user, reminder)
    return redirect("certificates:mine")
