"""The authorisation matrix: every route of the product against anonymous visitors and every role.

The routes are found, not listed by hand: every URL pattern of the URL configuration (the product's
own, by namespace and name, e.g. ``manikin:console``; each third-party include — the Wagtail admin,
Wagtail's page serving, documents, the language switch — as one entry named after its module) and
every WebSocket route of ``lms.routing.application`` (``ws:/ws/rooms/<int:room_id>/``). ``MATRIX``
below says, for each of them, what every actor gets. A route without an entry fails
``test_every_route_has_an_entry`` (and its own test), an entry whose route is gone fails
``test_every_entry_names_a_route``.

The actors (``ACTORS``): anonymous, trainee, instructor, examiner, inspector, the region admins of
a county (西湖区), a city (杭州市) and a province (浙江省), and a system admin. Where a route takes
an object (a room, a manikin, a recording, a person) or lists objects, each actor is tried with an
object in its scope and one outside it (``SCOPE``): the county admin with 西湖区 and the sibling
county 上城区, the city admin with 上城区 and 宁波市's 北仑区, the province admin with 北仑区 and
江苏省, the examiner with their exam site and the training base next door, the trainee with their
own recording and another trainee's. An expectation is one outcome for both, or ``(in, out)``.

Outcomes: ``OK`` 200; ``SHOWS`` 200 and the page shows the object in scope but not the one outside
(list pages, searches); ``HIDES`` 200 and it shows neither; ``REDIRECT`` a 302 that is not to a
login page (the success of an action, or a signed-in visit to the login page); ``LOGIN`` a 302 to
``/login/?next=``; ``ADMIN_LOGIN`` a 302 to Wagtail's login page; ``FORBIDDEN`` 403;
``NOT_FOUND`` 404 (the answer for an object outside the actor's scope: its existence is not
revealed); ``NOT_ALLOWED`` 405 (method). State-changing POSTs are checked the same way: an allowed
actor's POST is answered (a redirect after the action, or the form again), a refused one gets 403
or 404; every request runs in a transaction rolled back afterwards, so each actor meets the same
data. WebSockets: ``ACCEPTED``, ``CLOSED_4401`` (not signed in, or no valid station token) and
``CLOSED_4403`` (signed in, not allowed).

To extend it for a new route: add an entry to ``MATRIX`` (``Http(get=..., post=..., objects=...,
shows=..., data=...)`` or ``Ws(connect=..., objects=...)``), naming an outcome for every actor
(``"others"`` covers the actors not named); a new kind of object goes into ``build_world`` and
``SCOPE``. A new actor goes into ``ACTORS``, ``build_world`` and ``SCOPE``, and the test for the
entries makes every row say what it gets.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from datetime import date, timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from courses.models import Programme, TrainingClass
from lms import api as lms_api
from lms.models import Organisation, Region, Role
from lms.routing import application
from manikin import api
from tests.instructors.support import in_good_standing

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ outcomes

OK = "200"
SHOWS = "200, showing the object in scope and not the one outside it"
HIDES = "200, showing neither object"
REDIRECT = "302, not to a login page"
LOGIN = "302 to /login/"
ADMIN_LOGIN = "302 to the Wagtail admin's login page"
FORBIDDEN = "403"
NOT_FOUND = "404"
NOT_ALLOWED = "405"
ACCEPTED = "accepted"
CLOSED_4401 = "closed with 4401"
CLOSED_4403 = "closed with 4403"

# ------------------------------------------------------------------ actors and their scope

ACTORS = ["anonymous", "trainee", "instructor", "examiner", "inspector",
          "county_admin", "city_admin", "province_admin", "system_admin"]
REGION_ADMINS = ("county_admin", "city_admin", "province_admin")
ADMINS = (*REGION_ADMINS, "system_admin")
STAFF = ("instructor", "examiner")  # the staff of an organisation with rooms
SIGNED_IN = tuple(a for a in ACTORS if a != "anonymous")


@dataclass(frozen=True)
class Scope:
    """The place whose rooms, manikins, recordings, organisation and region are in an actor's scope,
    the place whose are not (None: nothing is outside), and the same for people."""

    place_in: str
    place_out: str | None
    person_in: str
    person_out: str | None


# Places: an organisation with one room, station and manikin, and a running recording of a trainee there.
PLACES = {
    # place: (region path, kind of organisation, the trainee recorded there)
    "xihu_exam": (("浙江省", "杭州市", "西湖区"), Organisation.Kind.EXAM_SITE, "trainee"),  # the examiner's
    "xihu_base": (("浙江省", "杭州市", "西湖区"), Organisation.Kind.TRAINING_BASE, "trainee2"),  # the instructor's
    "shangcheng": (("浙江省", "杭州市", "上城区"), Organisation.Kind.EXAM_SITE, "trainee_shangcheng"),
    "beilun": (("浙江省", "宁波市", "北仑区"), Organisation.Kind.EXAM_SITE, "trainee_beilun"),
    "jiangsu": (("江苏省", "南京市", "玄武区"), Organisation.Kind.EXAM_SITE, "trainee_jiangsu"),
}

SCOPE = {
    "anonymous": Scope("xihu_exam", "beilun", "trainee", "trainee_beilun"),
    # the trainee's own running recording is at xihu_exam (their manikin, their result page)
    "trainee": Scope("xihu_exam", "xihu_base", "trainee", "trainee2"),
    "instructor": Scope("xihu_base", "xihu_exam", "instructor", "trainee"),
    "examiner": Scope("xihu_exam", "xihu_base", "examiner", "trainee"),
    "inspector": Scope("xihu_exam", "beilun", "inspector", "trainee"),
    "county_admin": Scope("xihu_base", "shangcheng", "trainee", "trainee_shangcheng"),
    "city_admin": Scope("shangcheng", "beilun", "trainee_shangcheng", "trainee_beilun"),
    "province_admin": Scope("beilun", "jiangsu", "trainee_beilun", "trainee_jiangsu"),
    "system_admin": Scope("jiangsu", None, "trainee_jiangsu", None),
}

# People: username -> (region path, roles, organisation place, administered region path, real name, phone)
PEOPLE = {
    "trainee": (("浙江省", "杭州市", "西湖区"), (Role.TRAINEE,), "xihu_base", None, "张伟", "13700000001"),
    "trainee2": (("浙江省", "杭州市", "西湖区"), (Role.TRAINEE,), None, None, "王静", "13700000002"),
    "trainee_shangcheng": (("浙江省", "杭州市", "上城区"), (Role.TRAINEE,), None, None, "刘洋", "13700000003"),
    "trainee_beilun": (("浙江省", "宁波市", "北仑区"), (Role.TRAINEE,), None, None, "陈杰", "13700000004"),
    "trainee_jiangsu": (("江苏省", "南京市", "玄武区"), (Role.TRAINEE,), None, None, "杨帆", "13700000005"),
    "instructor": (("浙江省", "杭州市", "西湖区"), (Role.INSTRUCTOR,), "xihu_base", None, "王芳", "13700000006"),
    "examiner": (("浙江省", "杭州市", "西湖区"), (Role.EXAMINER,), "xihu_exam", None, "李强", "13700000007"),
    "inspector": (("浙江省", "杭州市"), (Role.INSPECTOR,), None, None, "赵敏", "13700000008"),
    "county_admin": (("浙江省", "杭州市", "西湖区"), (), None, ("浙江省", "杭州市", "西湖区"), "周甲", "13700000009"),
    "city_admin": (("浙江省", "杭州市"), (), None, ("浙江省", "杭州市"), "吴乙", "13700000010"),
    "province_admin": (("浙江省",), (), None, ("浙江省",), "郑丙", "13700000011"),
    "system_admin": (("浙江省",), (Role.SYSTEM_ADMIN,), None, None, "孙丁", "13700000012"),
}

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


@dataclass
class World:
    people: dict[str, Any]
    places: dict[str, dict[str, Any]]
    regions: dict[tuple, Region]
    document: Any
    station_tokens: dict[str, str]

    def user(self, actor: str):
        return None if actor == "anonymous" else self.people[actor]

    def obj(self, kind: str, actor: str, side: str):
        """The object of ``kind`` in (``side="in"``) or outside (``"out"``) the actor's scope; None if there is none."""
        scope = SCOPE[actor]
        if kind == "person":
            name = scope.person_in if side == "in" else scope.person_out
            return None if name is None else self.people[name]
        place = scope.place_in if side == "in" else scope.place_out
        return None if place is None else self.places[place][kind]


