"""Benchmarks: each is ``run(out, quick) -> dict`` and prints its own figures.

``python manage.py bench`` runs them all (or the ones named); ``--quick`` makes
each a short smoke run. The HTTP yardstick comes first: the other figures are
read against it.
"""

BENCHMARKS = {
    "http": "lms.bench.http:run",
    "scorer": "manikin.scoring.benchmark:run",
    "frames": "manikin.bench_frames:run",
    "stream": "manikin.bench:run",
    "console": "manikin.bench_console:run",
    "study": "courses.bench:run",
    "exam": "exams.bench:run",
    "certificates": "certificates.bench:run",
    "instructors": "instructors.bench:run",
    "dashboards": "dashboards.bench:run",
}
