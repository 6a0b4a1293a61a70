"""``/register/``: public real-name registration in two steps (``lms.registration``).

Step 1 asks for the mobile number and sends the code; step 2 (same address, while the session
holds the code's id and the number, encrypted) asks for the code and the person's details.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from . import api, protection, registration
from .forms import NoEchoTextInput
from .views import _add_errors

SESSION_KEY = "lms_registration"


class PhoneForm(forms.Form):
    phone = forms.CharField(label=gettext_lazy("Mobile number"), max_length=20, widget=forms.TextInput(
        attrs={"autocomplete": "tel", "inputmode": "tel", "class": "num", "autofocus": True}))

    def clean_phone(self):
        return protection.normalize_phone(self.cleaned_data["phone"])


class RegistrationForm(forms.Form):
    code = forms.RegexField(label=gettext_lazy("Code from the text message"), regex=r"^\s*\d{6}\s*$", max_length=12,
                            error_messages={"invalid": gettext_lazy("The code has 6 digits.")},
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                          "class": "num"}))
    real_name = forms.CharField(label=gettext_lazy("Real name"), max_length=64,
                                help_text=gettext_lazy("As on your ID card: exams and certificates carry it."),
                                widget=forms.TextInput(attrs={"autocomplete": "name"}))
    id_card = forms.CharField(label=gettext_lazy("ID-card number"), max_length=32, widget=NoEchoTextInput(
        attrs={"autocomplete": "off", "spellcheck": "false", "class": "num"}))
    username = forms.CharField(label=gettext_lazy("Login name (optional)"), max_length=150, required=False,
                               help_text=gettext_lazy("Leave empty to have one made for you; it is shown after "
                                                      "registering."),
                               widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}))
    password = forms.CharField(label=gettext_lazy("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=gettext_lazy("Password again"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    class_code = forms.CharField(label=gettext_lazy("Class code (optional)"), max_length=32, required=False,
                                 help_text=gettext_lazy("If your training base gave you a class code, enter it to "
                                                        "enrol right away."),
                                 widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                               "autocapitalize": "characters", "class": "num"}))
    agree_notice = forms.BooleanField(label=gettext_lazy("I have read and agree to the privacy notice."),
                                      required=False)
    agree_sensitive = forms.BooleanField(
        label=gettext_lazy("I separately agree to the processing of my ID-card number and photo (sensitive "
                           "personal information) for training, exams and certificates."), required=False)

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password2") and data["password"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        if data.get("id_card"):
            try:
                data["id_card"] = protection.normalize_id_card(data["id_card"])
            except forms.ValidationError as exc:
                self.add_error("id_card", exc)
        if not data.get("agree_notice"):
            self.add_error("agree_notice", _("Please read and agree to the privacy notice."))
        if not data.get("agree_sensitive"):
            self.add_error("agree_sensitive", _("Please also agree to the processing of your ID-card number and "
                                                "photo: the exams and certificates are in your real name."))
        return data


def _ticket(request):
    ticket = request.session.get(SESSION_KEY)
    if not isinstance(ticket, dict) or "phone" not in ticket:
        return None
    try:
        ticket["phone_clear"] = protection.decrypt(ticket["phone"], "phone")
    except Exception:
        return None
    return ticket


def _send(request, phone: str, form) -> bool:
    try:
        code_id = registration.send_registration_code(phone)
    except api.TooManyAttempts as exc:
        form.add_error(None, str(exc))
        return False
    except forms.ValidationError as exc:
        _add_errors(form, exc)
        return False
    request.session[SESSION_KEY] = {"code": code_id, "phone": protection.encrypt(phone, "phone"),
                                    "masked": protection.mask_phone(phone)}
    return True


@sensitive_post_parameters("phone", "code", "id_card", "password", "password2")
@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("lms:dashboard")
    ticket = _ticket(request)
    action = request.POST.get("action", "")
    status = 200
    if request.method == "POST" and action == "restart":
        request.session.pop(SESSION_KEY, None)
        return redirect("lms:register")
    if ticket is None:
        form = PhoneForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if _send(request, form.cleaned_data["phone"], form):
                return redirect("lms:register")
            status = 429 if form.non_field_errors() else 200
        return render(request, "lms/register.html", {"phone_form": form, "step": 1}, status=status)

    if request.method == "POST" and action == "resend":
        resend_form = PhoneForm()
        if _send(request, ticket["phone_clear"], resend_form):
            messages.info(request, _("A new code has been sent to %(phone)s.") % {"phone": ticket["masked"]})
        else:
            for e in resend_form.non_field_errors():
                messages.error(request, e)
        return redirect("lms:register")

    form = RegistrationForm(request.POST if request.method == "POST" else None)
    already = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = registration.register(
                ticket.get("code"), phone=ticket["phone_clear"], code=data["code"], real_name=data["real_name"],
                id_card=data["id_card"], password=data["password"], username=data["username"],
                class_code=data["class_code"], agree_notice=data["agree_notice"],
                agree_sensitive=data["agree_sensitive"])
        except forms.ValidationError as exc:
            already = any(getattr(e, "code", None) == "already_registered"
                          for errs in getattr(exc, "error_dict", {}).values() for e in errs)
            _add_errors(form, exc)
        else:
            request.session.pop(SESSION_KEY, None)
            login(request, person, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome, %(name)s. Your account is open; your login name is %(username)s.")
                             % {"name": person.real_name, "username": person.username})
            if data["class_code"]:
                return redirect("courses:home")
            return redirect("lms:dashboard")
    return render(request, "lms/register.html", {
        "form": form, "step": 2, "masked": ticket["masked"], "already": already,
        "minutes": max(1, settings.LMS_RESET_CODE_TTL_S // 60), "privacy_url": reverse("lms:privacy_notice"),
    })
