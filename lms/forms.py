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


class _NewPasswordTwice:
    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password2") and data["new_password"] != data["new_password2"]:
            self.add_error("new_password2", _("The two new passwords differ."))
        return data


class PasswordChangeForm(_NewPasswordTwice, forms.Form):
    old_password = forms.CharField(label=_("Current password"), strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(label=_("New password"), strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password2 = forms.CharField(label=_("New password again"), strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class PasswordResetRequestForm(forms.Form):
    identifier = forms.CharField(label=_("Login name, mobile number or e-mail"), max_length=254,
                                 widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))


class PasswordResetCodeForm(_NewPasswordTwice, forms.Form):
    code = forms.RegexField(label=_("Code"), regex=r"^\s*\d{6}\s*$", max_length=12,
                            error_messages={"invalid": _("The code has 6 digits.")},
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                          "autofocus": True}))
    new_password = forms.CharField(label=_("New password"), strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password2 = forms.CharField(label=_("New password again"), strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


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