def _region(regions, path):
    return regions[tuple(path)]


def build_world() -> World:
    """The regions, organisations, rooms, stations, manikins, recordings and people, through the public api."""
    lms_api.import_regions(None, [
        lms_api.RegionRow(province="浙江省", city="杭州市", county="西湖区"),
        lms_api.RegionRow(province="浙江省", city="杭州市", county="上城区"),
        lms_api.RegionRow(province="浙江省", city="宁波市", county="北仑区"),
        lms_api.RegionRow(province="江苏省", city="南京市", county="玄武区"),
    ])
    regions = {}
    for node in Region.objects.all():
        names = [a.name for a in node.get_ancestors()] + [node.name]
        regions[tuple(names)] = node
    places: dict[str, dict[str, Any]] = {}
    tokens = {}
    for place, (where, kind, _trainee) in PLACES.items():
        org = lms_api.create_organisation(None, name=f"机构-{place}", kind=kind, region=_region(regions, where))
        room = api.create_room(None, organisation=org, name=f"房间-{place}")
        station, tokens[place] = api.create_station(None, room=room, name=f"工位-{place}")
        manikin = api.assign_manikin(None, station=station, address=f"F0:0D:00:00:01:{len(places):02X}",
                                     label=f"模拟人-{place}")
        places[place] = {"organisation": org, "room": room, "station": station, "manikin": manikin,
                         "region": org.region}
    people = {}
    for username, (where, roles, org_place, admin_of, real_name, phone) in PEOPLE.items():
        person = lms_api.create_person(
            None, username=username, real_name=real_name, region=_region(regions, where), password="pw-Secret-123",
            phone=phone, roles=roles, organisation=places[org_place]["organisation"] if org_place else None)
        if admin_of:
            lms_api.assign_role(None, person, Role.REGION_ADMIN, region=_region(regions, admin_of))
        if username == "system_admin":  # as lms.demo makes the demo's system admin
            person.is_staff = person.is_superuser = True
            person.save(update_fields=["is_staff", "is_superuser"])
        # No api sets a photo yet (it comes with the registration form); the file is what the photo view serves.
        person.photo.save("matrix.png", ContentFile(PNG), save=True)
        people[username] = person
    for place, (_where, _kind, trainee) in PLACES.items():
        places[place]["recording"] = api.start_recording(people["system_admin"], places[place]["manikin"],
                                                         trainee=people[trainee])
    # A class (培训班) run by each place's organisation (courses.permissions: admins of its region manage it).
    programme = Programme.objects.create(code="matrix", name="矩阵项目", kind=Programme.Kind.FIRST_AIDER)
    today = date.today()
    for place, info in places.items():
        info["class"] = TrainingClass.objects.create(programme=programme, name=f"培训班-{place}",
                                                     training_base=info["organisation"], starts_on=today,
                                                     ends_on=today + timedelta(days=30))
    _practical_exams(people, places, programme)
    return World(people=people, places=places, regions=regions, document=None, station_tokens=tokens)


def _practical_exams(people, places, programme) -> None:
    """Each place gets an exam room with a practical exam session today and its trainee booked; the
    examiner examines the session at their exam site (exams.practical)."""
    from exams import practical
    from exams.models import Attempt, Blueprint
    from exams.practical_schemes import FIRST_AIDER

    practical.save_scheme(people["system_admin"], programme, **FIRST_AIDER)
    blueprint = Blueprint.objects.create(programme=programme, name="矩阵理论考试", time_limit_s=2700)
    now = timezone.now()
    for place, info in places.items():
        room = api.create_room(None, organisation=info["organisation"], name=f"考场-{place}")
        api.create_station(None, room=room, name=f"考位-{place}")
        api.set_room_mode(None, room, mode="exam", standard_id=FIRST_AIDER["cpr_standard_id"])
        session = practical.plan_session(people["system_admin"], programme=programme, room=room,
                                         date=timezone.localdate(), starts_at=datetime.time(9), slots=2)
        if place == SCOPE["examiner"].place_in:
            in_good_standing(people["examiner"], programmes=[programme])
            practical.assign_examiner(people["system_admin"], session, people["examiner"])
        trainee = people[PLACES[place][2]]
        Attempt.objects.create(user=trainee, blueprint=blueprint, number=1, status=Attempt.Status.SUBMITTED,
                               started_at=now - timedelta(hours=1), deadline_at=now, submitted_at=now, passed=True)
        info["session"] = session
        info["booking"] = practical.book(people["system_admin"], session, trainee)


def label(kind: str, obj) -> str:
    """What a page shows of an object, for ``SHOWS`` and ``HIDES``."""
    return {"person": lambda o: o.real_name, "room": lambda o: o.name, "organisation": lambda o: o.name,
            "region": lambda o: o.name, "class": lambda o: o.name}[kind](obj)


# ------------------------------------------------------------------ the matrix

Expect = dict  # actor, tuple of actors or "others" -> outcome, or (outcome in scope, outcome outside it)
SAME_AS_GET = "same as GET"


@dataclass(frozen=True)
class Http:
    """An HTTP route. ``get``/``post``: what each actor gets (``post`` defaults to the GET table, for views
    that answer both alike). ``objects``: URL argument -> kind of object. ``shows``: the kind of object the
    page lists (for ``SHOWS``/``HIDES``). ``data``: the POST body, or a function of the object in play.
    ``path``: for routes without a name (third-party includes), the path, or a function of the world."""

    get: Expect
    post: Expect | str = SAME_AS_GET
    objects: dict[str, str] = field(default_factory=dict)
    shows: str | None = None
    data: dict | Callable[[Any], dict] = field(default_factory=dict)
    path: str | Callable[[World], str] | None = None


