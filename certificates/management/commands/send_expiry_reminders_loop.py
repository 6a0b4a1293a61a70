"""Send the certificates' expiry reminders every ``--interval-min`` minutes (default 60) until stopped.

``python -m lms.serving`` (``make demo``) starts this loop beside the task worker, as it starts
``publish_scheduled_loop``. Elsewhere run it as a service, or ``manage.py send_expiry_reminders`` from cron
(the scheduled task ``certificates.tasks.send_expiry_reminders_task`` does the same). Each pass sends only
what is due and not yet sent, so a restart, an overlap or a missed hour changes nothing.
"""

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from certificates.lifecycle import send_expiry_reminders


class Command(BaseCommand):
    help = "Send the certificates' expiry reminders every --interval-min minutes until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--interval-min", type=float, default=60.0)
        parser.add_argument("--once", action="store_true", help="run once and exit")

    def handle(self, *args, interval_min: float, once: bool, verbosity: int = 1, **options):
        stopping = []
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
        interval_s = max(1.0, interval_min * 60)
        while not stopping:
            try:
                counts = send_expiry_reminders()
                if verbosity >= 1 and (once or any(counts[k] for k in ("app", "email", "sms", "failed"))):
                    self.stdout.write(", ".join(f"{k} {v}" for k, v in counts.items()))
            except Exception as error:  # a database hiccup must not stop the schedule
                self.stderr.write(f"send_expiry_reminders failed: {error!r}")
            if once:
                break
            deadline = time.monotonic() + interval_s
            while not stopping and time.monotonic() < deadline:
                time.sleep(1.0)
            close_old_connections()  # a connection kept for an hour may have gone stale
