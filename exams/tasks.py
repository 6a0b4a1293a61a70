"""Background tasks of the exams app (django-tasks; run by ``manage.py db_worker``)."""

from django_tasks import task


@task()
def settle_late_evidence_task(recording_id: int) -> None:
    """Late samples of a practical exam's CPR item: see ``exams.practical.settle_late_evidence``."""
    from .practical import settle_late_evidence

    settle_late_evidence(recording_id)