@dataclass(frozen=True)
class Ws:
    """A WebSocket route: ``connect`` is what each actor's browser socket (session cookie, allowed Origin)
    gets; ``tokens`` what a bridge gets with a station token (``"station"``) or a wrong one (``"wrong"``)."""

    connect: Expect
    objects: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # a fixed path instead of one made from ``objects``


def scoped(inside: str, outside: str) -> tuple[str, str]:
    return (inside, outside)


# The question bank's pages in the Wagtail admin: bank managers get the page (or 404 for object pk 0, or 405
# for a method the view does not take); everyone else goes to the admin's login page.
BANK_MANAGERS = ("province_admin", "system_admin")
BANK_PAGE = {"anonymous": ADMIN_LOGIN, BANK_MANAGERS: OK, "others": ADMIN_LOGIN}
BANK_OBJECT = {"anonymous": ADMIN_LOGIN, BANK_MANAGERS: NOT_FOUND, "others": ADMIN_LOGIN}
BANK_NOT_ALLOWED = {"anonymous": ADMIN_LOGIN, BANK_MANAGERS: NOT_ALLOWED, "others": ADMIN_LOGIN}

MATRIX: dict[str, Http | Ws] = {
    # ---- lms: sign-in, passwords, health
    "lms:login": Http(get={"anonymous": OK, "others": REDIRECT}),  # signed in: on to the dashboard
    "lms:logout": Http(get={"others": NOT_ALLOWED}, post={"others": REDIRECT}),
    # For people who cannot sign in: public. Step 2 without a code requested sends back to step 1.
    "lms:password_reset": Http(get={"others": OK}),
    "lms:password_reset_verify": Http(get={"others": REDIRECT}),
    "lms:password_change": Http(get={"anonymous": LOGIN, "others": OK}),  # POST {}: the form again
    "lms:healthz": Http(get={"others": OK}),
    "lms:language": Http(get={"others": REDIRECT}, post={"others": NOT_ALLOWED}),  # sets the language cookie, back to the page
    "lms:dashboard": Http(get={"anonymous": LOGIN, "others": OK}),
    # ---- lms: people, regions, organisations (region admins: their subtree only)
    "lms:people": Http(
        get={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}, shows="person",
        # the exact search by mobile number: finds the person in scope, never the one outside
        post={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN},
        data=lambda person: {"kind": "phone", "number": PEOPLE[person.username][5]}),
    "lms:person": Http(get={"anonymous": LOGIN, "system_admin": OK, "others": scoped(OK, NOT_FOUND)},
                       objects={"pk": "person"}),
    "lms:person_photo": Http(get={"anonymous": LOGIN, "system_admin": OK, "others": scoped(OK, NOT_FOUND)},
                             objects={"pk": "person"}),
    # Registering and editing people: region admins (their subtree) and system admins; POST {}: the form
    # again with its errors (nothing stored).
    "lms:person_new": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN}),
    "lms:person_edit": Http(get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, NOT_FOUND), "system_admin": OK,
                                 "others": FORBIDDEN},
                            objects={"pk": "person"}),
    "lms:regions": Http(get={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}, shows="region",
                        # POST imports regions (system admins) or population figures of the admin's own subtree
                        # (region admins); POST {}: the form again, with its error
                        post={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}),
    "lms:organisations": Http(get={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}, shows="organisation"),
    # ---- lms: personal-data rights (lms.privacy)
    # The notice is public; agreeing needs a sign-in (POST {}: the form again, or on for who has agreed).
    "lms:privacy_notice": Http(get={"others": OK}, post={"anonymous": LOGIN, "others": OK}),
    # Everyone's own data only (POST {}: the form again; the export itself needs the password).
    "lms:my_data": Http(get={"anonymous": LOGIN, "others": OK}),
    # Region admins in their subtree, system admins; anyone else sees only themselves, and may not.
    "lms:person_anonymise": Http(
        get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, NOT_FOUND), "system_admin": OK,
             "others": scoped(FORBIDDEN, NOT_FOUND)},
        objects={"pk": "person"}),
    # ---- manikin: rooms, consoles, recordings
    "manikin:rooms": Http(get={"anonymous": LOGIN, (*ADMINS, *STAFF): SHOWS, "others": HIDES}, shows="room",
                          # POST adds a room: region admins (POST {}: the form again)
                          post={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}),
    "manikin:console": Http(get={"anonymous": LOGIN, (*REGION_ADMINS, *STAFF): scoped(OK, NOT_FOUND),
                                 "system_admin": OK, ("trainee", "inspector"): NOT_FOUND},
                            objects={"room_id": "room"}),
    "manikin:room_setup": Http(
        get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, NOT_FOUND), "system_admin": OK,
             STAFF: scoped(FORBIDDEN, NOT_FOUND), ("trainee", "inspector"): NOT_FOUND},
        objects={"room_id": "room"}, data={"add_station": "1", "name": "新工位"}),
    # a room's results and the console's trainee search (JSON): those who may watch the room
    "manikin:room_history": Http(get={"anonymous": LOGIN, (*REGION_ADMINS, *STAFF): scoped(OK, NOT_FOUND),
                                      "system_admin": OK, ("trainee", "inspector"): NOT_FOUND},
                                 objects={"room_id": "room"}),
    "manikin:trainee_search": Http(get={"anonymous": LOGIN, (*REGION_ADMINS, *STAFF): scoped(OK, NOT_FOUND),
                                        "system_admin": OK, ("trainee", "inspector"): NOT_FOUND},
                                   post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                   objects={"room_id": "room"}),
    "manikin:start": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                          post={"anonymous": LOGIN, (*REGION_ADMINS, *STAFF): scoped(REDIRECT, NOT_FOUND),
                                "system_admin": REDIRECT, ("trainee", "inspector"): NOT_FOUND},
                          objects={"manikin_id": "manikin"}),
    "manikin:live": Http(get={"anonymous": LOGIN, "system_admin": OK, "inspector": NOT_FOUND,
                              "others": scoped(OK, NOT_FOUND)},  # the trainee: while their recording runs
                         objects={"manikin_id": "manikin"}),
    "manikin:recording": Http(get={"anonymous": LOGIN, "system_admin": OK, "inspector": NOT_FOUND,
                                   "others": scoped(OK, NOT_FOUND)},  # the trainee: their own
                              objects={"recording_id": "recording"}),
    "manikin:stop": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                         post={"anonymous": LOGIN, (*REGION_ADMINS, *STAFF): scoped(REDIRECT, NOT_FOUND),
                               "system_admin": REDIRECT, ("trainee", "inspector"): NOT_FOUND},
                         objects={"recording_id": "recording"}),
    "manikin:cancel": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                           post={"anonymous": LOGIN, REGION_ADMINS: scoped(REDIRECT, NOT_FOUND),
                                 "system_admin": REDIRECT, STAFF: scoped(FORBIDDEN, NOT_FOUND),
                                 ("trainee", "inspector"): NOT_FOUND},
                           objects={"recording_id": "recording"}, data={"reason": "授权矩阵"}),
    "manikin:my_recordings": Http(get={"anonymous": LOGIN, "others": OK}),
    # ---- public registration: anonymous only (POST {}: the phone form again); signed in: on to the dashboard
    "lms:register": Http(get={"anonymous": OK, "others": REDIRECT}),
    # ---- classes admin (courses.permissions): region admins their subtree's classes, system admins all;
    # organisation admins (not an actor here) are covered by tests/courses/test_roster.py. POST {}: the form again.
    "classes:list": Http(get={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}, shows="class"),
    "classes:create": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN}),
    "classes:detail": Http(get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, NOT_FOUND), "system_admin": OK,
                                "others": FORBIDDEN}, objects={"pk": "class"}),
    "classes:edit": Http(get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, NOT_FOUND), "system_admin": OK,
                              "others": FORBIDDEN}, objects={"pk": "class"}),
    "classes:roster": Http(get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, NOT_FOUND), "system_admin": OK,
                                "others": FORBIDDEN}, objects={"pk": "class"}),
    "classes:rotate_code": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                post={"anonymous": LOGIN, REGION_ADMINS: scoped(REDIRECT, NOT_FOUND),
                                      "system_admin": REDIRECT, "others": FORBIDDEN},
                                objects={"pk": "class"}),
    # ---- exams: the question bank and blueprints, in the Wagtail admin (/admin/exam-bank/): system admins and
    # province admins only (exams.auth lets the latter in); everyone else goes to the admin's login page, as
    # Wagtail answers who may not use the admin. POST {}: the form again. Object pages are tried with pk 0.
    "exam_bank:questions": Http(get=BANK_PAGE, post=BANK_NOT_ALLOWED),
    "exam_bank:question_new": Http(get=BANK_PAGE),
    "exam_bank:question": Http(get=BANK_OBJECT, objects={"pk": "question"}, path="/admin/exam-bank/questions/0/"),
    "exam_bank:question_active": Http(get=BANK_NOT_ALLOWED, post=BANK_OBJECT, objects={"pk": "question"},
                                      path="/admin/exam-bank/questions/0/active/"),
    "exam_bank:import": Http(get=BANK_PAGE),
    "exam_bank:export": Http(get=BANK_PAGE, post=BANK_NOT_ALLOWED),
    "exam_bank:blueprints": Http(get=BANK_PAGE, post=BANK_NOT_ALLOWED),
    "exam_bank:blueprint_new": Http(get=BANK_PAGE),
    "exam_bank:blueprint": Http(get=BANK_OBJECT, objects={"pk": "blueprint"}, path="/admin/exam-bank/blueprints/0/"),
    # practical exam schemes: system admins only; a province admin inside the admin (for the bank) is sent back to
    # the admin's home page with Wagtail's "no permission" message
    "exam_bank:practical_schemes": Http(get={"system_admin": OK, "province_admin": REDIRECT, "others": ADMIN_LOGIN},
                                        post={BANK_MANAGERS: NOT_ALLOWED, "others": ADMIN_LOGIN}),
    "exam_bank:practical_scheme_new": Http(get={"system_admin": NOT_FOUND, "province_admin": REDIRECT,
                                                "others": ADMIN_LOGIN},
                                           objects={"programme_id": "programme"},
                                           path="/admin/exam-bank/practical/0/new/"),
    # ---- courses: the trainee's study (JSON endpoints: a form-encoded POST is not JSON, so 400; the
    # lesson state of a page that is not a lesson is 404; courses/tests cover enrolled, locked and others)
    "courses:home": Http(get={"anonymous": LOGIN, "others": OK}, post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "courses:enrol": Http(get={"anonymous": LOGIN, "others": OK}),  # POST {}: the form again with its error
    "courses:choose_modules": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                   post={"anonymous": LOGIN, "others": FORBIDDEN},  # not their enrolment
                                   objects={"enrolment_id": "enrolment"}, path="/study/enrolments/0/modules/"),
    "courses:heartbeat": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED}, post={"anonymous": LOGIN, "others": "400"}),
    "courses:video": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED}, post={"anonymous": LOGIN, "others": "400"}),
    "courses:answer": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED}, post={"anonymous": LOGIN, "others": "400"}),
    "courses:lesson_state": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                                 post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                 objects={"lesson_id": "lesson"}, path="/study/lessons/1/state/"),
    # ---- exams: the theory exam. The trainee's pages and endpoints answer 404 for an attempt that is not
    # their own (tests/exams/test_exam_views.py covers the owner); attempt 0 does not exist. Staff pages:
    # region and system admins (an attempt outside their region is 404: test_exam_views.py).
    "exams:list": Http(get={"anonymous": LOGIN, "others": OK}, post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "exams:start": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED}, post={"anonymous": LOGIN, "others": NOT_FOUND},
                        objects={"blueprint_id": "blueprint"}, path="/exams/0/start/"),
    "exams:attempt": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                          post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"attempt_id": "attempt"}, path="/exams/attempts/0/"),
    "exams:answer": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED}, post={"anonymous": LOGIN, "others": NOT_FOUND},
                         objects={"attempt_id": "attempt"}, path="/exams/attempts/0/answer/"),
    "exams:leave": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED}, post={"anonymous": LOGIN, "others": NOT_FOUND},
                        objects={"attempt_id": "attempt"}, path="/exams/attempts/0/leave/"),
    "exams:state": Http(get={"anonymous": LOGIN, "others": NOT_FOUND}, post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                        objects={"attempt_id": "attempt"}, path="/exams/attempts/0/state/"),
    "exams:submit": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED}, post={"anonymous": LOGIN, "others": NOT_FOUND},
                         objects={"attempt_id": "attempt"}, path="/exams/attempts/0/submit/"),
    "exams:result": Http(get={"anonymous": LOGIN, "others": NOT_FOUND}, post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                         objects={"attempt_id": "attempt"}, path="/exams/attempts/0/result/"),
    "exams:staff_attempts": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                 post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "exams:staff_attempt": Http(get={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                                post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"attempt_id": "attempt"}, path="/exams/staff/attempts/0/"),
    "exams:staff_void": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                             post={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                             objects={"attempt_id": "attempt"}, path="/exams/staff/attempts/0/void/"),
    "exams:staff_grant": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                              post={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                              objects={"attempt_id": "attempt"}, path="/exams/staff/attempts/0/grant/"),
    # exam analytics (pass rates, question statistics, their XLSX exports): system, region and organisation
    # admins, each counting only the attempts in their scope (tests/exams/test_analytics.py); GET only
    "exams:analytics": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                            post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "exams:analytics_export": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                   post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "exams:analytics_questions": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                      post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "exams:analytics_questions_export": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                             post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    # ---- exams: the practical exam (exams.practical). A session's pages: the admins of its exam room's region
    # and its examiners; a booking's pages also its candidate; anyone else 404. Actions answer with a redirect
    # and the api's reason (POST {}: nothing to do, or refused with its reason: tests/exams/test_practical*.py).
    "exams:practical": Http(get={"anonymous": LOGIN, "others": OK}, post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "exams:practical_session_new": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN}),
    "exams:practical_session": Http(
        get={"anonymous": LOGIN, (*REGION_ADMINS, "examiner"): scoped(OK, NOT_FOUND), "system_admin": OK,
             "others": NOT_FOUND},
        post={"anonymous": LOGIN, REGION_ADMINS: scoped(REDIRECT, NOT_FOUND), "system_admin": REDIRECT,
              "examiner": scoped(FORBIDDEN, NOT_FOUND), "others": NOT_FOUND},
        objects={"session_id": "session"}),
    # anyone signed in may ask to book themselves; the api says why not (theory, programme, capacity)
    "exams:practical_book": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                 post={"anonymous": LOGIN, "others": REDIRECT}, objects={"session_id": "session"}),
    **{f"exams:practical_{name}": Http(
        get={"anonymous": LOGIN, (*REGION_ADMINS, "examiner", "trainee"): scoped(OK, NOT_FOUND), "system_admin": OK,
             "others": NOT_FOUND},
        post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"booking_id": "booking"})
       for name in ("booking", "state", "photo")},
    **{f"exams:practical_{name}": Http(
        get={"anonymous": LOGIN, "others": NOT_ALLOWED},
        post={"anonymous": LOGIN, (*REGION_ADMINS, "examiner", "trainee"): scoped(REDIRECT, NOT_FOUND),
              "system_admin": REDIRECT, "others": NOT_FOUND}, objects={"booking_id": "booking"})
       for name in ("check_in", "checklist", "sign", "appeal", "status")},
    # appeal 0 does not exist (who may assign and decide: tests/exams/test_practical_views.py)
    "exams:practical_appeal_review": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                          post={"anonymous": LOGIN, "others": NOT_FOUND},
                                          objects={"appeal_id": "appeal"}, path="/exams/practical/appeals/0/"),
    # ---- certificates: Open Badges (docs/open-badges.md). The public keys, the issuer's profile and the
    # achievements are public (GET only; achievement "none" does not exist); a certificate's signed credential:
    # its holder and the admins of its region (certificate 0 does not exist; tests/certificates/test_badges.py)
    "certificates:jwks": Http(get={"others": OK}, post={"others": NOT_ALLOWED}),
    "certificates:issuer_profile": Http(get={"others": OK}, post={"others": NOT_ALLOWED}),
    "certificates:achievement": Http(get={"others": NOT_FOUND}, post={"others": NOT_ALLOWED},
                                     objects={"code": "programme"}, path="/certificates/achievements/none"),
    "certificates:certificate_badge": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                                           post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                           objects={"pk": "certificate"}, path="/certificates/0/badge.jwt"),
    # ---- certificates: the staff pages (certificates.views_staff): system, region and organisation admins, each in
    # their scope (organisation admins and the certificates themselves: tests/certificates/test_staff_pages.py);
    # certificate and job 0 do not exist. The class page has the classes pages' scope; POST {} there is refused
    # with its reason (the matrix's programme issues no certificate) and back to the page. The exception form:
    # region and system admins (POST {}: the form again). The holder's page: anyone signed in, their own only.
    "certificates:list": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                              post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "certificates:detail": Http(get={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                                post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                objects={"pk": "certificate"}, path="/certificates/0/"),
    **{f"certificates:{name}": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                    post={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                                    objects={"pk": "certificate"}, path=f"/certificates/0/{action}/")
       for name, action in (("revoke", "revoke"), ("correct_name", "correct-name"), ("renew", "renew"))},
    "certificates:class_issue": Http(get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, NOT_FOUND), "system_admin": OK,
                                          "others": FORBIDDEN},
                                     post={"anonymous": LOGIN, REGION_ADMINS: scoped(REDIRECT, NOT_FOUND),
                                           "system_admin": REDIRECT, "others": FORBIDDEN},
                                     objects={"class_id": "class"}),
    "certificates:job_status": Http(get={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                                    post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                    objects={"job_id": "job"}, path="/certificates/jobs/0/"),
    "certificates:exception_new": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN}),
    "certificates:mine": Http(get={"anonymous": LOGIN, "others": OK}, post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "certificates:reminder_read": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                       post={"anonymous": LOGIN, "others": NOT_FOUND},
                                       objects={"pk": "reminder"}, path="/my/certificates/reminders/0/read/"),
    # ---- certificates: the PDFs (certificates.views_pdf; who gets a real one: tests/certificates/test_pdf.py).
    # Certificate 0 does not exist; the world's classes have no certificates, so even their admins get 404.
    "certificates:certificate_pdf": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                                         post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                         objects={"pk": "certificate"}, path="/certificates/0/pdf/"),
    **{f"certificates:class_bundle_{kind}": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                                                 post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                                 objects={"class_id": "class"}) for kind in ("pdf", "zip")},
    # ---- certificates: public verification (certificates.views_verify, docs/verification.md): no sign-in, the
    # same for everyone. A number that is not well formed is answered 400 with the check digit's reason; a payload
    # that is no payload gets the page's "damaged" answer; bulk POST {} and the XLSX without a prepared answer:
    # 400 and 410 (tests/certificates/test_verification.py).
    "certificates:verify": Http(get={"others": OK}, post={"others": NOT_ALLOWED}),
    "certificates:verify_bulk": Http(get={"others": OK}),
    "certificates:verify_bulk_xlsx": Http(get={"others": NOT_ALLOWED}, post={"others": "410"}),
    "certificates:verify_scan": Http(get={"others": OK}, post={"others": NOT_ALLOWED}, objects={"payload": "payload"},
                                     path="/v/abc.def"),
    "certificates:api_certificate": Http(get={"others": "400"}, post={"others": NOT_ALLOWED},
                                         objects={"number": "number"}, path="/api/v1/certificates/123/"),
    "certificates:api_verify_many": Http(get={"others": NOT_ALLOWED}, post={"others": "400"}),
    "certificates:api_scan": Http(get={"others": NOT_ALLOWED}, post={"others": "400"}),
    # ---- instructors: profiles, teaching records, feedback, assessment (instructors.urls)
    # The list, registration and the annual assessment: region admins (their subtree) and system admins; POST {}
    # to register: the list again with the form's errors; running 2024 without a rule: refused with its reason and
    # back to the page. Profile, assessment and enrolment 0 do not exist (who sees a real one, and 404 outside the
    # region: tests/instructors/test_instructor_pages.py). "My teaching": people with a profile (the examiner) or
    # the instructor role.
    "instructors:list": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                             post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "instructors:register": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                 post={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}),
    "instructors:detail": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                               post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                               objects={"pk": "profile"}, path="/instructors/0/"),
    **{f"instructors:{name}": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                   post={"anonymous": LOGIN, "others": NOT_FOUND},
                                   objects={"pk": "profile"}, path=f"/instructors/0/{action}/")
       for name, action in (("suspend", "suspend"), ("reinstate", "reinstate"), ("change_tier", "tier"))},
    "instructors:assessment": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                   post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "instructors:assessment_year": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                        post={"anonymous": LOGIN, ADMINS: REDIRECT, "others": FORBIDDEN},
                                        objects={"year": "year"}, path="/instructors/assessment/2024/"),
    "instructors:assessment_export": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                          post={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                          objects={"year": "year"}, path="/instructors/assessment/2024/export.xlsx"),
    "instructors:assessment_item": Http(get={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                                        objects={"pk": "assessment"}, path="/instructors/assessment/item/0/"),
    "instructors:mine": Http(get={"anonymous": LOGIN, ("instructor", "examiner"): OK, "others": FORBIDDEN},
                             post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "instructors:feedback": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                                 objects={"enrolment_id": "enrolment"}, path="/my/classes/0/feedback/"),
    # ---- studios: public pages and management (instructors.urls_studios)
    # Public (GET only): the list and a studio's page (studio "none" does not exist). Management: region and
    # system admins and studio heads (nobody in the world heads one: others 403); a studio outside the actor's
    # scope, like "none", 404; opening one: region and system admins (POST {}: the form again with its errors).
    # The rules inside: tests/instructors/test_studios.py.
    "studios:list": Http(get={"others": OK}, post={"others": NOT_ALLOWED}),
    "studios:detail": Http(get={"others": NOT_FOUND}, post={"others": NOT_ALLOWED}, objects={"slug": "studio"},
                           path="/studios/none/"),
    "studios:manage_list": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                                post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "studios:manage_new": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN}),
    **{f"studios:{name}": Http(get={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                               objects={"slug": "studio"}, path=f"/studios/manage/none/{tail}")
       for name, tail in (("manage_edit", ""), ("manage_members", "members/"), ("manage_showcase", "showcase/"))},
    # ---- inspections (inspections.urls)
    # Inspections (飞行检查): planners (region and system admins) and inspectors; a planned inspection is secret
    # from everyone else (404, as for inspection 0 here; tests/inspections/test_secrecy.py). The phone's JSON
    # endpoints answer 401 to a signed-out phone (it keeps its changes) instead of a redirect.
    "inspections:home": Http(get={"anonymous": LOGIN, ("inspector", *ADMINS): OK, "others": FORBIDDEN},
                             post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "inspections:sw": Http(get={"others": OK}, post={"others": NOT_ALLOWED}),
    "inspections:findings": Http(get={"anonymous": LOGIN, "others": OK}, post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "inspections:finding": Http(get={"anonymous": LOGIN, "others": NOT_FOUND}, objects={"pk": "finding"},
                                path="/inspections/findings/0/"),
    "inspections:plan_new": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN}),
    "inspections:plan": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                             post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"pk": "plan"},
                             path="/inspections/plans/0/"),
    "inspections:photo_file": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                                   post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"pk": "photo"},
                                   path="/inspections/photos/0/"),
    "inspections:detail": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                               post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"pk": "inspection"},
                               path="/inspections/0/"),
    "inspections:checklist": Http(get={"anonymous": LOGIN, "others": NOT_FOUND},
                                  post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"pk": "inspection"},
                                  path="/inspections/0/checklist/"),
    **{f"inspections:{name}": Http(get={"anonymous": LOGIN, "others": NOT_ALLOWED},
                                   post={"anonymous": LOGIN, "others": NOT_FOUND},
                                   objects={"pk": "inspection"}, path=f"/inspections/0/{action}/")
       for name, action in (("assign", "assign"), ("start", "start"), ("submit", "submit"),
                            ("finding_new", "findings/new"), ("close", "close"))},
    **{f"inspections:{name}": Http(get={"others": NOT_ALLOWED}, post={"anonymous": "401", "others": NOT_FOUND},
                                   objects={"pk": "inspection"}, path=f"/inspections/0/{action}/")
       for name, action in (("changes", "checklist/changes"), ("photos", "photos"))},
    # ---- awareness sessions (courses.urls_awareness)
    # Organisation, region and system admins, as the class pages (organisation admins, not an actor here, and
    # the sessions each admin sees: tests/dashboards/test_awareness.py). The form's organisation choice lists only
    # the organisations the admin manages; POST {}: the form again with its errors. The list is GET only.
    "awareness:list": Http(get={"anonymous": LOGIN, ADMINS: OK, "others": FORBIDDEN},
                           post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    "awareness:new": Http(get={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}, shows="organisation",
                          post={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}),
    # ---- dashboards: the region dashboards (dashboards.urls)
    # Region and system admins only. The start page sends a region admin of one region to its dashboard and lists
    # the provinces for a system admin. A region's dashboard and its XLSX export: the viewer's subtree; a region
    # outside it is refused (403, indicators.require_dashboard). GET only. Which region each admin may open, the
    # drill-down and the breadcrumb: tests/dashboards/test_pages.py.
    "dashboards:index": Http(get={"anonymous": LOGIN, REGION_ADMINS: REDIRECT, "system_admin": OK, "others": FORBIDDEN},
                             post={"anonymous": LOGIN, "others": NOT_ALLOWED}),
    **{f"dashboards:{name}": Http(get={"anonymous": LOGIN, REGION_ADMINS: scoped(OK, FORBIDDEN), "system_admin": OK,
                                       "others": FORBIDDEN},
                                  post={"anonymous": LOGIN, "others": NOT_ALLOWED}, objects={"region_id": "region"})
       for name in ("region", "export")},
    # ---- dashboards: targets (dashboards.urls_targets)
    # Region admins (their subtree) and system admins; the list shows the targets of the viewer's regions and a form
    # whose region choice lists only them (POST {}: the form again with its errors). Target 0 does not exist (a
    # real one outside the viewer's region is 404 too: tests/dashboards/test_targets.py).
    "dashboard_targets:list": Http(get={"anonymous": LOGIN, ADMINS: SHOWS, "others": FORBIDDEN}, shows="region"),
    "dashboard_targets:edit": Http(get={"anonymous": LOGIN, ADMINS: NOT_FOUND, "others": FORBIDDEN},
                                   objects={"pk": "target"}, path="/dashboards/targets/0/"),
    # ---- content: the course search (public, GET only) and course images for servers without nginx
    "content:search": Http(get={"others": OK}, post={"others": NOT_ALLOWED}),
    # only media/images/ and media/original_images/ (public illustrations), never a person's photo
    "content:public_image": Http(get={"others": NOT_FOUND}, post={"others": NOT_ALLOWED}, objects={"path": "person"},
                                 path=lambda world: "/media/" + world.people["trainee"].photo.name),
    # ---- third-party includes, one entry each
    # The Wagtail admin: system admins, and province admins for the question bank (exams.auth); everyone
    # else is sent to its login page. What a province admin may do inside: tests/exams/test_bank_admin.py.
    "wagtail.admin.urls": Http(get={("province_admin", "system_admin"): OK, "others": ADMIN_LOGIN},
                               post={("province_admin", "system_admin"): NOT_ALLOWED, "others": ADMIN_LOGIN},
                               path="/admin/"),
    # Wagtail's page tree: the public site.
    "wagtail.urls": Http(get={"others": OK}, post={"others": OK}, path="/"),
    # Documents uploaded in the Wagtail admin are public content (ID photos are not documents).
    "wagtail.documents.urls": Http(get={"others": OK}, path=lambda world: world.document.url),
    # The language switch.
    "django.conf.urls.i18n": Http(get={"others": REDIRECT}, post={"others": REDIRECT}, path="/i18n/setlang/",
                                  data={"language": "en", "next": "/"}),
    # ---- WebSockets
    "ws:/ws/bridge/": Ws(connect={"others": CLOSED_4401},  # a session is no station token
                         tokens={"station": ACCEPTED, "wrong": CLOSED_4401}),
    "ws:/ws/rooms/<int:room_id>/": Ws(
        connect={"anonymous": CLOSED_4401, (*REGION_ADMINS, *STAFF): scoped(ACCEPTED, CLOSED_4403),
                 "system_admin": ACCEPTED, ("trainee", "inspector"): CLOSED_4403},
        objects={"room_id": "room"}),
    "ws:/ws/manikins/<int:manikin_id>/": Ws(
        connect={"anonymous": CLOSED_4401, "system_admin": ACCEPTED, "inspector": CLOSED_4403,
                 "others": scoped(ACCEPTED, CLOSED_4403)},  # the trainee: while their recording runs
        objects={"manikin_id": "manikin"}),
    # The study socket: any signed-in person; each lesson's access is checked per beat
    # (tests/courses/test_study_socket.py).
    "ws:/ws/study/": Ws(connect={"anonymous": CLOSED_4401, "others": ACCEPTED}),
    # The exam socket: only the attempt's trainee (tests/exams/test_exam_socket.py); attempt 0 does not exist.
    "ws:/ws/exams/attempts/<int:attempt_id>/": Ws(connect={"anonymous": CLOSED_4401, "others": CLOSED_4403},
                                                  objects={"attempt_id": "attempt"}, path="/ws/exams/attempts/0/"),
}


