import pytest

from lms import api as lms_api
from lms.models import Organisation, Role
from manikin import api

ADDR = "F0:0D:00:00:00:01"


@pytest.fixture(autouse=True)
def no_background_task_failed(caplog):
    """A consumer's background task that raised is a failing test, not a line lost in the log."""
    yield
    failed = [r for r in caplog.records if getattr(r, "background_task", False)]
    assert not failed, "a background task failed: " + "; ".join(
        f"{r.getMessage()}: {r.exc_info[1]!r}" if r.exc_info else r.getMessage() for r in failed)


@pytest.fixture
def site(regions, make_person):
    """A room with two stations (a manikin on the first), an examiner of the site and a stranger."""
    org = lms_api.create_organisation(None, name="考点", kind=Organisation.Kind.EXAM_SITE, region=regions["xihu"])
    room = api.create_room(None, organisation=org, name="考场")
    s1, tok1 = api.create_station(None, room=room, name="1号")
    s2, tok2 = api.create_station(None, room=room, name="2号")
    api.assign_manikin(None, station=s1, address=ADDR, label="1-1")
    return {"room": room, "s1": s1, "s2": s2, "tok1": tok1, "tok2": tok2,
            "examiner": make_person(regions["xihu"], roles=(Role.EXAMINER,), organisation=org),
            "stranger": make_person(regions["beilun"], roles=(Role.EXAMINER,))}
