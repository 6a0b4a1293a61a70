"""Background tasks of the certificates app (django-tasks; run by ``manage.py db_worker``)."""

from django_tasks import task


@task()
def render_certificate_pdf(certificate_id: int) -> None:
    """Render and sign a certificate's PDF (``certificates.pdf.render_and_store``)."""
    from .pdf import render_and_store

    render_and_store(certificate_id)


@task()
def render_class_bundle(job_id: int) -> None:
    """A class issue job's certificates as one PDF and as a zip (``certificates.pdf.render_bundle``)."""
    from .pdf import render_bundle

    render_bundle(job_id)


@task()
def run_issue_job_task(job_id: int) -> None:
    """Issue a class's certificates (``certificates.issuing.run_issue_job``)."""
    from .issuing import run_issue_job

    run_issue_job(job_id)


@task()
def auto_issue_task(result_id: int) -> None:
    """Issue the certificate of a passed, signed practical result (``certificates.issuing.auto_issue``)."""
    from .issuing import auto_issue

    auto_issue(result_id)


@task()
def send_expiry_reminders_task() -> None:
    """The scheduled expiry reminders (``certificates.lifecycle.send_expiry_reminders``)."""
    from .lifecycle import send_expiry_reminders

    send_expiry_reminders()
