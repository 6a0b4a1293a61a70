"""Publish (and unpublish) pages at their scheduled time: Wagtail's ``publish_scheduled`` every minute.

Wagtail keeps a revision approved for a future go-live time (or a page's expiry) until that command
runs; ``python -m lms.serving`` (``make demo``) starts this loop beside the task worker. In other
deployments, run it as a service, or ``manage.py publish_scheduled`` from cron every minute.
"""

import signal
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections


class Command(BaseCommand):
    help = "Run Wagtail's publish_scheduled every --interval-s seconds until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--interval-s", type=float, default=60.0)
        parser.add_argument("--once", action="store_true", help="run once and exit")

    def handle(self, *args, interval_s: float, once: bool, **options):
        stopping = []
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
        while not stopping:
            try:
                call_command("publish_scheduled", verbosity=0)
            except Exception as error:  # a database hiccup must not stop the schedule
                self.stderr.write(f"publish_scheduled failed: {error!r}")
            if once:
                break
            deadline = time.monotonic() + interval_s
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(1.0, interval_s))
            close_old_connections()  # a connection kept for a minute may have gone stale
