"""Verification benchmark: the employers' JSON API with one million certificates in PostgreSQL.

``certificates.bench.verify.run`` (part of ``manage.py bench certificates``) makes a database of its own on the
PostgreSQL server of ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/``; the database is
``lms_bench_certificates``, made afresh and migrated) and seeds ``CERTIFICATES`` certificates with COPY:
90 counties × 10 years of sequences, every number made by the real format and the sequence's keyed
permutation (``certificates/numbering.py``; the seeder's faster HMAC is checked against it), issue dates
over ten years with a three-year validity (so most are expired, as in a real register), 0.5 % revoked with
a reason, 2 % renewed by a later certificate. It starts the product as deployed (``lms.liveserver.LiveServer``:
nginx → granian, one worker per core, Redis) with the verification limits off (``LMS_VERIFY_RATE_LIMITS=0``)
and loads it from another process (``lms.bench.loadgen``, 32 keep-alive connections), each figure on the
same server as its yardstick, in alternating rounds (the ratio is the median of the rounds', so a change in
the machine's load between two figures does not decide it):

- **yardstick**: ``GET /healthz``;
- **the API**: ``GET /api/v1/certificates/<number>/`` over 12,800 random existing numbers (and the same with
  one in ten a well-formed number not on record: the 404s are those misses, not errors);
- **the comparison**: the same API answered by the ORM's model instances with ``select_related``
  (``LMS_VERIFY_LOOKUP=orm``) instead of one ``values()`` query (the product's choice), and the product with
  the rate limits on (raised out of reach: the cost of counting every lookup in Redis).

Target: the API at least half the yardstick's requests per second.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lms.bench import postgres
from lms.bench.figures import figure as bench_figure
from lms.bench.figures import not_run

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "lms_bench_certificates"
CERTIFICATES = 1_000_000
QUICK_CERTIFICATES = 20_000
COUNTIES = 90
YEARS = 10
CONNECTIONS = 32
PATHS_PER_CONNECTION = 400
SPEC = "{region:6}{year:4}{serial:8}{check}"
PRODUCT = "prepared values() query (the product)"
TARGET_RATIO = 0.5  # the certificates issue: verification at least half the yardstick's throughput


# ------------------------------------------------------------------ numbers, fast and identical to numbering.py

def _fast_numbers(job: tuple[str, int, str, int]) -> list[str]:
    """The first ``count`` numbers of the (region, year) sequence with key ``key_hex``: ``NumberFormat.make``'s
    arithmetic with the HMAC's padded key states computed once (about twice as fast in CPython)."""
    import hashlib

    from ..numbering import NumberFormat, damm_digit

    region, year, key_hex, count = job
    fmt = NumberFormat.parse(SPEC)
    width = fmt.width("serial")
    key = bytes.fromhex(key_hex).ljust(64, b"\0")  # HMAC-SHA256: keys of up to 64 bytes are zero-padded
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    n = 10 ** width
    side = 1
    while side * side < n:
        side *= 2

    def rnd_f(value: int, rnd: int) -> int:
        i = inner.copy()
        i.update(f"{rnd}:{value}".encode())
        o = outer.copy()
        o.update(i.digest())
        return int.from_bytes(o.digest()[:8], "big") % side

    def feistel(x: int) -> int:
        left, right = divmod(x, side)
        for r in range(8):
            left, right = right, (left + rnd_f(right, r)) % side
        return left * side + right

    out = []
    prefix = f"{region}{year % 10000:04d}"
    for seq in range(count):
        x = seq
        while True:
            x = feistel(x)
            if x < n:
                break
        body = f"{prefix}{x:0{width}d}"
        out.append(body + damm_digit(body))
    return out


