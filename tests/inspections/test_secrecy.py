"""The instructor and the class never learn of an inspection before it happens.

With the class, its instructor, a trainee and the organisation admin of its training base: every page each of
them can GET (every route of the URL configuration without arguments, and every route with integer arguments
filled in with the class's id, its enrolment's, its trainee's) is fetched before the plan is drawn and again
after it is drawn and an inspector assigned: the pages are the same, byte for byte once the per-request tokens
are masked, and none names the inspector, the plan or the day. No socket message goes out while planning.
The audit records of the plan are not readable by them, and their personal-data export does not change.
"""

from __future__ import annotations

import io
import re
import zipfile
from unittest import mock

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import translation

from inspections import api
from lms import api as lms_api
from lms import privacy

from .conftest import client_for

pytestmark = pytest.mark.django_db

TOKENS = [re.compile(p) for p in (r'name="csrfmiddlewaretoken" value="[^"]+"', r'nonce="[^"]+"',
                                   r'"csrf(?:_?token)?"\s*:\s*"[^"]+"', r'data-csrf="[^"]+"')]
SKIP = ("/logout/", "/admin/", "/documents/", "/i18n/", "/healthz", "/password-reset", "/media/", "/static/")


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _routes(p, route)
        elif isinstance(p, URLPattern):
            yield route


def _paths(world) -> list[str]:
    ids = [world.klass.pk, world.enrolments[0].pk, world.trainees[0].pk, world.instructor.pk, world.base.pk]
    paths = set()
    for route in _routes():
        if route.startswith("^") or "(?P" in route:
            continue  # regex routes of third-party includes (Wagtail's page serving: the home page is "/")
        params = re.findall(r"<(?:(\w+):)?(\w+)>", route)
        if not params:
            paths.add("/" + route)
        elif all(conv == "int" for conv, _name in params):
            for value in ids:
                paths.add("/" + re.sub(r"<int:\w+>", str(value), route))
    return sorted(p for p in paths if not p.startswith(SKIP))


def _text(body: bytes) -> str:
    """The text of a response; of an XLSX (a zip), its sheets and strings, without the file's timestamps."""
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in sorted(z.namelist())
                           if not n.startswith("docProps/"))
    return body.decode("utf-8", "replace")


def _snapshot(clients, paths) -> dict:
    out = {}
    for who, client in clients.items():
        for path in paths:
            resp = client.get(path)
            body = b"".join(resp.streaming_content) if getattr(resp, "streaming", False) else resp.content
            text = _text(body)
            for t in TOKENS:
                text = t.sub("«token»", text)
            out[(who, path)] = (resp.status_code, resp.get("Location", ""), text)
    return out


def test_a_planned_inspection_leaves_no_trace_on_the_class_side(world):
    people = {"instructor": world.instructor, "trainee": world.trainees[0], "org_admin": world.org_admin}
    clients = {who: client_for(p, en=False) for who, p in people.items()}
    paths = _paths(world)
    assert len(paths) > 40 and "/dashboard/" in paths and f"/classes/{world.klass.pk}/" in paths
    def exports():
        with translation.override("en"):
            return {who: privacy.collect(p) for who, p in people.items()}

    exports_before = exports()
    before = _snapshot(clients, paths)

    from channels.layers import get_channel_layer

    layer = get_channel_layer()  # the instance every sender uses (the Redis layer answers through __getattr__)
    with mock.patch.object(layer, "group_send") as group_send, mock.patch.object(layer, "send") as send:
        plan = api.create_plan(world.planner, region=world.regions["hz"], name="保密检查计划XYZ",
                               period_start=world.today, period_end=world.today, sample_size=1, seed="secret")
        inspection = plan.inspections.get()
        api.assign_inspector(world.planner, inspection, world.inspector)
    assert inspection.training_class_id == world.klass.pk
    assert not group_send.called and not send.called

    after = _snapshot(clients, paths)
    changed = [key for key in before if before[key] != after[key]]
    assert not changed, f"pages that changed when the inspection was planned: {changed}"
    day = inspection.scheduled_on
    markers = [world.inspector.real_name, "保密检查计划XYZ", world.inspector.username]
    for key, (_status, _loc, text) in after.items():
        for m in markers:
            assert m not in text, (key, m)
    assert day is not None
    # The audit log: only system admins read it; the class's side reads nothing of the plan.
    for person in people.values():
        assert not lms_api.audit_log(person).filter(action__startswith="inspection").exists()
        assert not lms_api.audit_log(person).exists()
    # Their personal-data export is unchanged.
    assert exports() == exports_before
    # The inspection's own routes answer 404 to them, as for an inspection that does not exist.
    for client in clients.values():
        for path in (f"/inspections/{inspection.pk}/", f"/inspections/{inspection.pk}/checklist/",
                     f"/inspections/plans/{plan.pk}/"):
            assert client.get(path).status_code == 404
        assert client.post(f"/inspections/{inspection.pk}/start/").status_code == 404


def test_findings_reach_the_class_side_once_the_inspection_started(world):
    from inspections.models import Inspection

    _plan, inspection = __import__("tests.inspections.conftest", fromlist=["plan_one"]).plan_one(world)
    finding_page = "/inspections/findings/"
    instructor = client_for(world.instructor)
    assert "督查员甲" not in instructor.get(finding_page).content.decode()
    inspection = api.start_inspection(world.inspector, inspection)
    finding = api.add_finding(world.inspector, inspection, severity="major", deadline=world.today,
                              description="模拟人面皮未更换")
    assert Inspection.objects.get(pk=inspection.pk).started_at is not None
    for person in (world.instructor, world.org_admin):
        c = client_for(person)
        page = c.get(finding_page).content.decode()
        assert "模拟人面皮未更换" in page
        assert c.get(f"/inspections/findings/{finding.pk}/").status_code == 200
        assert c.get(f"/inspections/{inspection.pk}/").status_code == 404  # the checklist stays the inspector's
    trainee = client_for(world.trainees[0])
    assert "模拟人面皮未更换" not in trainee.get(finding_page).content.decode()
    assert trainee.get(f"/inspections/findings/{finding.pk}/").status_code == 404