def expected(table: Expect, actor: str) -> tuple[str, str]:
    """(outcome in scope, outcome outside it) of ``actor`` in a row of the matrix."""
    found = None
    for key, outcome in table.items():
        if actor == key or (isinstance(key, tuple) and actor in key):
            if found is not None:
                raise AssertionError(f"{actor} is named twice")
            found = outcome
    if found is None:
        found = table.get("others")
    if found is None:
        raise AssertionError(f"no outcome for {actor}")
    return found if isinstance(found, tuple) else (found, found)


# ------------------------------------------------------------------ the routes that exist


def _is_product(module) -> bool:
    path = getattr(module, "__file__", None)
    if path is None:
        return False
    path = Path(path).resolve()
    return ROOT in path.parents and not {".venv", "site-packages"} & set(path.parts)


@dataclass(frozen=True)
class Route:
    key: str
    route: str  # the full pattern, e.g. "rooms/<int:room_id>/"
    arguments: tuple[str, ...]


def http_routes() -> dict[str, Route]:
    """Product routes as ``namespace:name`` (or ``/pattern`` when unnamed), third-party includes by module."""
    out: dict[str, Route] = {}

    def walk(patterns, prefix: str, namespace: str, product: bool = True):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                module = p.urlconf_module
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                listed = isinstance(module, (list, tuple))
                if listed and _is_product(_module_of(module)):
                    walk(p.url_patterns, route, ns)  # the product's own views (also inside another app's urls)
                elif listed and not product:
                    walk(p.url_patterns, route, ns, product=False)
                elif listed or _is_product(module):
                    walk(p.url_patterns, route, ns, product)
                else:
                    if product:
                        out[module.__name__] = Route(module.__name__, route, ())
                    walk(p.url_patterns, route, ns, product=False)  # only for product routes inside it
            elif isinstance(p, URLPattern) and product:
                key = f"{namespace}{p.name}" if p.name else "/" + route
                out[key] = Route(key, route, tuple(p.pattern.converters))

    walk(get_resolver().url_patterns, "", "")
    return out