def seed(count: int = CERTIFICATES, rng_seed: int = 7) -> dict:
    """Runs inside a configured Django process on the benchmark's database: ``count`` certificates (see the
    module docstring). Returns the seconds taken, and samples of numbers on record and not."""
    import datetime
    import multiprocessing
    import random

    from django.db import connection, transaction
    from django.utils import timezone

    from courses.models import Programme
    from lms import api as lms_api
    from lms.models import Organisation, Region, User

    from ..issuing import expiry_for
    from ..models import Certificate, CertificateRule, NumberSequence
    from ..numbering import NumberFormat, damm_digit

    t0 = time.perf_counter()
    rng = random.Random(rng_seed)
    today = timezone.localdate()
    # 90 counties of 浙江省 (11 cities), each with its training base.
    rows = [lms_api.RegionRow(province="浙江省", code="330000")]
    counties = []
    for city in range(1, 12):
        rows.append(lms_api.RegionRow(province="浙江省", city=f"市{city:02d}", code=f"33{city:02d}00"))
    for k in range(COUNTIES):
        city = 1 + k % 11
        code = f"33{city:02d}{2 + k // 11:02d}"
        counties.append(code)
        rows.append(lms_api.RegionRow(province="浙江省", city=f"市{city:02d}", county=f"县{code}", code=code))
    lms_api.import_regions(None, rows)
    regions = {r.code: r for r in Region.objects.filter(code__in=counties)}
    bases = {code: Organisation.objects.create(name=f"{code}培训基地", kind=Organisation.Kind.TRAINING_BASE,
                                               region=regions[code]) for code in counties}
    programme = Programme.objects.create(code="bench-first-aider", name="救护员取证", kind=Programme.Kind.FIRST_AIDER,
                                         required_class_hours=16)
    CertificateRule.objects.create(programme=programme, title="救护员证", validity_years=3, number_format=SPEC)
    holders = User.objects.bulk_create([User(username=f"bench_holder_{i}", real_name=f"持证人{i}", password="!")
                                        for i in range(20_000)], batch_size=5000)
    holder_ids = [u.pk for u in holders]
    t_setup = time.perf_counter() - t0

    # Sequences: more certificates in recent years; the counts add up to ``count``.
    years = list(range(today.year - YEARS + 1, today.year + 1))
    weights = [1 + i * 0.2 for i in range(YEARS)]
    share = [w / sum(weights) for w in weights]
    jobs, left = [], count
    seqs = []
    for ci, code in enumerate(counties):
        for yi, year in enumerate(years):
            n = round(count * share[yi] / COUNTIES) if (ci, yi) != (COUNTIES - 1, YEARS - 1) else left
            n = min(n, left)
            left -= n
            seq = NumberSequence(spec=SPEC, region_code=code, year=year, next_value=n)
            seqs.append(seq)
            jobs.append((code, year, seq.key, n))
    NumberSequence.objects.bulk_create(seqs)
    t1 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(max(1, os.cpu_count() or 1)) as pool:
        numbered = pool.map(_fast_numbers, jobs, chunksize=4)
    fmt = NumberFormat.parse(SPEC)
    for job, numbers in zip(jobs[:3], numbered[:3]):  # the fast HMAC is the real permutation
        for i in range(min(200, job[3])):
            assert numbers[i] == fmt.make(region=job[0], year=job[1], sequence=i, key=bytes.fromhex(job[2]))
    t_numbers = time.perf_counter() - t1

    t2 = time.perf_counter()
    cols = ["number", "holder_id", "programme_id", "region_id", "issuer_id", "title", "holder_name", "id_card_masked",
            "programme_name", "class_hours", "issuer_name", "instructor_names", "examiner_name", "issued_on",
            "expires_on", "revision", "source", "created_at", "revoked_at", "revoked_reason", "pdf", "pdf_sha256"]
    now = timezone.now()
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    revoked_n = 0
    sample_hits: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        # The rows are made valid here: their foreign keys are not checked one by one (a superuser's setting; a
        # bench database on a server where it is refused is seeded with the checks, more slowly).
        cursor.execute("SAVEPOINT seed_role")
        try:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("RELEASE SAVEPOINT seed_role")
        except Exception:  # noqa: BLE001
            cursor.execute("ROLLBACK TO SAVEPOINT seed_role")
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY certificates_certificate ({', '.join(cols)}) FROM STDIN") as copy:
            for (code, year, _key, n), numbers in zip(jobs, numbered):
                region, base = regions[code], bases[code]
                last = (today - datetime.date(year, 1, 1)).days if year == today.year else 364
                for number in numbers:
                    issued = datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randint(0, max(last, 0)))
                    revoked = rng.random() < 0.005
                    revoked_n += revoked
                    name = surnames[rng.randrange(len(surnames))] + "某某"
                    copy.write_row((
                        number, holder_ids[rng.randrange(len(holder_ids))], programme.pk, region.pk, base.pk,
                        "救护员证", name, f"330***********{rng.randrange(10000):04d}", "救护员取证", 16, base.name,
                        "王老师、陈老师", "李考官", issued, expiry_for(issued, 3), 1, "class", now,
                        now if revoked else None, "培训记录不实" if revoked else "", "", ""))
                    if rng.random() < 20_000 / max(count, 1):
                        sample_hits.append(number)
        # 2 % renewed: an expired certificate of each pair renewed by a later, valid one.
        cursor.execute("SELECT id FROM certificates_certificate WHERE expires_on < %s ORDER BY id LIMIT %s",
                       [today, count // 50])
        old = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT id FROM certificates_certificate WHERE expires_on >= %s ORDER BY id DESC LIMIT %s",
                       [today, len(old)])
        new = [r[0] for r in cursor.fetchall()]
        pairs = list(zip(new, old))
        for i in range(0, len(pairs), 5000):
            chunk = pairs[i:i + 5000]
            cursor.execute("UPDATE certificates_certificate c SET renews_id = v.old FROM (VALUES "
                           + ",".join(["(%s::bigint, %s::bigint)"] * len(chunk)) + ") AS v(new, old) WHERE c.id = v.new",
                           [x for pair in chunk for x in pair])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE certificates_certificate")
    t_copy = time.perf_counter() - t2

    # Well-formed numbers not on record (the misses), and the plan of the lookup.
    existing = set(sample_hits)
    misses = []
    while len(misses) < 2000:
        code, year = rng.choice(counties), rng.choice(years)
        body = f"{code}{year}{rng.randrange(10 ** 8):08d}"
        number = body + damm_digit(body)
        if number not in existing and not Certificate.objects.filter(number=number).exists():
            misses.append(number)
    from ..verification import _values_query

    plan = _values_query(sample_hits[0]).explain()
    return {"count": Certificate.objects.count(), "revoked": revoked_n, "renewed": len(pairs),
            "expired": Certificate.objects.filter(expires_on__lt=today).count(),
            "seconds": {"setup": round(t_setup, 1), "numbers": round(t_numbers, 1), "copy": round(t_copy, 1),
                        "total": round(time.perf_counter() - t0, 1)},
            "hits": sample_hits, "misses": misses, "plan": plan}


# ------------------------------------------------------------------ the run

def _server_url() -> str:
    return postgres.server_url()


def _fresh_database() -> str:
    """A new, empty ``DB_NAME`` on the PostgreSQL server; returns its URL."""
    return postgres.fresh_database(DB_NAME)


def _seed_in(env: dict, count: int) -> dict:
    code = ("import django, json; django.setup(); from certificates.bench.verify import seed; "
            f"print('SEED ' + json.dumps(seed({count})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    line = next(x for x in out.stdout.splitlines() if x.startswith("SEED "))
    return json.loads(line[5:])


def _spec(numbers: list[str], misses: list[str] | None = None) -> list[dict]:
    """Each connection its own numbers (with every tenth a miss when ``misses`` is given)."""
    spec, k = [], 0
    for c in range(CONNECTIONS):
        paths = []
        for i in range(PATHS_PER_CONNECTION):
            if misses and i % 10 == 9:
                number = misses[(c * PATHS_PER_CONNECTION + i) % len(misses)]
            else:
                number = numbers[k % len(numbers)]
                k += 1
            paths.append({"method": "GET", "path": f"/api/v1/certificates/{number}/"})
        spec.append({"headers": {"Accept": "application/json"}, "requests": paths})
    return spec


def _combine(results: list[dict]) -> dict:
    """One figure from several rounds: requests per second over all of them, the median p50 and p99."""
    elapsed = sum(r["requests"] / max(r["rps"], 0.1) for r in results)
    return {"rps": round(sum(r["requests"] for r in results) / max(elapsed, 1e-9), 1),
            "requests": sum(r["requests"] for r in results), "errors": sum(r["errors"] for r in results),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in results if r["p50_ms"] is not None), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in results if r["p99_ms"] is not None), 2),
            "server_cpu_pct": round(statistics.mean(r["server_cpu_pct"] for r in results), 1),
            "error_kinds": sorted({k for r in results for k in r["error_kinds"]}),
            "rounds": [r["rps"] for r in results]}


