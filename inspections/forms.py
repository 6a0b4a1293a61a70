"""Forms of the inspection pages (the phone checklist posts JSON, not forms)."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _, pgettext_lazy

from lms.models import Region

from .models import Checklist, Finding


class PlanForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("inspection plan", "Name"), max_length=128)
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.none())
    period_start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    period_end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    sample_size = forms.IntegerField(label=_("Classes to inspect"), min_value=1, max_value=500, initial=3)
    checklist = forms.ModelChoiceField(label=_("Checklist"), queryset=Checklist.objects.filter(is_active=True))
    seed = forms.CharField(label=_("Seed"), max_length=64, required=False,
                           help_text=_("Leave empty for a new random seed; give a recorded one to repeat a draw."))
    weights = forms.CharField(label=_("Risk weights (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
                              help_text=_("Empty: the defaults. For example {\"new_instructor\": 3}."))

    def __init__(self, *args, regions=None, **kwargs):
        super().__init__(*args, **kwargs)
        if regions is not None:
            self.fields["region"].queryset = regions

    def clean_weights(self):
        text = self.cleaned_data.get("weights", "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("The weights are not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The weights must be a JSON object."))
        return value


class FindingForm(forms.Form):
    severity = forms.ChoiceField(label=_("Severity"), choices=Finding.Severity.choices)
    deadline = forms.DateField(label=_("Rectify by"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    item_code = forms.ChoiceField(label=_("Checklist item"), required=False)
    description = forms.CharField(label=_("Description"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, checklist=None, **kwargs):
        super().__init__(*args, **kwargs)
        items = checklist.items if checklist is not None else []
        self.fields["item_code"].choices = [("", "—")] + [(i["code"], i["text"][:60]) for i in items]


class FollowUpForm(forms.Form):
    action = forms.ChoiceField(choices=[("rectify", "rectify"), ("verify", "verify"), ("reopen", "reopen")],
                               widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    deadline = forms.DateField(label=_("New deadline"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
