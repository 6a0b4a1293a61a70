import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _content_media_and_cache(settings, tmp_path):
    """Uploads into a folder of the test's own; a fresh cache (lesson renders, tree generation); the
    search index updated at once (in production the task worker, ``manage.py db_worker``, does it)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def course(db):
    from tests.content.factories import build_course

    return build_course()
