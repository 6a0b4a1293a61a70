"""``manage.py bench certificates``: the two figures issue 14 sets targets for, each against its yardstick
in the same run:

- verification (``certificates/bench_verify.py``): the employers' JSON API with one million certificates in
  PostgreSQL, requests per second ÷ ``/healthz`` on the same server (target ≥ 0.5);
- PDF (``certificates/bench_pdf.py``): a signed certificate and a class of 200, against a minimal one-page
  WeasyPrint document with the same fonts (target: the class in under 30 s).
"""

from __future__ import annotations


def run(out=print, quick: bool = False) -> dict:
    from . import bench_pdf, bench_verify

    out("-- PDF")
    pdf = bench_pdf.run(out=out, quick=quick)
    out("-- verification")
    verify = bench_verify.run(out=out, quick=quick)
    return {"pdf": pdf, "verification": verify}