def _module_of(patterns):
    """The module of the views of a list of URL patterns (the product's bank pages in the Wagtail admin)."""
    import sys

    for p in patterns[0] if isinstance(patterns, tuple) else patterns:
        callback = getattr(p, "callback", None)
        if callback is not None:
            return sys.modules.get(callback.__module__)
    return None


def _unwrap(app):
    while not isinstance(app, URLRouter):
        app = getattr(app, "inner", None) or getattr(app, "application", None) or getattr(app, "app", None)
        if app is None:
            return None
    return app


def ws_routes() -> dict[str, Route]:
    """WebSocket routes of the ASGI application, as ``ws:/<pattern>``."""
    out: dict[str, Route] = {}

    def walk(router: URLRouter, prefix: str):
        for r in router.routes:
            route = prefix + str(r.pattern)
            inner = _unwrap(r.callback)
            if inner is not None:
                walk(inner, route)
            else:
                key = "ws:/" + route
                out[key] = Route(key, route, tuple(getattr(r.pattern, "converters", {})))

    walk(_unwrap(application.application_mapping["websocket"]), "")
    return out


HTTP_ROUTES = http_routes()
WS_ROUTES = ws_routes()
HOW_TO_ADD = ("add an entry to MATRIX in tests/test_authorization_matrix.py saying what each actor gets "
              "(Http(get=..., post=..., objects=...) or Ws(connect=..., objects=...)); see the module's docstring")


