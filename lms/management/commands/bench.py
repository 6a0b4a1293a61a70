import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from lms.bench import BENCHMARKS


class Command(BaseCommand):
    help = "Run the benchmarks and print their figures. Names: " + ", ".join(BENCHMARKS)

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
        parser.add_argument("--quick", action="store_true", help="short smoke runs")
        parser.add_argument("--json", action="store_true", help="print all figures as one JSON object at the end")
        parser.add_argument("--manikins", type=int, help="stream: how many virtual manikins (default 60)")

    def handle(self, *args, names, quick, json: bool, manikins=None, **options):
        unknown = set(names) - set(BENCHMARKS)
        if unknown:
            raise CommandError(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
        figures = {}
        for name in names or BENCHMARKS:
            self.stdout.write(self.style.MIGRATE_HEADING(f"== {name}"))
            run = import_string(BENCHMARKS[name].replace(":", "."))
            extra = {"manikins": manikins} if manikins and name == "stream" else {}
            figures[name] = run(out=self.stdout.write, quick=quick, **extra)
        if json:
            self.stdout.write(_dumps(figures))


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=str)
