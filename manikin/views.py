"""Thin views: rooms and their console, the trainee's live view, recordings, station set-up."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from lms import api as lms_api
from lms.models import Organisation

from . import api
from .forms import ManikinForm, RoomForm, RoomHistoryForm, RoomModeForm, StartRecordingForm, StationForm
from .live import recording_event
from .models import Manikin, Recording, Room
from .scoring import DEFAULT_STANDARD_ID, list_standards, load_standard


def _room_or_404(user, room_id):
    room = api.visible_rooms(user).filter(pk=room_id).first()
    if room is None:
        raise Http404
    return room


@login_required
def rooms(request):
    """The rooms a person may watch; region admins also add rooms to the sites of their region."""
    organisations = lms_api.visible_organisations(request.user).filter(
        kind__in=[Organisation.Kind.EXAM_SITE, Organisation.Kind.TRAINING_BASE, Organisation.Kind.STUDIO])
    form = RoomForm(request.POST or None, organisations=organisations) if organisations.exists() else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("Only the region's admins can add rooms."))
        if form.is_valid():
            try:
                room = api.create_room(request.user, **form.cleaned_data)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                return redirect("manikin:room_setup", room_id=room.pk)
    return render(request, "manikin/rooms.html", {
        "rooms": api.visible_rooms(request.user).order_by("organisation__name", "name"), "form": form})


def _start_form(request, room: Room, data=None) -> StartRecordingForm:
    return StartRecordingForm(
        data, people=api.recordable_people(request.user, room),
        search=lambda q: api.search_recordable_people(request.user, room, q),
        exam=room.mode == Room.Mode.EXAM, standard_id=api.room_standard_id(room))


@login_required
def console(request, room_id: int):
    """The examiner's place of work: every manikin of the room live, recordings started and stopped on
    the tiles, each tile keeping the last result of the day one click from its result page."""
    room = _room_or_404(request.user, room_id)
    manikins = list(Manikin.objects.filter(station__room=room).select_related("station").order_by("station__name", "label"))
    active = {r.manikin_id: recording_event(r)["recording"]
              for r in Recording.objects.filter(manikin__in=manikins, stopped_at__isnull=True).select_related("trainee")}
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    last: dict[int, Recording] = {}
    for r in (Recording.objects.filter(manikin__in=manikins, stopped_at__gte=today)
              .select_related("trainee").order_by("-stopped_at")):
        if r.manikin_id not in active and r.manikin_id not in last:
            seconds = int((r.stopped_at - r.started_at).total_seconds())
            r.elapsed = f"{seconds // 60:02d}:{seconds % 60:02d}"
            last[r.manikin_id] = r
    form = _start_form(request, room)
    standard = load_standard(api.room_standard_id(room))
    return render(request, "manikin/console.html", {
        "room": room, "tiles": [(m, active.get(m.pk), last.get(m.pk)) for m in manikins], "form": form,
        "exam": room.mode == Room.Mode.EXAM, "standard": standard, "standard_json": standard.to_dict(),
        "can_manage": lms_api.can_manage_region(request.user, room.organisation.region),
        "server_now": timezone.now().timestamp(),
    })


@login_required
@require_GET
def trainee_search(request, room_id: int):
    """The trainee picker's search: recordable people of the room by name or the last digits of their
    ID-card number (JSON, at most ``api.TRAINEE_SEARCH_LIMIT``)."""
    room = _room_or_404(request.user, room_id)
    people, more = api.search_recordable_people(request.user, room, request.GET.get("q", "")[:64])
    return JsonResponse({
        "results": [{"id": p.pk, "name": p.display_name, "id_card": p.id_card_masked,
                     "label": f"{p.display_name}（{p.id_card_masked or p.username}）"} for p in people],
        "more": more,
    })


@login_required
def room_history(request, room_id: int):
    """A room's results, newest first, filtered by date and trainee."""
    room = _room_or_404(request.user, room_id)
    form = RoomHistoryForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = api.room_recordings(request.user, room, date_from=filters.get("date_from"),
                             date_to=filters.get("date_to"), trainee=filters.get("trainee", ""))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    standards = {sid: load_standard(sid).name for sid in list_standards()}
    page.object_list = list(page.object_list)
    for r in page.object_list:
        r.standard_name = standards.get(r.standard_id, r.standard_id)
    return render(request, "manikin/room_history.html", {
        "room": room, "form": form, "page": page, "query": params.urlencode(),
    })