# ------------------------------------------------------------------ the matrix itself is complete


def test_the_routes_are_found():
    assert {"lms:dashboard", "lms:people", "manikin:console", "manikin:start", "wagtail.admin.urls",
            "wagtail.urls"} <= set(HTTP_ROUTES)
    assert {"ws:/ws/bridge/", "ws:/ws/rooms/<int:room_id>/"} <= set(WS_ROUTES)


def test_every_route_has_an_entry():
    missing = sorted((set(HTTP_ROUTES) | set(WS_ROUTES)) - set(MATRIX))
    assert not missing, f"routes without an entry in the authorisation matrix: {missing}; {HOW_TO_ADD}"


def test_every_entry_names_a_route():
    stale = sorted(set(MATRIX) - set(HTTP_ROUTES) - set(WS_ROUTES))
    assert not stale, f"entries of the authorisation matrix for routes that no longer exist: {stale}; remove them"


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_every_entry_covers_every_actor_and_argument(key):
    spec = MATRIX[key]
    if isinstance(spec, Ws):
        tables = [spec.connect]
    else:
        tables = [spec.get] + ([spec.post] if isinstance(spec.post, dict) else [])
    for table in tables:
        for actor in ACTORS:
            expected(table, actor)
        named = {a for k in table if k != "others" for a in (k if isinstance(k, tuple) else (k,))}
        assert named <= set(ACTORS), f"{key}: unknown actors {named - set(ACTORS)}"
    route = HTTP_ROUTES.get(key) or WS_ROUTES.get(key)
    if route is not None:
        assert set(spec.objects) == set(route.arguments), f"{key}: objects must name the URL's arguments"


