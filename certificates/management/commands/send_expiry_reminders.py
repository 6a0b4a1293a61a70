"""Send the certificates' expiry reminders due today, once (``certificates.lifecycle.send_expiry_reminders``).

Safe to run at any time and as often as wanted: a reminder is sent once per certificate, days-before mark
and channel. ``send_expiry_reminders_loop`` runs it every hour (``python -m lms.serving`` starts it); cron
may run this command instead.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError

from certificates.lifecycle import send_expiry_reminders


class Command(BaseCommand):
    help = "Send the certificates' expiry reminders due today (in the app, by e-mail and by text message)."

    def add_arguments(self, parser):
        parser.add_argument("--today", help="the day to send for, YYYY-MM-DD (default: today)")

    def handle(self, *args, today: str | None = None, verbosity: int = 1, **options):
        day = None
        if today:
            try:
                day = datetime.date.fromisoformat(today)
            except ValueError as error:
                raise CommandError(f"--today: {error}") from None
        counts = send_expiry_reminders(today=day)
        if verbosity >= 1:
            self.stdout.write(", ".join(f"{k} {v}" for k, v in counts.items()))
