import pytest


@pytest.fixture(autouse=True)
def no_background_task_failed(caplog):
    """A consumer's background task that raised is a failing test, not a line lost in the log."""
    yield
    failed = [r for r in caplog.records if getattr(r, "background_task", False)]
    assert not failed, "a background task failed: " + "; ".join(
        f"{r.getMessage()}: {r.exc_info[1]!r}" if r.exc_info else r.getMessage() for r in failed)
