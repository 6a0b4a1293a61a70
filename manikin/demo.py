"""Demo rooms, stations and manikins. The station tokens are fixed demo values, printed by load_demo."""

from __future__ import annotations

from django.db import transaction

from lms.models import Organisation

from . import api
from .models import Room, Station, token_digest
from .virtual import fake_address

DEMO_ROOMS = [
    # (organisation, room, [(station, token, manikin count)])
    ("西湖区应急救护考点（演示）", "考场一", [("1号工位", "demo-station-1-token", 2), ("2号工位", "demo-station-2-token", 2),
                                     ("3号工位", "demo-station-3-token", 2)]),
    ("杭州市红十字应急救护培训基地（演示）", "练习室", [("练习台A", "demo-practice-a-token", 4)]),
]


def load(stdout=None) -> list[tuple[str, str, str]]:
    """Create the demo rooms; returns (room, station, token) for each station."""
    out = []
    with transaction.atomic():
        for org_name, room_name, stations in DEMO_ROOMS:
            org = Organisation.objects.get(name=org_name)
            room = Room.objects.filter(organisation=org, name=room_name).first() or api.create_room(
                None, organisation=org, name=room_name)
            for station_name, token, count in stations:
                station = Station.objects.filter(room=room, name=station_name).first()
                if station is None:
                    station, _ = api.create_station(None, room=room, name=station_name, token=token)
                elif station.token_digest != token_digest(token):
                    Station.objects.filter(pk=station.pk).update(token_digest=token_digest(token))
                for i in range(1, count + 1):
                    if not station.manikins.filter(address=fake_address(i)).exists():
                        api.assign_manikin(None, station=station, address=fake_address(i),
                                           label=f"{station_name[:1] if station_name[0].isdigit() else station_name[-1]}-{i}")
                out.append((f"{org_name} {room_name}", station_name, token))
    if stdout is not None:
        stdout.write("\nDemo stations (run a simulated bridge with: "
                     ".venv/bin/python -m manikin.simulate --count 2 --token TOKEN --server ws://127.0.0.1:8000)\n")
        for room, station, token in out:
            stdout.write(f"  {room} · {station}: {token}\n")
    return out