# ------------------------------------------------------------------ HTTP


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # A cache of its own: the rate limits (number search, password reset) count this test's requests only.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"matrix-{tmp_path.name}"}}
    return build_world()


@pytest.fixture
def http_world(world):
    """The world and a document uploaded to Wagtail's root collection (a table the WebSocket tests flush)."""
    from wagtail.documents import get_document_model

    world.document = get_document_model().objects.create(title="公开资料", file=ContentFile(b"matrix", name="matrix.txt"))
    return world


def _http_path(key: str, spec: Http, world: World, actor: str, side: str) -> str | None:
    if spec.path is not None:
        return spec.path(world) if callable(spec.path) else spec.path
    kwargs = {}
    for arg, kind in spec.objects.items():
        obj = world.obj(kind, actor, side)
        if obj is None:
            return None
        kwargs[arg] = obj.pk
    return reverse(key, kwargs=kwargs)


def _check_http(resp, outcome: str, shown: str | None, not_shown: str | None) -> str | None:
    """None if ``resp`` is ``outcome``, else what it was."""
    status = resp.status_code
    location = resp.get("Location", "")
    login = reverse(django_settings.LOGIN_URL)
    got = f"{status}{' → ' + location if location else ''}"
    if status == 500 and getattr(resp, "exc_info", None):
        got += f" ({resp.exc_info[1]!r})"
    if outcome in (OK, SHOWS, HIDES):
        if status != 200:
            return got
        if outcome == OK or getattr(resp, "streaming", False):
            return None
        body = resp.content.decode()
        if outcome == SHOWS and shown is not None and shown not in body:
            return f"200 without {shown!r}"
        if outcome == HIDES and shown is not None and shown in body:
            return f"200 showing {shown!r}"
        if not_shown is not None and not_shown in body:
            return f"200 showing {not_shown!r} (out of scope)"
        return None
    if outcome == LOGIN:
        return None if status == 302 and location.startswith(login + "?next=") else got
    if outcome == ADMIN_LOGIN:
        return None if status == 302 and location.startswith(reverse("wagtailadmin_login")) else got
    if outcome == REDIRECT:
        return None if status == 302 and not location.startswith((login, reverse("wagtailadmin_login"))) else got
    return None if str(status) == outcome else got


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(HTTP_ROUTES))
def test_http_route(key, http_world):
    world = http_world
    spec = MATRIX.get(key)
    if spec is None:
        pytest.fail(f"{key} ({HTTP_ROUTES[key].route}) has no entry in the authorisation matrix; {HOW_TO_ADD}")
    failures = []
    client = Client(raise_request_exception=False)
    sides = ("in", "out") if (spec.objects or spec.shows) else ("in",)
    for actor in ACTORS:
        client.logout()
        if actor != "anonymous":
            client.force_login(world.user(actor))
        for method in ("get", "post"):
            table = spec.get if method == "get" or spec.post == SAME_AS_GET else spec.post
            outcomes = dict(zip(("in", "out"), expected(table, actor)))
            for side in sides:
                path = _http_path(key, spec, world, actor, side)
                if path is None:
                    continue  # nothing lies outside this actor's scope
                obj = world.obj(spec.shows, actor, side) if spec.shows else None
                if spec.shows and obj is None:
                    continue
                data = (spec.data(obj) if callable(spec.data) else spec.data) if method == "post" else {}
                with transaction.atomic():
                    resp = getattr(client, method)(path, data)
                    transaction.set_rollback(True)
                shown = not_shown = None
                if obj is not None and side == "in":
                    shown = label(spec.shows, obj)
                    other = world.obj(spec.shows, actor, "out")
                    not_shown = None if other is None else label(spec.shows, other)
                elif obj is not None:
                    not_shown = label(spec.shows, obj)
                wrong = _check_http(resp, outcomes[side], shown, not_shown)
                if wrong:
                    failures.append(f"{actor} {method.upper()} {path} ({side} scope): expected {outcomes[side]}, "
                                    f"got {wrong}")
    assert not failures, f"{key}:\n  " + "\n  ".join(failures)


