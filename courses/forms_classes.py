"""Forms of the class administration pages (choices limited to the admin's scope; checked again in the api)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lms.models import Organisation, User

from . import permissions
from .models import Programme, TrainingClass
from .roster import MAX_FILE_BYTES


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class ClassForm(forms.Form):
    name = forms.CharField(label=_("Class name"), max_length=128)
    programme = forms.ModelChoiceField(label=_("Programme"), queryset=Programme.objects.none())
    training_base = forms.ModelChoiceField(label=_("Organisation running the class"),
                                           queryset=Organisation.objects.none(),
                                           help_text=_("A training base, or a school or employer training its "
                                                       "own cohort on its premises."))
    venue = forms.CharField(label=_("Venue"), max_length=255, required=False)
    starts_on = forms.DateField(label=_("Starts on"), widget=DateInput())
    ends_on = forms.DateField(label=_("Ends on"), widget=DateInput())
    theory_deadline = forms.DateField(label=_("Theory deadline"), required=False, widget=DateInput(),
                                      help_text=_("The online theory is to be finished by this day."))
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, max_value=5000, initial=50)
    schedule = forms.CharField(label=_("Schedule"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
                               help_text=_("Sessions, one per line, e.g. 12月6日 9:00–17:00 心肺复苏与AED实操."))
    instructors = forms.ModelMultipleChoiceField(label=_("Instructors"), required=False,
                                                 queryset=User.objects.none(),
                                                 widget=forms.CheckboxSelectMultiple)
    status = forms.ChoiceField(label=_("Status"), choices=TrainingClass.Status.choices, required=False)

    def __init__(self, *args, user=None, training_class=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = Programme.objects.filter(is_active=True).order_by("kind", "name")
        self.fields["training_base"].queryset = permissions.class_organisations(user)
        self.fields["training_base"].label_from_instance = lambda o: f"{o.name}（{o.region.name}）"
        self.fields["instructors"].queryset = permissions.instructors_in_scope(user).select_related(
            "region", "instructor_profile__tier")
        self.fields["instructors"].label_from_instance = _instructor_label
        if training_class is None:
            del self.fields["status"]
        else:
            self.fields["status"].required = True

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", _("The class cannot end before it starts."))
        return data


class RosterForm(forms.Form):
    file = forms.FileField(label=_("Roster file (.xlsx or .csv)"),
                           widget=forms.ClearableFileInput(attrs={
                               "accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
                                         "text/csv"}))
    good_rows_only = forms.BooleanField(
        label=_("If some rows are wrong, import the good rows anyway"), required=False,
        help_text=_("Off: nothing is imported while any row is wrong, and you see which rows to fix."))

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_FILE_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)s MB. Split the roster into several files.")
                                        % {"mb": MAX_FILE_BYTES // (1024 * 1024)})
        return f


def _instructor_label(u) -> str:
    """Name (region · tier), and whether they cannot be put on a class now (the server checks on save)."""
    profile = getattr(u, "instructor_profile", None)
    tier = profile.tier.name if profile else _("no tier")
    suspended = " · " + _("suspended") if profile and profile.status == "suspended" else ""
    return f"{u.display_name}（{u.region.name if u.region_id else '—'} · {tier}{suspended}）"
