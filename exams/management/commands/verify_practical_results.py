"""Recompute the SHA-256 of every frozen practical exam result, its chain and its CPR samples' digest.

    python manage.py verify_practical_results [--booking ID]

Prints one line per problem and a summary; exits with status 1 if any version does not check out.
"""

from django.core.management.base import BaseCommand

from exams import practical
from exams.models import PracticalResult


class Command(BaseCommand):
    help = "Verify every frozen practical exam result (hash, chain, samples)."

    def add_arguments(self, parser):
        parser.add_argument("--booking", type=int, help="only this booking's versions")

    def handle(self, *args, booking=None, **options):
        qs = PracticalResult.objects.all()
        if booking is not None:
            qs = qs.filter(booking_id=booking)
        checked, problems = practical.verify_results(qs)
        for p in problems:
            self.stdout.write(f"booking {p.booking_id} version {p.number} (result {p.result_id}): {p.what}")
        if problems:
            self.stdout.write(self.style.ERROR(f"{len(problems)} problem(s) in {checked} result version(s)."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"{checked} result version(s) verified: every hash, chain and "
                                             "samples digest checks out."))
