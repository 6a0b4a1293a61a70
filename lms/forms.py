from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Organisation, Region


class PeopleSearchForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=64)
    id_card = forms.CharField(label=_("ID-card number (exact)"), required=False, max_length=32)
    phone = forms.CharField(label=_("Mobile number (exact)"), required=False, max_length=20)


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
