from django import forms
from django.utils.translation import gettext_lazy as _


class ClassCodeForm(forms.Form):
    """The class code a training base gives its trainees (case, spaces and dashes do not matter)."""

    code = forms.CharField(
        label=_("Class code"), max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                      "inputmode": "text", "placeholder": "ABCD 2345"}),
        error_messages={"required": _("Enter the class code your training base gave you.")},
    )
