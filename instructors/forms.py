"""Forms of the instructors' pages (the functions of ``instructors.api`` check everything again)."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from lms import permissions as lms_permissions
from lms.models import Organisation, Role

from .feedback import MAX_COMMENT
from .models import InstructorProfile, Outcome, Tier

STARS = [(str(n), str(n)) for n in range(1, 6)]


def active_tiers():
    return Tier.objects.filter(is_active=True).order_by("rank")


class ProfileFilterForm(forms.Form):
    q = forms.CharField(label=_("Name"), max_length=64, required=False)
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=Tier.objects.order_by("rank"), required=False,
                                  empty_label=_("Any tier"))
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status")), *InstructorProfile.Status.choices])


class RegisterForm(forms.Form):
    """Register a person of the actor's region who holds the instructor role and has no profile yet."""

    person = forms.ModelChoiceField(label=_("Instructor"), queryset=None, empty_label=None)
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=None, empty_label=None)
    training_base = forms.ModelChoiceField(label=_("Home training base"), queryset=None, required=False,
                                           empty_label=_("None"))
    instructor_since = forms.DateField(label=_("Instructor since"), required=False,
                                       widget=forms.DateInput(attrs={"type": "date"}),
                                       help_text=_("Empty: today"))
    reason = forms.CharField(label=_("Note"), max_length=500, required=False,
                             help_text=_("e.g. the decision or certificate the registration rests on"))

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = unregistered_instructors(actor)
        self.fields["person"].label_from_instance = lambda u: (
            f"{u.display_name} · {u.region.name}" if u.region_id else u.display_name)
        self.fields["tier"].queryset = active_tiers()
        self.fields["training_base"].queryset = lms_permissions.scope(
            actor, Organisation.objects.filter(kind__in=[Organisation.Kind.TRAINING_BASE, Organisation.Kind.STUDIO])
        ).order_by("name")


def unregistered_instructors(actor):
    """People of ``actor``'s region with the instructor role and no instructor profile."""
    q = lms_permissions.region_q(actor)
    qs = lms_permissions.visible_people(actor).filter(role_assignments__role=Role.INSTRUCTOR, is_active=True,
                                                      anonymised_at__isnull=True, instructor_profile__isnull=True)
    if q is not None:
        qs = qs.filter(q)
    return qs.distinct().order_by("real_name", "pk")


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class TierChangeForm(forms.Form):
    tier = forms.ModelChoiceField(label=_("New tier"), queryset=None, empty_label=None)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, profile=None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = active_tiers()
        if profile is not None:
            qs = qs.filter(~Q(pk=profile.tier_id))
        self.fields["tier"].queryset = qs


class FeedbackForm(forms.Form):
    overall = forms.TypedChoiceField(label=_("Overall"), choices=STARS, coerce=int, widget=forms.RadioSelect,
                                     error_messages={"required": _("Choose from 1 to 5 stars.")})
    clarity = forms.TypedChoiceField(label=_("Clear teaching"), choices=STARS, coerce=int, widget=forms.RadioSelect,
                                     error_messages={"required": _("Choose from 1 to 5 stars.")})
    practice = forms.TypedChoiceField(label=_("Hands-on practice"), choices=STARS, coerce=int,
                                      widget=forms.RadioSelect,
                                      error_messages={"required": _("Choose from 1 to 5 stars.")})
    comment = forms.CharField(label=_("Comment (optional)"), max_length=MAX_COMMENT, required=False,
                              widget=forms.Textarea(attrs={"rows": 3, "maxlength": MAX_COMMENT}),
                              help_text=_("Your instructor sees ratings and comments only together with those of "
                                          "at least two other trainees, never your name."))


class YearForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=Outcome.choices, widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Required when the decision differs from the proposal"))
