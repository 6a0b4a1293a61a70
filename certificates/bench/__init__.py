"""``manage.py bench certificates``: the two figures the certificates issue sets targets for, each against its
yardstick in the same run:

- PDF (``certificates/bench/pdf.py``): a signed certificate and a class of 200, against a minimal one-page
  WeasyPrint document with the same fonts (target: the class in under 30 s); in this process, on its database;
- verification (``certificates/bench/verify.py``): the employers' JSON API with one million certificates in
  PostgreSQL, requests per second ÷ ``/healthz`` on the same server (target ≥ 0.5); a row "not run" when no
  PostgreSQL answers.
"""

from __future__ import annotations

BENCHMARKS = {
    "certificates": "certificates.bench:run",
}


def run(out=print, quick: bool = False) -> dict:
    from . import pdf, verify

    out("-- PDF")
    pdf_result = pdf.run(out=out, quick=quick)
    out("-- verification")
    verify_result = verify.run(out=out, quick=quick)
    return {"pdf": pdf_result, "verification": verify_result,
            "figures": [*pdf_result.pop("figures", []), *verify_result.pop("figures", [])]}
