from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Organisation, Region


class PeopleSearchForm(forms.Form):
    """Search by part of the name (GET: the name may appear in the address)."""

    name = forms.CharField(label=_("Name"), required=False, max_length=64)


class NoEchoTextInput(forms.TextInput):
    """A text box that never writes its value back into the page (the number typed stays private)."""

    def format_value(self, value):
        return None


class NumberSearchForm(forms.Form):
    """Exact ID-card or mobile-number search: POST only, never echoed, audited and rate-limited by the api."""

    kind = forms.ChoiceField(label=_("Kind of number"), choices=[
        ("id_card", _("ID-card number")), ("phone", _("Mobile number"))])
    number = forms.CharField(label=_("Exact number"), max_length=32, widget=NoEchoTextInput(
        attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "text"}))


class RegionImportForm(forms.Form):
    file = forms.FileField(
        label=_("Workbook (.xlsx)"),
        help_text=_("Columns: 省, 市, 县, 区划代码, 年份, 户籍人口, 来源. One region per row; "
                    "nothing is stored if any row is wrong."),
    )


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=128)
    kind = forms.ChoiceField(label=_("Kind"), choices=Organisation.Kind.choices)
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.none())
    address = forms.CharField(label=_("Address"), max_length=255, required=False)

    def __init__(self, *args, regions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions if regions is not None else Region.objects.none()
        self.fields["region"].label_from_instance = lambda r: ("　" * (r.depth - 1)) + r.name
