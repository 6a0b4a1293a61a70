"""``manage.py generate_province``: a province-sized data set for the dashboards (``dashboards/generate.py``)."""

from django.core.management.base import BaseCommand, CommandError

from dashboards import generate


class Command(BaseCommand):
    help = ("Generate a province-sized data set for the region dashboards: the 90 counties of the demo Zhejiang "
            "tree, populations, organisations, instructors and, at --scale 1.0, 10 million awareness records and "
            "1 million certificates with their classes, exams and recordings; then count the summary cells.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0,
                            help="1.0: 10,000,000 awareness records and 1,000,000 certificates (default 1.0)")
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed, the same data")
        parser.add_argument("--years", default="", help="FIRST-LAST, e.g. 2022-2026 (default: the last five years "
                                                        "up to this one)")
        parser.add_argument("--province", default="浙江省", help="the province's name (default 浙江省)")
        parser.add_argument("--replace", action="store_true", help="delete the generated rows first")
        parser.add_argument("--delete", action="store_true", help="only delete the generated rows")

    def handle(self, *args, scale, seed, years, province, replace, delete, **options):
        say = self.stdout.write
        if delete:
            counts = generate.delete_generated(out=say)
            say(self.style.SUCCESS(f"Deleted {sum(counts.values()):,} generated rows."))
            return
        try:
            span = generate.parse_years(years) if years else None
            report = generate.generate(scale=scale, seed=seed, years=span, province=province, replace=replace,
                                       out=say)
        except (ValueError, generate.GeneratedDataExists) as exc:
            raise CommandError(str(exc)) from exc
        width = max(len(k) for k in report.rows)
        say(f"{'table / step':<{width}}  {'rows':>12}  {'seconds':>8}")
        for name, seconds in report.seconds.items():
            n = report.rows.get(name, 0)
            say(f"{name:<{width}}  {n:>12,}  {seconds:>8.1f}" if n else f"{name:<{width}}  {'':>12}  {seconds:>8.1f}")
        say(self.style.SUCCESS(f"Generated on {report.vendor} in {report.total_s:.0f} s (scale {scale:g}, "
                               f"seed {seed}); province id {report.province_id}."))
