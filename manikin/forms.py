from django import forms
from django.utils.translation import gettext_lazy as _

from .protocols import PROTOCOLS
from .scoring import DEFAULT_STANDARD_ID, list_standards, load_standard


def standard_choices():
    return [(sid, load_standard(sid).name) for sid in list_standards()]


class StartRecordingForm(forms.Form):
    trainee = forms.ModelChoiceField(label=_("Trainee"), queryset=None, required=False, empty_label=_("(practice, no name)"))
    standard_id = forms.ChoiceField(label=_("Standard"), choices=standard_choices, initial=DEFAULT_STANDARD_ID)

    def __init__(self, *args, people=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trainee"].queryset = people
        self.fields["trainee"].label_from_instance = lambda u: f"{u.display_name}（{u.id_card_masked or u.username}）"


class StationForm(forms.Form):
    name = forms.CharField(label=_("Station name"), max_length=64)


class ManikinForm(forms.Form):
    station = forms.ModelChoiceField(label=_("Station"), queryset=None)
    address = forms.CharField(label=_("Bluetooth address"), max_length=64)
    label = forms.CharField(label=_("Label"), max_length=32, required=False)
    protocol = forms.ChoiceField(label=_("Protocol"), choices=lambda: [(p.id, p.title) for p in PROTOCOLS.values()])

    def __init__(self, *args, stations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["station"].queryset = stations


class RoomForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("Exam site or training base"), queryset=None)
    name = forms.CharField(label=_("Room name"), max_length=64)

    def __init__(self, *args, organisations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
