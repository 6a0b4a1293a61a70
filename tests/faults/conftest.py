import pytest

from lms.liveserver import LiveDatabase


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """The demo on the run's database (a fresh PostgreSQL database when DATABASE_URL names one), for one module."""
    with LiveDatabase(tmp_path_factory.mktemp("faults")) as db:
        db.prepare()
        yield db
