import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _content_media_and_cache(settings, tmp_path):
    """Uploads into a folder of the test's own; a fresh cache (lesson renders, tree generation)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def course(db):
    from tests.content.factories import build_course

    return build_course()
