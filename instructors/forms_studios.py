"""Forms of the studio pages (``instructors.studios`` checks everything again on the server)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lms import permissions as lms_permissions
from lms.models import Region, User

from . import studios


def person_label(profile) -> str:
    """Name · tier · region: what a picker shows of an instructor (never a number)."""
    region = profile.user.region or (profile.training_base.region if profile.training_base_id else None)
    return " · ".join(part for part in (profile.user.display_name, profile.tier.name,
                                        region.name if region else "") if part)


class PersonChoiceField(forms.ModelChoiceField):
    """Choose a person among instructor profiles (the value is the person's id)."""

    def __init__(self, profiles, **kwargs):
        self.profiles = list(profiles)
        super().__init__(queryset=User.objects.filter(pk__in=[p.user_id for p in self.profiles]), **kwargs)
        labels = {p.user_id: person_label(p) for p in self.profiles}
        self.choices = [("", self.empty_label)] + [(p.user_id, labels[p.user_id]) for p in self.profiles]


class RegionFilterForm(forms.Form):
    region = forms.TypedChoiceField(label=_("Region"), required=False, coerce=int, empty_value=None)

    def __init__(self, data=None, *, regions=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["region"].choices = [("", _("All regions"))] + [
            (r.pk, "\u3000" * (r.depth - 1) + r.name) for r in regions]


class YearForm(forms.Form):
    year = forms.TypedChoiceField(label=_("Year"), required=False, coerce=int, empty_value=None)

    def __init__(self, data=None, *, years=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["year"].choices = [("", _("All years"))] + [(y, str(y)) for y in years]


class StudioCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=studios.MAX_NAME)
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.none())
    slug = forms.CharField(label=_("Web address"), max_length=studios.MAX_SLUG, required=False,
                           help_text=_("Lower-case letters, digits and hyphens, e.g. wangfang-studio; "
                                       "empty: one is chosen"))
    head = forms.ModelChoiceField(label=_("Head instructor"), queryset=User.objects.none())
    established_on = forms.DateField(label=_("Established on"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))
    introduction = forms.CharField(label=_("Introduction"), required=False, max_length=studios.MAX_INTRODUCTION,
                                   widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, data=None, *, actor, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["region"].queryset = lms_permissions.visible_regions(actor).order_by("path")
        self.fields["region"].label_from_instance = lambda r: "\u3000" * (r.depth - 1) + r.name
        self.fields["head"] = PersonChoiceField(studios.head_candidates(actor, None), label=_("Head instructor"),
                                                help_text=_("An instructor in good standing of the studio's city"))


class StudioEditForm(forms.Form):
    """The admins' form; the head's has the introduction only (``head_only``)."""

    name = forms.CharField(label=_("Name"), max_length=studios.MAX_NAME)
    slug = forms.CharField(label=_("Web address"), max_length=studios.MAX_SLUG,
                           help_text=_("Lower-case letters, digits and hyphens, e.g. wangfang-studio"))
    established_on = forms.DateField(label=_("Established on"), widget=forms.DateInput(attrs={"type": "date"}))
    introduction = forms.CharField(label=_("Introduction"), required=False, max_length=studios.MAX_INTRODUCTION,
                                   widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, data=None, *, head_only: bool = False, **kwargs):
        super().__init__(data, **kwargs)
        if head_only:
            for name in ("name", "slug", "established_on"):
                del self.fields[name]


class MemberForm(forms.Form):
    def __init__(self, data=None, *, studio, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["person"] = PersonChoiceField(studios.member_candidates(studio), label=_("Instructor"))


class HeadForm(forms.Form):
    def __init__(self, data=None, *, actor, studio, **kwargs):
        super().__init__(data, **kwargs)
        profiles = [p for p in studios.head_candidates(actor, studio.organisation.region)
                    if p.user_id != studio.head_id]
        self.fields["head"] = PersonChoiceField(profiles, label=_("New head instructor"))


class ShowcaseForm(forms.Form):
    page = forms.TypedChoiceField(label=_("Course"), coerce=int)
    blurb = forms.CharField(label=_("One-line description"), max_length=studios.MAX_BLURB, required=False)

    def __init__(self, data=None, *, studio, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["page"].choices = [("", "---------")] + [
            (p.pk, p.title) for p in studios.showcase_candidates(studio)]
