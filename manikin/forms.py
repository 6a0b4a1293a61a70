from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Room
from .protocols import PROTOCOLS
from .scoring import DEFAULT_STANDARD_ID, list_standards, load_standard


def standard_choices():
    return [(sid, load_standard(sid).name) for sid in list_standards()]


class StartRecordingForm(forms.Form):
    """Start a recording: the trainee (chosen in the searchable picker: its id; without script, the typed
    name or ID-card tail when it matches one person) and, in practice mode, the standard."""

    trainee = forms.ModelChoiceField(label=_("Trainee"), queryset=None, required=False, widget=forms.HiddenInput)
    trainee_q = forms.CharField(label=_("Trainee"), required=False, max_length=64)
    standard_id = forms.ChoiceField(label=_("Standard"), choices=standard_choices, initial=DEFAULT_STANDARD_ID,
                                    required=False)

    def __init__(self, *args, people=None, search=None, exam=False, standard_id=DEFAULT_STANDARD_ID, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trainee"].queryset = people
        self.search, self.exam = search, exam
        self.fields["standard_id"].initial = standard_id
        if exam:
            del self.fields["standard_id"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        trainee, q = data.get("trainee"), (data.get("trainee_q") or "").strip()
        if trainee is None and q and self.search is not None:
            found, _more = self.search(q)
            if len(found) == 1:
                data["trainee"] = found[0]
            elif not found:
                raise forms.ValidationError(_("No trainee of this region matches “%(q)s”.") % {"q": q})
            else:
                raise forms.ValidationError(_("Several trainees match “%(q)s”: please choose one from the list.")
                                            % {"q": q})
        if data.get("trainee") is None and self.exam:
            raise forms.ValidationError(_("This room is in exam mode: practice is not offered. "
                                          "Please choose the trainee who takes the exam."))
        return data


class RoomModeForm(forms.Form):
    mode = forms.ChoiceField(label=_("Mode"), choices=Room.Mode.choices, widget=forms.RadioSelect)
    standard_id = forms.ChoiceField(label=_("Standard"), choices=standard_choices)


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


class RoomHistoryForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    trainee = forms.CharField(label=_("Trainee"), required=False, max_length=64,
                              widget=forms.TextInput(attrs={"placeholder": _("Name or last 4 ID digits"),
                                                            "type": "search"}))
