"""Forms of the certificates' staff and holder pages (the api checks everything again)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import Programme

from .models import Certificate, CertificateRule, EligibilityException

STATUS_CHOICES = [("", _("Any status")), *Certificate.Status.choices]


class CertificateSearchForm(forms.Form):
    q = forms.CharField(label=_("Number, name or class"), max_length=64, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("Reason for revocation"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(label=_("I understand: the certificate shows as revoked everywhere at once, and this "
                                         "cannot be undone."),
                                 error_messages={"required": _("Confirm the revocation.")})


class CorrectNameForm(forms.Form):
    new_name = forms.CharField(label=_("Corrected name"), max_length=64)
    reason = forms.CharField(label=_("Reason for the correction"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("e.g. a wrong character: checked against the ID card"))


def certifying_programmes():
    """Programmes whose rule issues certificates (``issuing.grant_exception`` accepts only these)."""
    ids = CertificateRule.objects.filter(certifies=True).values_list("programme_id", flat=True)
    return Programme.objects.filter(pk__in=list(ids)).order_by("kind", "name")


class ExceptionForm(forms.Form):
    person = forms.CharField(label=_("Login name of the person"), max_length=150)
    programme = forms.ModelChoiceField(label=_("Programme"), queryset=Programme.objects.none(),
                                       empty_label=None)
    waives = forms.MultipleChoiceField(label=_("Rules waived"), choices=EligibilityException.Waives.choices,
                                       widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Recorded with the exception and on the certificate's evidence, e.g. the "
                                         "theory exam was taken on paper at a site without network."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = certifying_programmes()
