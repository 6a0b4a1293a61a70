"""Pages of personal-data rights: the privacy notice and consent, "My data" and its export, anonymising a person."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from . import api, privacy
from .models import User


class ConsentForm(forms.Form):
    agree = forms.BooleanField(label=gettext_lazy("I have read the privacy notice and agree to it."),
                               error_messages={"required": gettext_lazy("Please tick to agree to the notice.")})
    sensitive = forms.BooleanField(
        label=gettext_lazy("I separately agree to the processing of my ID-card number and photo (sensitive "
                           "personal information) for real-name exams and certificates."),
        error_messages={"required": gettext_lazy("Please also tick the separate consent to your ID-card "
                                                 "number and photo.")})


class ExportForm(forms.Form):
    fmt = forms.ChoiceField(label=gettext_lazy("Format"), choices=[
        ("xlsx", gettext_lazy("Excel (one sheet per kind of data)")), ("json", gettext_lazy("JSON (one file)"))],
        initial="xlsx", widget=forms.RadioSelect)
    password = forms.CharField(label=gettext_lazy("Your password, to confirm"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class AnonymiseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))
    confirm_name = forms.CharField(label=gettext_lazy("Type the person's name to confirm"), required=False)


from .views import _add_errors  # noqa: E402  (one way to put an api ValidationError on a form)


def _safe_next(request, value: str | None) -> str | None:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return None


@require_http_methods(["GET", "POST"])
def notice(request):
    """The privacy notice: public; a signed-in person who has not agreed to this version agrees here."""
    user = request.user
    needs = user.is_authenticated and not privacy.has_current_consent(user)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = ConsentForm(request.POST or None) if needs else None
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.POST.get("decline"):
            logout(request)
            messages.info(request, _("You did not agree to the privacy notice, so you have been signed out. "
                                     "You can sign in again whenever you wish to agree."))
            return redirect("/")
        if not needs:
            return redirect(next_url or "lms:dashboard")
        if form.is_valid():
            try:
                api.record_privacy_consent(user, version=settings.PRIVACY_NOTICE_VERSION,
                                           sensitive=form.cleaned_data["sensitive"])
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                request.session[privacy.SESSION_KEY] = settings.PRIVACY_NOTICE_VERSION
                return redirect(next_url or "lms:dashboard")
    consent = (user.privacy_consents.filter(version=settings.PRIVACY_NOTICE_VERSION).first()
               if user.is_authenticated and not needs else None)
    return render(request, "lms/privacy_notice.html", {
        "form": form, "next": next_url or "", "version": settings.PRIVACY_NOTICE_VERSION, "consent": consent,
        "contact": settings.LMS_PRIVACY_CONTACT,
        "declarations": privacy.declarations(),
        "asked_again": needs and user.privacy_consents.exists(),
    })


@login_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def my_data(request):
    """What the product holds about the signed-in person, and its download (JSON or Excel)."""
    form = ExportForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            content, content_type, filename = api.export_personal_data(
                request.user, password=form.cleaned_data["password"], fmt=form.cleaned_data["fmt"])
        except api.TooManyAttempts as exc:
            form.add_error(None, str(exc))
            status = 429
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            response = HttpResponse(content, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
    sections = [(d, len(d.export(request.user))) for d in privacy.declarations()]
    return render(request, "lms/privacy_my_data.html", {
        "form": form, "sections": sections, "limit": settings.LMS_PRIVACY_EXPORTS_PER_HOUR,
        "version": settings.PRIVACY_NOTICE_VERSION,
        "consent": request.user.privacy_consents.order_by("-agreed_at").first(),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def anonymise(request, pk: int):
    """Confirm and anonymise a person who has left (region admins in their subtree, system admins)."""
    try:
        person = api.get_person(request.user, pk)
    except User.DoesNotExist:
        raise Http404 from None
    if not api.can_anonymise(request.user, person):
        if person.anonymised_at is not None:
            messages.info(request, _("This person has already been anonymised."))
            return redirect("lms:person", pk=person.pk)
        raise PermissionDenied(_("You cannot anonymise this person."))
    form = AnonymiseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api.anonymise_person(request.user, person, reason=form.cleaned_data["reason"],
                                 confirm_name=form.cleaned_data["confirm_name"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The person has been anonymised. Their exam records are kept under "
                                        "“Deleted user #%(id)s”.") % {"id": person.pk})
            return redirect("lms:person", pk=person.pk)
    return render(request, "lms/privacy_anonymise.html", {
        "person": person, "form": form, "declarations": privacy.declarations(),
    })