def run(out=print, quick: bool = False) -> dict:
    import random

    from lms import serving
    from lms.bench.http import _load
    from lms.liveserver import LiveServer, prepare_database, server_env

    try:
        db_url = _fresh_database()
    except Exception as exc:  # noqa: BLE001 (no PostgreSQL here: say so, measure nothing)
        out(f"Verification: skipped, the benchmark runs on PostgreSQL and none answered at {_server_url()}: {exc}")
        return {"verify_skipped": str(exc),
                "figures": [not_run("certificates", f"no PostgreSQL answered at {_server_url()} "
                                                    f"({type(exc).__name__})", name="verification API",
                                    target=f"≥ {TARGET_RATIO} × /healthz")]}
    count = QUICK_CERTIFICATES if quick else CERTIFICATES
    duration, rounds = (1.5, 2) if quick else (4.0, 3)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = server_env(tmp, {"DATABASE_URL": db_url, "LMS_VERIFY_RATE_LIMITS": "0"})
        prepare_database(tmp, env, demo=False)
        seeded = _seed_in(env, count)
        secs = seeded["seconds"]
        out(f"Verification: {seeded['count']:,} certificates in PostgreSQL ({seeded['expired']:,} expired, "
            f"{seeded['revoked']:,} revoked, {seeded['renewed']:,} renewed), seeded in {secs['total']:.0f} s "
            f"(numbers {secs['numbers']:.0f} s on {os.cpu_count()} cores, COPY and indexes {secs['copy']:.0f} s)")
        indexes = ", ".join(dict.fromkeys(re.findall(r"using (\w+)", seeded["plan"])))
        out(f"  the lookup's plan: index scans on {indexes}")
        hits = seeded["hits"]
        random.Random(3).shuffle(hits)
        spec_hits, spec_mixed = _spec(hits), _spec(hits, seeded["misses"])
        rows: dict[str, dict] = {}
        ratios: dict[str, float] = {}
        server = LiveServer(tmp, env, wsgi_workers=None)
        configs = [(PRODUCT, {}),
                   ("values() SQL planned per request", {"LMS_VERIFY_LOOKUP": "sql"}),
                   ("ORM values() queryset", {"LMS_VERIFY_LOOKUP": "values"}),
                   ("ORM instances, select_related", {"LMS_VERIFY_LOOKUP": "orm"}),
                   ("product, rate limits on (out of reach)", {"LMS_VERIFY_RATE_LIMITS": "1",
                                                               "LMS_VERIFY_LOOKUPS_PER_MINUTE": "1000000000",
                                                               "LMS_VERIFY_MISSES_LIMIT": "1000000000"})]
        workers = serving.cpu_count()
        out(f"  production server: nginx → granian ×{workers} (WSGI), Redis; {CONNECTIONS} keep-alive connections "
            f"from another process; per lookup {rounds} rounds of /healthz then the API, {duration:.0f} s each, on the "
            f"same server: the ratio is the median of the rounds' (robust to a machine whose load changes)")
        try:
            for name, extra in configs:
                server.env.update({"LMS_VERIFY_LOOKUP": "prepared", "LMS_VERIFY_RATE_LIMITS": "0", **extra})
                server.start()
                pids = [p.pid for n, p in server.procs.items() if n != "redis"]
                figures = {"yardstick /healthz": None, "API, found numbers": spec_hits}
                if not extra:
                    figures["API, 1 in 10 not found"] = spec_mixed
                try:
                    _load(server.url + "/healthz", CONNECTIONS, 2.0, pids)  # warm the workers
                    _load(server.url + "/healthz", CONNECTIONS, 2.0, pids, spec=spec_hits[::-1])
                    runs: dict[str, list[dict]] = {figure: [] for figure in figures}
                    for _round in range(rounds):
                        for figure, spec in figures.items():
                            runs[figure].append(_load(server.url + "/healthz", CONNECTIONS, duration, pids, spec=spec))
                finally:
                    server.stop()
                yard = runs["yardstick /healthz"]
                for figure, results in runs.items():
                    rows[f"{name}: {figure}"] = _combine(results)
                    ratios[f"{name}: {figure}"] = round(statistics.median(
                        r["rps"] / max(y["rps"], 0.1) for r, y in zip(results, yard)), 2)
        finally:
            server.stop()

    out(f"  {'figure':<62} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8} {'server CPU':>11} {'÷ yardstick':>12}")
    for key, r in rows.items():
        ratio = ratios[key]
        out(f"  {key:<62} {r['rps']:>8.0f} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>8} "
            f"{r['server_cpu_pct']:>10.0f}% {ratio:>12.2f}" + (f"  {r['error_kinds']}" if r["errors"] else ""))
    found = {name: ratios[f"{name}: API, found numbers"] for name, _extra in configs}
    product = found[PRODUCT]
    lookups = {name: r for name, r in found.items() if "rate limits" not in name}
    best = max(lookups, key=lookups.get)
    out(f"  the API answers {product:.2f} of the yardstick (target ≥ 0.5) with the prepared values() query; "
        + ", ".join(f"{name} {r:.2f}" for name, r in found.items() if name != PRODUCT)
        + f"; the fastest lookup: {best}")
    product_row = rows[f"{PRODUCT}: API, found numbers"]
    yard_row = rows[f"{PRODUCT}: yardstick /healthz"]
    scale = f"{seeded['count']:,} certificates" + ("" if seeded["count"] >= CERTIFICATES
                                                   else f", the target is at {CERTIFICATES:,}")
    table = [
        bench_figure("certificates", "verification API, found numbers", product_row["rps"], "req/s",
               ratio_at_least=TARGET_RATIO, yardstick=yard_row["rps"], yardstick_name="/healthz", ratio=product,
               note=f"{scale} in PostgreSQL; ratio: median of {rounds} rounds; p99 {product_row['p99_ms']} ms"),
        bench_figure("certificates", "verification API, 1 in 10 not found",
               rows[f"{PRODUCT}: API, 1 in 10 not found"]["rps"], "req/s", yardstick=yard_row["rps"],
               yardstick_name="/healthz", ratio=ratios[f"{PRODUCT}: API, 1 in 10 not found"]),
    ]
    return {"figures": table, "verify_certificates": seeded["count"], "verify_seed_s": secs, "verify_results": rows,
            "verify_ratios": ratios, "verify_vs_yardstick": product,
            "verify_orm_vs_yardstick": found["ORM instances, select_related"],
            "verify_errors": sum(r["errors"] for k, r in rows.items() if "not found" not in k)}