@login_required
@require_POST
def start(request, manikin_id: int):
    manikin = get_object_or_404(Manikin.objects.select_related("station__room"), pk=manikin_id)
    room = _room_or_404(request.user, manikin.station.room_id)
    form = _start_form(request, room, request.POST)
    if form.is_valid():
        try:
            api.start_recording(request.user, manikin, trainee=form.cleaned_data["trainee"],
                                standard_id=form.cleaned_data.get("standard_id") or None)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied as exc:  # the practical exam's rules (考培分离, the examiner of this candidate)
            messages.error(request, str(exc))
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("manikin:console", room_id=room.pk)


@login_required
@require_POST
def stop(request, recording_id: int):
    """Stop and score; back to the console, where the tile shows the result and links to its page."""
    rec = get_object_or_404(Recording.objects.select_related("manikin__station__room"), pk=recording_id)
    _room_or_404(request.user, rec.manikin.station.room_id)
    try:
        rec = api.stop_recording(request.user, rec)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("manikin:console", room_id=rec.manikin.station.room_id)
    if not rec.manikin.station.connected:
        messages.warning(request, _("The station's bridge was offline when the recording stopped: samples it "
                                    "spooled meanwhile are stored when it reconnects, and the recording is then scored again "
                                    "with them."))
    return redirect(reverse("manikin:console", args=[rec.manikin.station.room_id]) + f"#manikin-{rec.manikin_id}")


