"""Close the theory-exam attempts whose time is over (``exams.attempts.close_expired``).

An attempt nobody comes back to is submitted at its deadline with the answers saved before it.
One pass by default (cron); ``--loop`` runs a pass every ``--interval-s`` seconds until stopped
(``python -m lms.serving`` starts it beside the task worker). Attempts touched after their deadline
are also closed on the spot, so a late pass changes no result: it only makes it visible sooner.
"""

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from exams.attempts import close_expired


class Command(BaseCommand):
    help = "Submit the exam attempts past their deadline (one pass, or --loop every --interval-s seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="run until stopped")
        parser.add_argument("--interval-s", type=float, default=15.0)

    def handle(self, *args, loop: bool, interval_s: float, verbosity: int = 1, **options):
        stopping = []
        if loop:
            signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
        while not stopping:
            try:
                closed = close_expired()
                if verbosity >= 1 and (closed or not loop):
                    self.stdout.write(f"closed {closed} exam attempt(s) past their deadline")
            except Exception as error:  # a database hiccup must not stop the closer
                if not loop:
                    raise
                self.stderr.write(f"close_exam_attempts failed: {error!r}")
            if not loop:
                break
            deadline = time.monotonic() + interval_s
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(1.0, interval_s))
            close_old_connections()
