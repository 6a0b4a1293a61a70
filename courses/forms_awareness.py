"""The form of an awareness training session (普及培训): the organisation (only those the admin manages), the
day, and a headcount per key group. ``courses.awareness.record_session`` checks everything again."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lms.models import Organisation

from . import permissions
from .awareness import MAX_GROUP
from .forms_classes import DateInput
from .models import AwarenessRecord

GROUP_PREFIX = "group_"


class SessionForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("Organisation that held the session"),
                                          queryset=Organisation.objects.none())
    held_on = forms.DateField(label=_("Day of the session"), widget=DateInput())

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = permissions.managed_organisations(user).order_by("region__path", "name")
        self.fields["organisation"].label_from_instance = lambda o: f"{o.name}（{o.region.name}）"
        for value, label in AwarenessRecord.Group.choices:
            self.fields[GROUP_PREFIX + value] = forms.IntegerField(
                label=label, required=False, min_value=0, max_value=MAX_GROUP,
                widget=forms.NumberInput(attrs={"min": 0, "max": MAX_GROUP, "step": 1, "inputmode": "numeric"}))

    def group_fields(self):
        return [self[name] for name in self.fields if name.startswith(GROUP_PREFIX)]

    def main_fields(self):
        return [self[name] for name in self.fields if not name.startswith(GROUP_PREFIX)]

    def headcounts(self) -> dict[str, int]:
        """{group: headcount} of the groups filled in (after ``is_valid``)."""
        return {name[len(GROUP_PREFIX):]: value for name, value in self.cleaned_data.items()
                if name.startswith(GROUP_PREFIX) and value is not None}