# ------------------------------------------------------------------ WebSockets


@pytest.fixture
def session_cookies(world):
    """Each signed-in actor's session cookie, as a browser sends it with its socket."""
    name, cookies = django_settings.SESSION_COOKIE_NAME, {}
    for actor in SIGNED_IN:
        client = Client()
        client.force_login(world.user(actor))
        cookies[actor] = f"{name}={client.cookies[name].value}"
    return cookies


def _ws_path(route: Route, spec: Ws, world: World, actor: str, side: str) -> str | None:
    if spec.path is not None:
        return spec.path
    values = {}
    for arg, kind in spec.objects.items():
        obj = world.obj(kind, actor, side)
        if obj is None:
            return None
        values[arg] = str(obj.pk)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route.route)


async def _ws_outcome(path: str, headers: list[tuple[bytes, bytes]]) -> str:
    """What a socket to ``path`` got: ACCEPTED, or "closed with <code>"."""
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await comm.connect(timeout=5)
    if not connected:
        return f"closed with {code}"
    try:
        if await comm.receive_nothing(timeout=0.2):
            return ACCEPTED
        out = await comm.receive_output(timeout=5)
        return f"closed with {out.get('code')}" if out["type"] == "websocket.close" else ACCEPTED
    finally:
        await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", sorted(WS_ROUTES))
async def test_websocket_route(key, world, session_cookies):
    spec = MATRIX.get(key)
    if spec is None:
        pytest.fail(f"{key} has no entry in the authorisation matrix; {HOW_TO_ADD}")
    route = WS_ROUTES[key]
    failures = []
    browser = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    sides = ("in", "out") if spec.objects else ("in",)
    for actor in ACTORS:
        outcomes = dict(zip(("in", "out"), expected(spec.connect, actor)))
        headers = browser + ([(b"cookie", session_cookies[actor].encode())] if actor != "anonymous" else [])
        for side in sides:
            path = _ws_path(route, spec, world, actor, side)
            if path is None:
                continue
            got = await _ws_outcome(path, headers)
            if got != outcomes[side]:
                failures.append(f"{actor} {path} ({side} scope): expected {outcomes[side]}, got {got}")
    tokens = {"station": world.station_tokens["xihu_exam"], "wrong": "not-the-token-of-any-station"}
    for name, outcome in spec.tokens.items():
        path = _ws_path(route, spec, world, "system_admin", "in")
        got = await _ws_outcome(path, [(b"authorization", f"Bearer {tokens[name]}".encode())])
        if got != outcome:
            failures.append(f"a bridge with {name} token: expected {outcome}, got {got}")
    assert not failures, f"{key}:\n  " + "\n  ".join(failures)
