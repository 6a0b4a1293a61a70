import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lms.bench import figures as figures_
from lms.bench import registry


class Command(BaseCommand):
    help = ("Run the benchmarks (every app's bench module: lms.bench.registry) and print one table of their "
            "figures against their targets. `bench all` runs every one; `--quick` makes each a short smoke run.")

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="benchmarks to run, or 'all' (the default)")
        parser.add_argument("--quick", action="store_true", help="short smoke runs at a reduced scale")
        parser.add_argument("--json", action="store_true", help="print all details and figures as one JSON object "
                                                                "at the end")
        parser.add_argument("--markdown", action="store_true",
                            help="print only the Markdown table at the end (default: the text table, then the "
                                 "same as Markdown)")
        parser.add_argument("--manikins", type=int, help="stream: how many virtual manikins (default 150, the "
                                                         "target's; 12 with --quick)")
        parser.add_argument("--list", action="store_true", dest="list_only", help="list the benchmarks and exit")

    def handle(self, *args, names, quick, json: bool, markdown: bool, manikins=None, list_only: bool = False,
               **options):
        benchmarks = registry.discover()
        if list_only:
            for name, target in benchmarks.items():
                self.stdout.write(f"{name:<14} {target if isinstance(target, str) else target.__module__}")
            return
        if not names or names == ["all"]:
            names = [*benchmarks]
        if "all" in names:
            raise CommandError("'all' runs every benchmark: name it alone")
        unknown = [n for n in names if n not in benchmarks]
        if unknown:
            raise CommandError(f"unknown benchmark(s): {', '.join(unknown)}; choose from all, {', '.join(benchmarks)}")
        machine = registry.machine()
        head = registry.machine_lines(machine)
        for line in head:
            self.stdout.write(line)
        if quick:
            head.append("--quick: short smoke runs at a reduced scale; the verdicts are against the full-scale "
                        "targets and are not the README's figures")
        started = time.monotonic()
        figures, details = registry.run_benchmarks(
            names, quick, out=self.stdout.write, heading=lambda s: self.stdout.write(self.style.MIGRATE_HEADING(s)),
            options={"manikins": manikins}, benchmarks=benchmarks)

        text = figures_.text_table(figures)
        md = "\n".join([*(f"{line}  " for line in head), "", figures_.markdown_table(figures)])
        self.stdout.write(self.style.MIGRATE_HEADING("== the figures"))
        if not markdown:
            for line in head:
                self.stdout.write(line)
            self.stdout.write(text)
            self.stdout.write("")
        self.stdout.write(md)
        saved = self._save(md, quick)
        short = [f for f in figures if f.status == "SHORT"]
        errors = [f for f in figures if f.status == "ERROR"]
        self.stdout.write(f"\n{len(figures)} figures: {sum(f.status == 'pass' for f in figures)} pass, "
                          f"{len(short)} SHORT, {sum(f.status == 'no target' for f in figures)} without a target, "
                          f"{sum(f.status == 'not run' for f in figures)} not run, {len(errors)} errors; "
                          f"{_duration(time.monotonic() - started)} in all"
                          + (f"; the table is also in {saved}" if saved else ""))
        if json:
            self.stdout.write(_dumps({"machine": machine, "quick": quick, "details": details,
                                      "figures": [f.as_dict() for f in figures]}))
        if errors:
            raise CommandError(f"benchmark(s) failed: {', '.join(f.benchmark for f in errors)}")

    @staticmethod
    def _save(md: str, quick: bool) -> Path | None:
        import datetime

        try:
            folder = Path(settings.VAR_DIR) / "bench"
            folder.mkdir(parents=True, exist_ok=True)
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
            path = folder / f"{stamp}{'-quick' if quick else ''}.md"
            path.write_text(md + "\n")
            return path
        except OSError:
            return None


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=_default)


def _default(value):
    if isinstance(value, figures_.Figure):
        return value.as_dict()
    return str(value)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
