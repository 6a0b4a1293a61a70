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
        help_text=_("Columns: 省, 市, 县, 区划代码, 年份, 户籍人口 (or 常住人口), 口径 (optional: 户籍 or 常住), 来源. "
                    "One region per row; nothing is stored if any row is wrong."),
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


class PersonForm(forms.Form):
    """Register or edit a person. Choices are limited to the admin's subtree here, and again in ``lms.api``.

    The ID-card and mobile numbers are checked with the one validator of ``lms.protection`` (the
    api checks them again); when editing, the stored numbers are never sent to the browser (only
    their masked forms, in the help text): empty means unchanged.
    """

    real_name = forms.CharField(label=_("Real name"), max_length=64)
    id_card = forms.CharField(label=_("ID-card number"), max_length=32, required=False, widget=forms.TextInput(
        attrs={"autocomplete": "off", "spellcheck": "false", "class": "num"}))
    phone = forms.CharField(label=_("Mobile number"), max_length=20, required=False, widget=forms.TextInput(
        attrs={"autocomplete": "off", "inputmode": "tel", "class": "num"}))
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.none())
    organisation = forms.ModelChoiceField(label=_("Organisation"), queryset=Organisation.objects.none(),
                                          required=False)
    roles = forms.MultipleChoiceField(label=_("Roles"), required=False, widget=forms.CheckboxSelectMultiple,
                                      help_text=_("A region admin administers the person's region and "
                                                  "everything under it."))
    username = forms.CharField(label=_("Login name"), max_length=150, required=False,
                               widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    photo = forms.FileField(label=_("Photo (JPEG or PNG, at most 5 MB)"), required=False,
                            widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png"}))

    def __init__(self, *args, regions=None, organisations=None, roles=(), person=None, **kwargs):
        super().__init__(*args, **kwargs)
        from .models import Role

        self.person = person
        self.fields["region"].queryset = regions if regions is not None else Region.objects.none()
        self.fields["region"].label_from_instance = lambda r: ("　" * (r.depth - 1)) + r.name
        self.fields["organisation"].queryset = (organisations if organisations is not None
                                                else Organisation.objects.none())
        self.fields["organisation"].label_from_instance = lambda o: f"{o.name}（{o.region.name}）"
        self.fields["roles"].choices = [(r, label) for r, label in Role.choices if r in roles]
        if person is None:
            self.fields["id_card"].required = True
            self.fields["phone"].required = True
            self.fields["username"].help_text = _("Leave empty to have one generated.")
        else:
            self.fields["username"].required = True
            self.fields["id_card"].help_text = _("Now %(masked)s. Leave empty to keep it.") % {
                "masked": person.id_card_masked or "—"}
            self.fields["phone"].help_text = _("Now %(masked)s. Leave empty to keep it.") % {
                "masked": person.phone_masked or "—"}

    def clean_id_card(self):
        from .protection import normalize_id_card

        value = self.cleaned_data["id_card"]
        return normalize_id_card(value) if value.strip() else ""

    def clean_phone(self):
        from .protection import normalize_phone

        value = self.cleaned_data["phone"]
        return normalize_phone(value) if value.strip() else ""