@login_required
@require_POST
def cancel(request, recording_id: int):
    """A region admin ends a stuck or mistaken recording without scoring it."""
    rec = get_object_or_404(Recording.objects.select_related("manikin__station__room__organisation__region"),
                            pk=recording_id)
    _room_or_404(request.user, rec.manikin.station.room_id)
    try:
        api.cancel_recording(request.user, rec, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The recording was cancelled; it will not be scored."))
    return redirect("manikin:recording", recording_id=rec.pk)


def _trainee_screen_recording(user, manikin: Manikin, staff: bool) -> Recording | None:
    """The recording the trainee screen shows: the running one (staff, or its own trainee), else the last
    result on this manikin (staff: anyone's; a trainee: only their own)."""
    recs = manikin.recordings.select_related("trainee")
    rec = recs.filter(stopped_at__isnull=True).first()
    if rec is not None and (staff or rec.trainee_id == user.pk):
        return rec
    return (recs if staff else recs.filter(trainee=user)).exclude(stopped_at__isnull=True).first()


@login_required
def live_view(request, manikin_id: int):
    """The trainee screen: live while a recording runs, then its result (bare layout, no navigation).

    Staff of the room (a second display facing the trainee) or the trainee of the running recording; a
    trainee whose recording has stopped still sees their own last result here. ``?state=1`` answers the
    screen's poll with JSON: the recording shown and its result panel.
    """
    manikin = get_object_or_404(Manikin.objects.select_related("station__room__organisation"), pk=manikin_id)
    staff = api.can_watch_room(request.user, manikin.station.room)
    rec = _trainee_screen_recording(request.user, manikin, staff)
    if not staff and rec is None:
        raise Http404
    standard = load_standard(rec.standard_id if rec else DEFAULT_STANDARD_ID)
    context = {"manikin": manikin, "rec": rec, "staff": staff, "standard": standard,
               "result": (rec.result or {}) if rec else {}}
    if request.GET.get("state"):
        return JsonResponse({
            "recording": rec.pk if rec else None, "active": bool(rec and rec.active),
            "watching": staff,  # staff keep the socket between recordings; a trainee only during their own
            "html": render_to_string("manikin/_result_panel.html", context, request=request)})
    live = rec if rec is not None and rec.active else None
    return render(request, "manikin/live.html", {
        **context, "recording": recording_event(live)["recording"] if live else None,
        "standard_json": standard.to_dict(),
    })


@login_required
def recording(request, recording_id: int):
    rec = get_object_or_404(Recording.objects.select_related("manikin__station__room__organisation", "trainee"),
                            pk=recording_id)
    room = rec.manikin.station.room
    staff = api.can_watch_room(request.user, room)
    if not (rec.trainee_id == request.user.pk or staff):
        raise Http404
    result = rec.result or {}
    compressions = result.get("compressions", [])
    t0 = compressions[0]["t_start"] if compressions else 0.0
    standard = load_standard(rec.standard_id)
    rows = [{**c, "t_rel": c["t_peak"] - t0} for c in compressions]
    return render(request, "manikin/recording.html", {
        "rec": rec, "result": result, "standard": standard, "compressions": rows, "room": room,
        "staff": staff, "can_cancel": rec.stopped_at is None and api.can_cancel_recording(request.user, rec),
        "chart": {"t": [round(c["t_rel"], 2) for c in rows], "depth_mm": [c["depth_mm"] for c in rows],
                  "recoil_mm": [c["recoil_mm"] for c in rows], "depth_min_mm": standard.depth_min_mm,
                  "depth_max_mm": standard.depth_max_mm, "depth_label": _("Depth"), "recoil_label": _("Recoil")},
    })


@login_required
def my_recordings(request):
    """My results: the person's own CPR recordings, exams apart from practice."""
    recs = Recording.objects.filter(trainee=request.user).select_related("manikin__station__room__organisation")
    return render(request, "manikin/my_recordings.html", {
        "exams": recs.filter(purpose=Room.Mode.EXAM)[:50],
        "practice": recs.exclude(purpose=Room.Mode.EXAM)[:50],
    })


def bridge_command(request, token: str) -> str:
    """The command that starts a station's bridge, as copied from the page: the WebSocket scheme of the
    connection the browser used (wss behind HTTPS) and the host it used."""
    scheme = "wss" if request.is_secure() else "ws"
    return f"MANIKIN_STATION_TOKEN={token} python -m manikin.bridge --server {scheme}://{request.get_host()}"


@login_required
def room_setup(request, room_id: int):
    room = _room_or_404(request.user, room_id)
    if not lms_api.can_manage_region(request.user, room.organisation.region):
        raise PermissionDenied(_("Only the region's admins can set up stations."))
    stations = room.stations.all()
    post = request.POST
    station_form = StationForm(post if "add_station" in post else None)
    manikin_form = ManikinForm(post if "add_manikin" in post else None, stations=stations)
    mode_form = RoomModeForm(post if "set_mode" in post else None,
                             initial={"mode": room.mode, "standard_id": api.room_standard_id(room)})
    new_token, confirm_rotate = None, None
    try:
        if "add_station" in post and station_form.is_valid():
            station, new_token = api.create_station(request.user, room=room, name=station_form.cleaned_data["name"])
            messages.success(request, _("Station %(name)s created.") % {"name": station.name})
        elif "rotate" in post:
            station = get_object_or_404(stations, pk=post.get("rotate"))
            if post.get("confirm") == "1":
                new_token = api.rotate_station_token(request.user, station)
                messages.success(request, _("New token for %(name)s: the old one no longer works.")
                                 % {"name": station.name})
            else:  # the confirmation step: nothing changes until it is confirmed
                confirm_rotate = station
        elif "set_mode" in post and mode_form.is_valid():
            api.set_room_mode(request.user, room, **mode_form.cleaned_data)
            messages.success(request, _("The room is now in exam mode.") if room.mode == Room.Mode.EXAM
                             else _("The room is now in practice mode."))
            return redirect("manikin:room_setup", room_id=room.pk)
        elif "add_manikin" in post and manikin_form.is_valid():
            api.assign_manikin(request.user, **manikin_form.cleaned_data)
            messages.success(request, _("Manikin saved."))
            return redirect("manikin:room_setup", room_id=room.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return render(request, "manikin/room_setup.html", {
        "room": room, "stations": stations.prefetch_related("manikins"), "station_form": station_form,
        "running": Recording.objects.filter(manikin__station__room=room, stopped_at__isnull=True)
                                    .select_related("manikin", "trainee"),
        "manikin_form": manikin_form, "mode_form": mode_form, "new_token": new_token,
        "bridge_command": bridge_command(request, new_token) if new_token else "",
        "bridge_command_template": bridge_command(request, "<TOKEN>"),
        "confirm_rotate": confirm_rotate, "standard": load_standard(api.room_standard_id(room)),
    })
