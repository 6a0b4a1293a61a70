"""Demo rooms, stations and manikins. The station tokens are fixed demo values, printed by load_demo."""

from __future__ import annotations

import os
import re

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
    ("西湖区应急救护考点（演示）", "考场二", [("4号工位", "demo-station-4-token", 2)]),
]
# Rooms in exam mode, with their fixed standard: every recording there is an exam attempt of a named trainee.
DEMO_EXAM_ROOMS = {("西湖区应急救护考点（演示）", "考场二"): "crc-first-aider-2024"}


# Exam candidates of 西湖区 (no login): enough people that the console's trainee picker is searched, not
# scrolled; common names repeat, as they do, and the last digits of the ID-card number tell them apart.
DEMO_CANDIDATES = 160
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
          "秀英", "霞", "平", "刚", "桂英", "建华", "玉兰", "晓东", "海燕", "志强"]


def load_candidates() -> int:
    """The demo exam candidates (usernames ``cand001``…), created once; returns how many were added."""
    from lms import api as lms_api
    from lms.demo import _demo_id_card, _region
    from lms.models import User

    region = _region("浙江省", "杭州市", "西湖区")
    code = (region.code or "330106")[:6].ljust(6, "0")
    added = 0
    for i in range(1, DEMO_CANDIDATES + 1):
        username = f"cand{i:03d}"
        if User.objects.filter(username=username).exists():
            continue
        name = _SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i * 7) % len(_GIVEN)]
        lms_api.create_person(None, username=username, real_name=name, region=region,
                              id_card=_demo_id_card(code, f"19{70 + i % 30}{(i % 12) + 1:02d}{(i % 27) + 1:02d}", i),
                              organisation=Organisation.objects.filter(name="西湖区应急救护考点（演示）").first())
        added += 1
    return added


def demo_server_url() -> str:
    """The WebSocket URL of the demo server: ``LMS_DEMO_URL`` (set by ``make demo`` from HOST and PORT),
    else ``LMS_BASE_URL``, with ws(s):// for http(s)://."""
    from django.conf import settings

    url = os.environ.get("LMS_DEMO_URL") or settings.LMS_BASE_URL
    return re.sub(r"^http", "ws", url.rstrip("/"))


def load(stdout=None) -> list[tuple[str, str, str]]:
    """Create the demo rooms; returns (room, station, token) for each station."""
    out = []
    with transaction.atomic():
        for org_name, room_name, stations in DEMO_ROOMS:
            org = Organisation.objects.get(name=org_name)
            room = Room.objects.filter(organisation=org, name=room_name).first() or api.create_room(
                None, organisation=org, name=room_name)
            exam_standard = DEMO_EXAM_ROOMS.get((org_name, room_name))
            if exam_standard and room.mode != Room.Mode.EXAM:
                api.set_room_mode(None, room, mode=Room.Mode.EXAM, standard_id=exam_standard)
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
    with transaction.atomic():
        added = load_candidates()
    from .demo_results import load_results  # the demo trainee's past exam attempts and practice ("My results")
    results = load_results()
    if stdout is not None:
        if added:
            stdout.write(f"\nDemo exam candidates of 西湖区 added: {added} (no login; find them in the console's trainee picker)\n")
        if results:
            stdout.write(f"\nDemo results of the trainee 张伟 added: {results} (exams and practice; login trainee)\n")
        stdout.write("\nDemo stations (run a simulated bridge with: "
                     f".venv/bin/python -m manikin.simulate --count 2 --token TOKEN --server {demo_server_url()})\n")
        for room, station, token in out:
            stdout.write(f"  {room} · {station}: {token}\n")
    return out
