"""Signals other apps may receive from the exams app."""

from django.dispatch import Signal

# Sent after the commit of every frozen practical-exam result version (signed, late evidence, appeal
# decision), with ``result_id`` and ``candidate_id``. Certificates issue on a passed one where the
# programme's rule says so (``certificates.issuing``).
practical_result_frozen = Signal()
