"""A province-sized data set for the dashboards (``manage.py generate_province``), reproducible from a seed.

At scale 1.0, in the 90 counties of the demo Zhejiang tree (``lms/data/zhejiang_regions.json``, created with
``lms.api.import_regions`` as ``lms.demo`` does) over five years (the default: the last five up to this one):

- registered population per county and year (about 65 million in all; the city and province figures are
  the sums), marked as made-up figures (``is_demo``) with the source ``GENERATED_SOURCE``;
- per county: one to three training bases, one or two exam sites (a room in exam mode, four stations,
  a manikin each), three to six schools and, in most counties but not all, a master-instructor studio;
- about 3,000 instructors (profiles by tier, a few suspended), the instructor and examiner roles;
- 10,000,000 awareness records (mass sessions of about 50 people: ``AwarenessRecord.Source.GENERATED``);
- 1,000,000 certificates: about 92 % first-aider certificates, each held by a generated trainee of the
  county (``region`` = county), 8 % renewals after a refresher course (``renews`` the earlier one, issued as
  ``certificates.lifecycle.renew`` does: the same programme, the refresher's name, in the renewal window,
  valid from the old expiry), 1 % revoked, valid three years;
- behind each first-aider certificate, the way there: a class of about 40 trainees (enrolments), graded theory
  attempts (85 % of attempts pass, up to three attempts), practical bookings in exam sessions (about 90 % pass,
  one retake), each with its scored exam recording (``manikin.Recording``, purpose exam, a compact ``result``
  with ``mean_depth_mm``, ``mean_rate_cpm``, ``pct_recoil_ok``, ``ccf``, ``score``, ``passed``) and its signed
  practical result (2 % with a second version, signed later: late evidence); trainees who never got there too.
  Renewals have no exam records of their own. Every table is written in the order its rows happened (ids
  ascending with time, as a live system writes them).

Every generated row is recognisable: users by the username prefix ``gen-``, organisations by the name prefix
``[gen] ``, programmes and tiers by the code prefix ``gen-``, awareness records by their source, populations
by their source; certificate numbers begin with ``GEN-`` (never a real number's form) and class codes with
``GEN-`` (never a real code: real codes have no hyphen). ``delete_generated`` removes them all.

On PostgreSQL the rows are written with COPY (psycopg 3) and ``INSERT … SELECT generate_series`` (awareness),
with explicit ids reserved from each table's sequence; the foreign keys are not checked row by row during the
load (``SET LOCAL session_replication_role = replica``, reset before the transaction ends) but all at once
afterwards, one anti-join per foreign key over the loaded rows, and the load is refused if any fails; a table
receiving more rows than it holds (and than ``INDEX_REBUILD_ROWS``) has the indexes that back no constraint
dropped for the load and built again after it, from their own definitions (``pg_get_indexdef``). On SQLite
(small scales, tests) the same rows go through ``executemany`` with every constraint live. Nothing is dropped
or disabled beyond the transaction (use a database of its own: its tables stay locked until the commit). At
the end ``dashboards.facts.rebuild()`` counts the cells.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, models, transaction
from django.utils import timezone

GEN = "gen-"  # usernames, programme and tier codes
ORG_PREFIX = "[gen] "  # organisation names
NUMBER_PREFIX = "GEN-"  # certificate numbers and class codes
GENERATED_SOURCE = "Generated (benchmark data)"  # RegionPopulation.source
ADMIN_USERNAME = "gen-admin"  # the province's region admin (for the benchmark's pages)

AWARENESS = 10_000_000
CERTIFICATES = 1_000_000
INSTRUCTORS = 3_000
PROVINCE_POPULATION = 65_000_000
RENEWAL_SHARE = 0.08
REVOKED_SHARE = 0.01
THEORY_PASS = 0.85  # each attempt
THEORY_RETAKE = 0.8  # after a fail, another attempt (up to three)
PRACTICAL_RETAKE = 0.7  # after a failed sitting, a second one
CHECKLIST_OK = 0.98
SECOND_VERSION = 0.02  # results with a later version (late evidence)
CANCELLED_CLASSES = 0.02
SESSION_MEAN = 50  # people per awareness session
STATIONS = 4
SLOT_MINUTES = 20
MARGIN_DAYS = 55  # a class starts this long before the end at the latest: its certificates are in range
CHUNK = 100_000

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏建国志文斌辉宇浩凯佳晨欣怡婷雪琳子涵梓轩")
GROUPS = [("public", 0.34), ("students", 0.30), ("teachers", 0.05), ("police", 0.04), ("firefighters", 0.03),
          ("drivers", 0.08), ("elderly_care", 0.05), ("couriers", 0.05), ("volunteers", 0.06)]
TIER_SHARES = (0.70, 0.25, 0.05)
REVOKE_REASONS = ["培训记录不实", "冒名参考", "证书信息错误，已重新颁发"]


class GeneratedDataExists(Exception):
    """Generated data is already in the database (``--replace`` deletes it first)."""


def exists() -> bool:
    from courses.models import AwarenessRecord, Programme
    from lms.models import User

    return (User.objects.filter(username__startswith=GEN).exists()
            or Programme.objects.filter(code__startswith=GEN).exists()
            or AwarenessRecord.objects.filter(source=AwarenessRecord.Source.GENERATED).exists())


def parse_years(text: str) -> tuple[int, int]:
    """"2022-2026" or "2026" → (first, last)."""
    parts = [p.strip() for p in str(text).split("-")]
    if len(parts) not in (1, 2) or not all(p.isdigit() for p in parts):
        raise ValueError(f"years: expected FIRST-LAST, e.g. 2022-2026, not {text!r}")
    first, last = int(parts[0]), int(parts[-1])
    if not 2000 <= first <= last <= 2100:
        raise ValueError(f"years: {text!r} is not a range of years")
    return first, last


@dataclass
class Report:
    """What was generated: rows and seconds per table (in load order), and the totals."""

    rows: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    total_s: float = 0.0
    province_id: int | None = None
    vendor: str = ""

    def add(self, name: str, n: int, seconds: float) -> None:
        self.rows[name] = self.rows.get(name, 0) + n
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def as_dict(self) -> dict:
        return {"rows": dict(self.rows), "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
                "total_s": round(self.total_s, 1), "province_id": self.province_id, "vendor": self.vendor}


# ------------------------------------------------------------------ writing rows


class _Loader:
    """Writes columns of rows to a model's table: COPY on PostgreSQL, executemany elsewhere.

    ``write(model, n, column=values, …)`` takes each column (by attname) as a sequence of ``n`` values ready for
    the database (ints, strings, None; dates as ``datetime64[D]``, datetimes as local ``datetime64[s]``) or one
    value for every row; the model's other fields get their default (an error if they have none)."""

    def __init__(self, report: Report):
        self.pg = connection.vendor == "postgresql"
        self.report = report
        self.tz = timezone.get_current_timezone()
        self.now = np.datetime64(timezone.localtime().replace(tzinfo=None, microsecond=0), "s")
        self.loaded: dict[str, tuple[int | None, set]] = {}  # table -> (first id written, FK columns written)

    # ids
    def reserve(self, model, n: int) -> int:
        """The first of ``n`` consecutive new ids of the model's table (taken from its sequence)."""
        table = model._meta.db_table
        with connection.cursor() as cur:
            if self.pg:
                cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
                start = cur.fetchone()[0]
                if n > 1:
                    cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, start + n - 1])
                return start
            cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {connection.ops.quote_name(table)}")
            return cur.fetchone()[0]

    # values
    def datetimes(self, local) -> list:
        """Local wall-clock times (``datetime64[s]``) as the database's text for a DateTimeField."""
        local = np.asarray(local, dtype="datetime64[s]")
        days = local.astype("datetime64[D]")
        uniq, inv = np.unique(days, return_inverse=True)
        offsets = np.array([int(self.tz.utcoffset(dt.datetime.fromisoformat(str(d)) + dt.timedelta(hours=12))
                                .total_seconds()) for d in uniq], dtype="int64")
        utc = local - offsets[inv].astype("timedelta64[s]")
        text = np.datetime_as_string(utc, unit="s")
        if self.pg:
            return np.char.add(text, "Z").tolist()
        return np.char.replace(text, "T", " ").tolist()

    def _column(self, f, values, n: int):
        """(iterable of n values, constant or None)."""
        if isinstance(values, np.ndarray):
            if values.dtype.kind == "M":
                if values.dtype == np.dtype("datetime64[D]") and not isinstance(f, models.DateTimeField):
                    return values.astype(str).tolist(), None
                return self.datetimes(values), None
            if values.dtype.kind == "b":
                return values.tolist(), None
            return values.tolist(), None
        if isinstance(values, (list, tuple)):
            return values, None
        return None, self._scalar(f, values)

    def _scalar(self, f, value):
        if isinstance(value, dt.datetime):
            value = np.datetime64(timezone.localtime(value).replace(tzinfo=None, microsecond=0)
                                  if timezone.is_aware(value) else value.replace(microsecond=0), "s")
            return self.datetimes(np.array([value]))[0]
        if isinstance(value, np.datetime64):
            return self.datetimes(np.array([value]))[0] if isinstance(f, models.DateTimeField) else str(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(f, models.JSONField) and value is not None and not isinstance(value, str):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if isinstance(value, (dt.time,)):
            return value.isoformat()
        return value

    def _default(self, f):
        if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
            return self._scalar(f, self.now)
        value = f.get_default()
        if value is None and not f.null:
            raise ValueError(f"{f.model.__name__}.{f.name} needs a value")
        if isinstance(f, models.JSONField) and value is not None:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if isinstance(f, (models.FileField,)):
            return str(value or "")
        return self._scalar(f, value)

    def write(self, model, n: int, label: str | None = None, order=None, **columns) -> None:
        """Write the rows (in the order ``order`` of the given columns' positions, if given)."""
        t0 = time.perf_counter()
        if order is not None:
            columns = {k: v[order] if isinstance(v, np.ndarray)
                       else [v[i] for i in order.tolist()] if isinstance(v, (list, tuple)) else v
                       for k, v in columns.items()}
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not (f.primary_key and f.attname not in columns)]
        unknown = set(columns) - {f.attname for f in fields}
        if unknown:
            raise ValueError(f"{model.__name__}: no such columns {sorted(unknown)}")
        cols, fk_written = [], set()
        for f in fields:
            if f.attname in columns:
                seq, const = self._column(f, columns[f.attname], n)
            else:
                seq, const = None, self._default(f)
            if seq is not None and len(seq) != n:
                raise ValueError(f"{model.__name__}.{f.attname}: {len(seq)} values for {n} rows")
            cols.append((f, seq, const))
            if f.is_relation and (seq is not None or const is not None):
                fk_written.add(f.column)
        table = meta.db_table
        quoted = ", ".join(connection.ops.quote_name(f.column) for f, _s, _c in cols)
        first = None
        if "id" in columns:
            first = int(np.min(columns["id"])) if n else None
        prev = self.loaded.get(table)
        if prev is not None:
            first = prev[0] if first is None else (first if prev[0] is None else min(prev[0], first))
            fk_written |= prev[1]
        self.loaded[table] = (first, fk_written)
        with connection.cursor() as cur:
            for start in range(0, n, CHUNK):
                stop = min(n, start + CHUNK)
                parts = [seq[start:stop] if seq is not None else itertools.repeat(const, stop - start)
                         for _f, seq, const in cols]
                rows = zip(*parts)
                if self.pg:
                    with cur.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    marks = ", ".join(["%s"] * len(cols))
                    cur.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})",
                                    list(rows))
        self.report.add(label or table, n, time.perf_counter() - t0)


# ------------------------------------------------------------------ PostgreSQL: checks off during the load


def _replica(on: bool) -> bool:
    """PostgreSQL: skip the row-by-row foreign-key triggers for the rest of the transaction (or restore them).
    Returns whether the setting took (it needs a superuser; without it the load is checked row by row)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        if not on:
            cur.execute("SET LOCAL session_replication_role = origin")
            return True
        cur.execute("SAVEPOINT gen_replica")
        try:
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("RELEASE SAVEPOINT gen_replica")
            return True
        except Exception:  # noqa: BLE001 (not a superuser: keep the checks)
            cur.execute("ROLLBACK TO SAVEPOINT gen_replica")
            return False


INDEX_REBUILD_ROWS = 100_000  # a table receiving more rows than this (and than it holds) has its indexes rebuilt
LOAD_ROWS = {  # rows loaded per table at scale 1.0
    "lms_user": 1_000_000, "lms_roleassignment": 1_000_000, "courses_enrolment": 1_000_000,
    "exams_attempt": 1_100_000, "exams_practicalsession": 160_000, "exams_sessionexaminer": 160_000,
    "manikin_recording": 1_030_000, "exams_booking": 1_030_000, "exams_practicalresult": 1_050_000,
    "certificates_certificate": CERTIFICATES, "courses_awarenessrecord": AWARENESS,
}


def _drop_indexes(scale: float) -> list[tuple[str, str, str]]:
    """PostgreSQL: drop the indexes that back no constraint of the tables about to receive many rows (more than
    ``INDEX_REBUILD_ROWS`` and than they hold), to build them once after the load instead of row by row;
    returns (table, index, definition) to recreate them exactly (``_create_indexes``), in the same transaction."""
    tables = [t for t, n in LOAD_ROWS.items() if n * scale >= INDEX_REBUILD_ROWS]
    if connection.vendor != "postgresql" or not tables:
        return []
    with connection.cursor() as cur:
        cur.execute("""
            SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid), GREATEST(c.reltuples, 0)
            FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
            WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)""", [tables])
        found = [(t, i, d) for t, i, d, n in cur.fetchall() if n < LOAD_ROWS[t] * scale]
        for _table, index, _definition in found:
            cur.execute(f"DROP INDEX {connection.ops.quote_name(index)}")
    return found


def _create_indexes(dropped: list[tuple[str, str, str]]) -> None:
    with connection.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _table, _index, definition in dropped:
            cur.execute(definition)


def _foreign_keys(where: str, tables: list[str]) -> list[tuple[str, str, str, str]]:
    """(table, column, referenced table, referenced column) of single-column foreign keys; ``where`` is
    ``conrelid`` (keys of these tables) or ``confrelid`` (keys pointing at them)."""
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, af.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
            WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1
              AND c.{where} = ANY(%s::regclass[])""", [tables])
        return [tuple(r) for r in cur.fetchall()]


def _check_foreign_keys(keys, scope: Callable[[str], str] = lambda table: "") -> None:
    """Every (table, column) → (referenced table, column) holds, checked with one anti-join each; raises
    RuntimeError naming the first that does not (the transaction is then rolled back)."""
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        for table, column, ref_table, ref_column in keys:
            cur.execute(f"SELECT x.{q(column)} FROM {table} x WHERE x.{q(column)} IS NOT NULL {scope(table)} "
                        f"AND NOT EXISTS (SELECT 1 FROM {ref_table} r WHERE r.{q(ref_column)} = x.{q(column)}) "
                        "LIMIT 1")
            bad = cur.fetchone()
            if bad is not None:
                raise RuntimeError(f"{table}.{column} = {bad[0]} points at no {ref_table} row")


# ------------------------------------------------------------------ helpers


def _days(first: dt.date, last: dt.date) -> np.ndarray:
    return np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)


def _year_weights(days: np.ndarray, first_year: int, growth: float) -> np.ndarray:
    years = days.astype("datetime64[Y]").astype(int) + 1970
    w = 1.0 + growth * (years - first_year)
    return w / w.sum()


def _expiry(issued: np.ndarray, years: int = 3) -> np.ndarray:
    """``certificates.issuing.expiry_for`` for an array of dates (computed once per distinct day)."""
    from certificates.issuing import expiry_for

    uniq, inv = np.unique(issued, return_inverse=True)
    out = np.array([np.datetime64(expiry_for(d.astype(dt.date), years), "D") for d in uniq])
    return out[inv]


def _names(rng, n: int) -> np.ndarray:
    sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    return np.char.add(np.char.add(sur, g1), g2)


def _seconds(rng, n: int, low: float, high: float) -> np.ndarray:
    return rng.integers(int(low), int(high) + 1, n).astype("timedelta64[s]")


def _ordered_ids(first: int, when: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ids from ``first`` given in the order of ``when`` (as a live system numbers rows as they happen), and
    that order (the positions to write the rows in)."""
    order = np.argsort(when, kind="stable")
    ids = np.empty(len(when), dtype=np.int64)
    ids[order] = np.arange(first, first + len(when))
    return ids, order


def _at(days: np.ndarray, seconds) -> np.ndarray:
    """Days (``datetime64[D]``) plus seconds (``timedelta64[s]`` or whole seconds) → ``datetime64[s]``."""
    seconds = np.asarray(seconds)
    if seconds.dtype.kind != "m":
        seconds = seconds.astype("int64").astype("timedelta64[s]")
    return np.asarray(days).astype("datetime64[s]") + seconds


# ------------------------------------------------------------------ the generator


class _Generator:
    def __init__(self, scale: float, seed: int, first_year: int, last_year: int, province: str, today: dt.date,
                 out: Callable[[str], None], report: Report):
        self.scale, self.seed, self.province_name = scale, seed, province
        self.first_year, self.last_year = first_year, last_year
        self.first_day = dt.date(first_year, 1, 1)
        self.end_day = min(today, dt.date(last_year, 12, 31))
        self.rng = np.random.default_rng(seed)
        self.out, self.report = out, report
        self.load = _Loader(report)

    # ---------------------------------------------------------- regions, populations, organisations
    def regions(self) -> None:
        from lms import api as lms_api
        from lms import demo
        from lms.models import Region

        rows = demo.region_rows()
        if self.province_name != rows[0].province:
            for row in rows:
                row.province = self.province_name
        t0 = time.perf_counter()
        lms_api.import_regions(None, rows)
        self.province = Region.get_root_nodes().get(name=self.province_name)
        tree = list(Region.objects.filter(path__startswith=self.province.path).order_by("path"))
        self.cities = [r for r in tree if r.level == Region.Level.CITY]
        self.counties = [r for r in tree if r.level == Region.Level.COUNTY]
        self.report.add("lms_region", len(tree), time.perf_counter() - t0)
        self.report.province_id = self.province.pk

    def populations(self) -> None:
        from lms import demo
        from lms.models import RegionPopulation

        t0 = time.perf_counter()
        rng = self.rng
        data = json.loads(demo.DATA.read_text())
        city_pop = {c["name"]: c["population"] for c in data["cities"]}
        total = sum(city_pop.values())
        county_w = []
        for county in self.counties:
            city = next(c for c in self.cities if county.path.startswith(c.path))
            county_w.append(city_pop.get(city.name, total / len(self.cities)))
        county_w = np.array(county_w, dtype=float)
        # a city's figure split between its counties with some spread (the city's sum is its figure)
        noise = rng.lognormal(0.0, 0.35, len(self.counties))
        city_of = np.array([next(i for i, c in enumerate(self.cities) if k.path.startswith(c.path))
                            for k in self.counties])
        share = np.zeros(len(self.counties))
        for i in range(len(self.cities)):
            m = city_of == i
            share[m] = county_w[m] / m.sum() * noise[m] / noise[m].mean()
        share = share / share.sum()
        self.county_share = share
        existing = set(RegionPopulation.objects.filter(region__path__startswith=self.province.path,
                                                       year__range=(self.first_year, self.last_year))
                       .values_list("region_id", "year"))
        rows = []
        for year in range(self.first_year, self.last_year + 1):
            factor = (1.004 ** (year - self.first_year))
            county_pop = np.floor(PROVINCE_POPULATION * factor * share).astype(int)
            figures = {c.pk: int(p) for c, p in zip(self.counties, county_pop)}
            for i, city in enumerate(self.cities):
                figures[city.pk] = int(county_pop[city_of == i].sum())
            figures[self.province.pk] = int(county_pop.sum())
            for region_id, pop in figures.items():
                if (region_id, year) not in existing:  # never overwrite a real figure
                    rows.append(RegionPopulation(region_id=region_id, year=year, population=pop,
                                                 basis=RegionPopulation.Basis.REGISTERED, is_demo=True,
                                                 source=GENERATED_SOURCE))
        RegionPopulation.objects.bulk_create(rows)
        self.report.add("lms_regionpopulation", len(rows), time.perf_counter() - t0)

    def organisations(self) -> None:
        from lms.models import Organisation
        from manikin.models import Manikin, Room, Station, token_digest
        from manikin.scoring import DEFAULT_STANDARD_ID

        t0 = time.perf_counter()
        rng = self.rng
        K = len(self.counties)
        rank = np.argsort(np.argsort(-self.county_share))  # 0: the most populous county
        n_bases = np.where(rank < K // 4, 3, np.where(rank < K // 2, 2, 1))
        n_sites = np.where(rank < K // 3, 2, 1)
        has_studio = rng.random(K) < 0.85
        has_studio[int(np.argmin(self.county_share))] = False  # at least one county without (listed on the page)
        n_schools = rng.integers(3, 7, K)
        orgs = []
        for i, county in enumerate(self.counties):
            for k in range(n_bases[i]):
                orgs.append(Organisation(name=f"{ORG_PREFIX}{county.name}培训基地{k + 1}",
                                         kind=Organisation.Kind.TRAINING_BASE, region=county))
            for k in range(n_sites[i]):
                orgs.append(Organisation(name=f"{ORG_PREFIX}{county.name}考点{k + 1}",
                                         kind=Organisation.Kind.EXAM_SITE, region=county))
            if has_studio[i]:
                orgs.append(Organisation(name=f"{ORG_PREFIX}{county.name}名师工作室",
                                         kind=Organisation.Kind.STUDIO, region=county))
            for k in range(n_schools[i]):
                orgs.append(Organisation(name=f"{ORG_PREFIX}{county.name}第{k + 1}中学",
                                         kind=Organisation.Kind.SCHOOL, region=county))
        orgs = Organisation.objects.bulk_create(orgs)
        index = {c.pk: i for i, c in enumerate(self.counties)}
        self.bases = [[] for _ in range(K)]
        self.sites = [[] for _ in range(K)]
        self.studio_orgs = [None] * K
        self.schools = [[] for _ in range(K)]
        lists = {Organisation.Kind.TRAINING_BASE: self.bases, Organisation.Kind.EXAM_SITE: self.sites,
                 Organisation.Kind.SCHOOL: self.schools}
        for o in orgs:
            i = index[o.region_id]
            if o.kind == Organisation.Kind.STUDIO:
                self.studio_orgs[i] = o
            else:
                lists[o.kind][i].append(o)
        self.report.add("lms_organisation", len(orgs), time.perf_counter() - t0)

        t0 = time.perf_counter()
        rooms = Room.objects.bulk_create([
            Room(name="考场1", organisation=site, mode=Room.Mode.EXAM, standard_id=DEFAULT_STANDARD_ID)
            for i in range(K) for site in self.sites[i]])
        self.standard_id = DEFAULT_STANDARD_ID
        stations = Station.objects.bulk_create([  # (random tokens, never stored: no bridge can use these)
            Station(room=room, name=f"工位{k + 1}", token_digest=token_digest(secrets.token_urlsafe(32)))
            for room in rooms for k in range(STATIONS)])
        manikins = Manikin.objects.bulk_create([
            Manikin(station=s, address=f"GEN:{s.pk:06d}", label=f"模拟人{s.pk}") for s in stations])
        # per county: its rooms; per room: county, stations and manikins (by position)
        self.rooms = np.array([r.pk for r in rooms])
        site_county = {site.pk: i for i in range(K) for site in self.sites[i]}
        self.room_county = np.array([site_county[r.organisation_id] for r in rooms])
        self.room_stations = np.array([s.pk for s in stations]).reshape(len(rooms), STATIONS)
        self.room_manikins = np.array([m.pk for m in manikins]).reshape(len(rooms), STATIONS)
        self.county_rooms = [np.flatnonzero(self.room_county == i) for i in range(K)]
        self.report.add("manikin rooms, stations, manikins", len(rooms) + len(stations) + len(manikins),
                        time.perf_counter() - t0)

    def programmes(self) -> None:
        from certificates.models import CertificateRule
        from courses.models import Programme
        from exams.models import Blueprint
        from exams.practical_models import PracticalScheme
        from instructors.models import Tier

        t0 = time.perf_counter()
        self.first_aider, _ = Programme.objects.get_or_create(
            code=f"{GEN}first-aider", defaults={"name": "救护员取证培训（生成）", "kind": Programme.Kind.FIRST_AIDER,
                                              "required_class_hours": 16})
        self.refresher, _ = Programme.objects.get_or_create(
            code=f"{GEN}refresher", defaults={"name": "救护员复训（生成）", "kind": Programme.Kind.REFRESHER,
                                            "required_class_hours": 4})
        CertificateRule.objects.get_or_create(programme=self.first_aider, defaults={"title": "救护员证",
                                                                                    "validity_years": 3})
        CertificateRule.objects.get_or_create(programme=self.refresher, defaults={
            "title": "救护员证", "validity_years": 3, "renews": self.first_aider})
        self.blueprint = Blueprint.objects.filter(programme=self.first_aider, is_active=True).first() \
            or Blueprint.objects.create(programme=self.first_aider, name="救护员理论考试（生成）", pass_mark_pct=80)
        self.scheme = PracticalScheme.objects.filter(programme=self.first_aider).order_by("-version").first()
        if self.scheme is None:
            items = [{"key": key, "title": title, "skill": "cpr", "points": 12, "critical": critical}
                     for key, title, critical in [("scene_safety", "评估环境安全", True),
                                                  ("responsiveness", "判断意识", True),
                                                  ("call_help", "呼救并取得AED", False),
                                                  ("aed", "正确使用AED", False),
                                                  ("recovery", "复原体位", False)]]
            self.scheme = PracticalScheme.objects.create(
                programme=self.first_aider, version=1, name="救护员实操考核（生成）", cpr_standard_id=self.standard_id,
                cpr_points=40, items=items, pass_points=80)
        tiers = list(Tier.objects.order_by("rank")[:3])
        if not tiers:
            tiers = [Tier.objects.create(code=f"{GEN}tier-{k}", name=name, rank=k)
                     for k, name in [(1, "普及师资"), (2, "救护员师资"), (3, "导师")]]
        self.tiers = tiers
        self.report.add("programmes, blueprint, scheme, tiers", 0, time.perf_counter() - t0)

    # ---------------------------------------------------------- people
    def instructors(self) -> None:
        from instructors.models import InstructorProfile, Studio, StudioMembership
        from lms.models import Role, RoleAssignment, User

        rng = self.rng
        K = len(self.counties)
        n = max(round(INSTRUCTORS * self.scale), 2 * K)
        county = np.concatenate([np.repeat(np.arange(K), 2),
                                 rng.choice(K, n - 2 * K, p=self.county_share)]) if n > 2 * K \
            else np.repeat(np.arange(K), 2)[:n]
        county.sort()
        first = self.load.reserve(User, n)
        ids = np.arange(first, first + n)
        region_ids = np.array([c.pk for c in self.counties])
        names = _names(rng, n)
        self.load.write(User, n, id=ids, username=[f"{GEN}{i}" for i in ids.tolist()], password="!generated",
                        real_name=names, region_id=region_ids[county],
                        date_joined=_at(np.full(n, np.datetime64(self.first_day, "D")) - 400,
                                        _seconds(rng, n, 0, 3600 * 24 * 300)))
        self.instructor_ids, self.instructor_county = ids, county
        self.county_instructors = [ids[county == i] for i in range(K)]
        self.instructor_name = dict(zip(ids.tolist(), names.tolist()))
        tier = rng.choice(len(self.tiers), n, p=np.array(TIER_SHARES[:len(self.tiers)])
                          / sum(TIER_SHARES[:len(self.tiers)]))
        suspended = rng.random(n) < 0.04
        base_of = np.array([self.bases[c][rng.integers(len(self.bases[c]))].pk for c in county.tolist()])
        since = np.datetime64(self.first_day, "D") - rng.integers(0, 3650, n).astype("timedelta64[D]")
        self.load.write(InstructorProfile, n, user_id=ids, tier_id=np.array([t.pk for t in self.tiers])[tier],
                        status=np.where(suspended, "suspended", "active"),
                        status_reason=np.where(suspended, "年度考核未通过，暂停执教", ""),
                        training_base_id=base_of, instructor_since=since)
        self.load.write(RoleAssignment, 2 * n, label="lms_roleassignment (instructors)",
                        user_id=np.concatenate([ids, ids]),
                        role=[Role.INSTRUCTOR] * n + [Role.EXAMINER] * n)
        # studios: headed by an instructor of the county
        t0 = time.perf_counter()
        studios = []
        for i, org in enumerate(self.studio_orgs):
            if org is not None:
                studios.append(Studio(name=org.name.removeprefix(ORG_PREFIX), slug=f"{GEN}studio-{org.pk}",
                                      organisation=org, head_id=int(self.county_instructors[i][0]),
                                      established_on=self.first_day))
        studios = Studio.objects.bulk_create(studios)
        members = []
        for s in studios:
            i = next(k for k, o in enumerate(self.studio_orgs) if o is not None and o.pk == s.organisation_id)
            for uid in self.county_instructors[i][:4].tolist():
                members.append(StudioMembership(studio=s, user_id=uid, joined_on=self.first_day))
        StudioMembership.objects.bulk_create(members)
        self.report.add("instructors_studio, studiomembership", len(studios) + len(members),
                        time.perf_counter() - t0)

    def admin(self) -> None:
        """The province's region admin (no password: the benchmark logs in with ``force_login``), who has
        agreed to the privacy notice."""
        from django.conf import settings

        from lms.models import PrivacyConsent, Role, RoleAssignment, User

        user = User(username=ADMIN_USERNAME, real_name="生成数据省管理员", region=self.province, password="!generated")
        user.save()
        RoleAssignment.objects.create(user=user, role=Role.REGION_ADMIN, region=self.province)
        PrivacyConsent.objects.create(user=user, version=settings.PRIVACY_NOTICE_VERSION, sensitive=True)
        self.admin_user = user

    # ---------------------------------------------------------- trainees: classes, exams, certificates
    def trainees(self) -> None:
        from certificates.models import Certificate
        from courses.models import Enrolment, TrainingClass
        from exams.models import Attempt
        from exams.practical_models import Booking, PracticalResult, PracticalSession, SessionExaminer
        from lms.models import Role, RoleAssignment, User
        from manikin.models import Recording

        rng = self.rng
        K = len(self.counties)
        C = round(CERTIFICATES * self.scale)
        R = round(C * RENEWAL_SHARE)
        F = C - R
        t0 = time.perf_counter()
        # --- outcomes per trainee (simulated, then cut where the certified reach F)
        n0 = int(F / 0.9 * 1.05) + 200
        while True:
            a_pass = rng.random((n0, 3)) < THEORY_PASS
            retake = rng.random((n0, 2)) < THEORY_RETAKE
            n_att = np.ones(n0, dtype=int)
            pass_at = np.full(n0, -1)
            pass_at[a_pass[:, 0]] = 0
            go2 = ~a_pass[:, 0] & retake[:, 0]
            n_att[go2] = 2
            pass_at[go2 & a_pass[:, 1]] = 1
            go3 = go2 & ~a_pass[:, 1] & retake[:, 1]
            n_att[go3] = 3
            pass_at[go3 & a_pass[:, 2]] = 2
            z = rng.standard_normal((n0, 2))
            cpr_score = np.clip(np.round(88 + 9.5 * z + rng.normal(0, 2, (n0, 2)), 1), 0, 100)
            checklist_ok = rng.random((n0, 2)) < CHECKLIST_OK
            sit_pass = (cpr_score >= 75) & checklist_ok
            sit1 = pass_at >= 0
            sit2 = sit1 & ~sit_pass[:, 0] & (rng.random(n0) < PRACTICAL_RETAKE)
            certified = (sit1 & sit_pass[:, 0]) | (sit2 & sit_pass[:, 1])
            reached = np.flatnonzero(np.cumsum(certified) == F)
            if F == 0 or len(reached):
                break
            n0 *= 2
        N = int(reached[0]) + 1 if F else 0
        a_pass, n_att, pass_at, z, cpr_score = a_pass[:N], n_att[:N], pass_at[:N], z[:N], cpr_score[:N]
        checklist_ok, sit_pass, sit1, sit2, certified = (checklist_ok[:N], sit_pass[:N], sit1[:N], sit2[:N],
                                                         certified[:N])
        # --- counties and classes
        county = np.sort(rng.choice(K, N, p=self.county_share)) if N else np.zeros(0, dtype=int)
        class_of = np.empty(N, dtype=int)
        class_county = []
        start = 0
        for i in range(K):
            m = int(np.count_nonzero(county == i))
            sizes = []
            while sum(sizes) < m:
                sizes.append(int(rng.integers(30, 51)))
            if sizes:
                sizes[-1] -= sum(sizes) - m
                if sizes[-1] < 10 and len(sizes) > 1:  # a small remainder joins the class before it
                    rest = sizes.pop()
                    sizes[-1] += rest
            order = rng.permutation(m)
            pos = 0
            for size in sizes:
                class_of[start + order[pos:pos + size]] = len(class_county)
                class_county.append(i)
                pos += size
            start += m
        n_classes = len(class_county)
        class_county = np.array(class_county, dtype=int)
        n_cancelled = round(n_classes * CANCELLED_CLASSES)
        class_county = np.concatenate([class_county, rng.choice(K, n_cancelled, p=self.county_share)])
        all_classes = n_classes + n_cancelled
        days = _days(self.first_day + dt.timedelta(days=10), self.end_day - dt.timedelta(days=MARGIN_DAYS))
        class_start = rng.choice(days, all_classes, p=_year_weights(days, self.first_year, 0.15))
        class_base = np.array([self.bases[c][rng.integers(len(self.bases[c]))].pk for c in class_county.tolist()])
        class_room = np.array([self.county_rooms[c][rng.integers(len(self.county_rooms[c]))]
                               for c in class_county.tolist()], dtype=int)
        teach = np.array([rng.choice(self.county_instructors[c], 2, replace=False) for c in class_county.tolist()])
        self.report.add("simulation", 0, time.perf_counter() - t0)

        # every table is written in the order its rows happened, ids ascending with time (as in a live system:
        # the rows of a month are neighbours on disk)
        class_created = _at(class_start - 30, _seconds(rng, all_classes, 9 * 3600, 17 * 3600))
        class_ids, class_order = _ordered_ids(self.load.reserve(TrainingClass, all_classes), class_created)
        cancelled = np.arange(all_classes) >= n_classes
        self.load.write(TrainingClass, all_classes, order=class_order, id=class_ids, programme_id=self.first_aider.pk,
                        name=[f"救护员取证培训班（生成）{c}" for c in class_ids.tolist()],
                        code=[f"{NUMBER_PREFIX}{c:08d}" for c in class_ids.tolist()],
                        training_base_id=class_base, starts_on=class_start, ends_on=class_start + 1,
                        capacity=50, status=np.where(cancelled, TrainingClass.Status.CANCELLED,
                                                     TrainingClass.Status.FINISHED),
                        created_at=class_created)
        Through = TrainingClass.instructors.through
        live = np.flatnonzero(~cancelled)
        self.load.write(Through, 2 * len(live), label="courses_trainingclass_instructors",
                        trainingclass_id=np.concatenate([class_ids[live], class_ids[live]]),
                        user_id=np.concatenate([teach[live, 0], teach[live, 1]]))
        self.class_count = n_classes

        # --- trainees (users) and enrolments
        region_ids = np.array([c.pk for c in self.counties])
        names = _names(rng, N)
        S = class_start[class_of]
        joined = _at(S - 30, _seconds(rng, N, 8 * 3600, 20 * 3600))
        uid, u_order = _ordered_ids(self.load.reserve(User, N), joined)
        self.load.write(User, N, label="lms_user (trainees)", order=u_order, id=uid,
                        username=[f"{GEN}{i}" for i in uid.tolist()], password="!generated", real_name=names,
                        region_id=region_ids[county], date_joined=joined)
        self.load.write(RoleAssignment, N, label="lms_roleassignment (trainees)", order=u_order, user_id=uid,
                        role=Role.TRAINEE)
        enrolled = _at(S - rng.integers(7, 22, N), _seconds(rng, N, 9 * 3600, 18 * 3600))
        enrol_ids, e_order = _ordered_ids(self.load.reserve(Enrolment, N), enrolled)
        self.load.write(Enrolment, N, order=e_order, id=enrol_ids, user_id=uid,
                        training_class_id=class_ids[class_of], source=Enrolment.Source.ROSTER,
                        status=np.where(certified, Enrolment.Status.COMPLETED, Enrolment.Status.ACTIVE),
                        enrolled_at=enrolled)

        # --- theory attempts (up to three per trainee)
        t0 = time.perf_counter()
        starts = np.empty((N, 3), dtype="datetime64[s]")
        starts[:, 0] = _at(S - rng.integers(1, 8, N), _seconds(rng, N, 8 * 3600, 22 * 3600))
        for k in (1, 2):
            starts[:, k] = starts[:, k - 1] + rng.integers(1, 4, N).astype("timedelta64[D]") \
                + _seconds(rng, N, 0, 6 * 3600)
        rows_u, rows_k = np.nonzero(np.arange(3)[None, :] < n_att[:, None])
        n_attempts = len(rows_u)
        att_start = starts[rows_u, rows_k]
        att_ids, att_order = _ordered_ids(self.load.reserve(Attempt, n_attempts), att_start)
        att_passed = a_pass[rows_u, rows_k]
        pct = np.where(att_passed, rng.integers(80, 101, n_attempts), rng.integers(40, 80, n_attempts))
        self.report.add("simulation", 0, time.perf_counter() - t0)
        self.load.write(Attempt, n_attempts, order=att_order, id=att_ids, user_id=uid[rows_u],
                        blueprint_id=self.blueprint.pk,
                        number=rows_k + 1, status=Attempt.Status.SUBMITTED, started_at=att_start,
                        deadline_at=att_start + np.timedelta64(45 * 60, "s"),
                        submitted_at=att_start + _seconds(rng, n_attempts, 15 * 60, 44 * 60),
                        submitted_by=Attempt.SubmittedBy.TRAINEE, score_points=pct, max_points=100,
                        score_pct=[f"{p}.00" for p in pct.tolist()], passed=att_passed)
        passing_attempt = np.full(N, -1, dtype=np.int64)
        ok = att_passed
        passing_attempt[rows_u[ok]] = att_ids[ok]
        theory_day = np.where(pass_at >= 0, starts[np.arange(N), np.maximum(pass_at, 0)].astype("datetime64[D]"),
                              S)

        # --- practical sittings: bookings in sessions, a recording and a signed result each
        t0 = time.perf_counter()
        p1 = np.maximum(S + 1, theory_day + 1) + rng.integers(0, 11, N)
        p2 = p1 + rng.integers(7, 21, N)
        b_trainee = np.concatenate([np.flatnonzero(sit1), np.flatnonzero(sit2)])
        b_sitting = np.concatenate([np.zeros(int(sit1.sum()), dtype=int), np.ones(int(sit2.sum()), dtype=int)])
        B = len(b_trainee)
        b_day = np.where(b_sitting == 0, p1[b_trainee], p2[b_trainee])
        b_room = class_room[class_of[b_trainee]]
        b_pass = sit_pass[b_trainee, b_sitting]
        b_score = cpr_score[b_trainee, b_sitting]
        b_z = z[b_trainee, b_sitting]
        # sessions: one per (room, day) and 192 candidates (48 slots × 4 stations)
        per_session = 48 * STATIONS
        day_n = (b_day - np.datetime64("2000-01-01")).astype(int)
        key = b_room.astype(np.int64) * 100_000 + day_n
        order = np.lexsort((rng.random(B), key))
        sorted_key = key[order]
        group_start = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1] if B else np.zeros(0, dtype=int)
        ordinal_sorted = np.arange(B) - np.repeat(group_start, np.diff(np.r_[group_start, B]))
        ordinal = np.empty(B, dtype=int)
        ordinal[order] = ordinal_sorted
        chunk = ordinal // per_session
        if B and chunk.max() > 3:
            raise RuntimeError("too many candidates in one exam room on one day")
        skey = key * 4 + chunk
        uniq, s_index = np.unique(skey, return_inverse=True)
        n_sessions = len(uniq)
        s_room = (uniq // 4) // 100_000
        s_day = np.datetime64("2000-01-01") + ((uniq // 4) % 100_000).astype("timedelta64[D]")
        s_chunk = uniq % 4
        s_starts = (8 * 3600 + 1800 + s_chunk * 4 * 3600).astype(int)
        s_examiner = np.array([self.county_instructors[self.room_county[r]][
            rng.integers(len(self.county_instructors[self.room_county[r]]))] for r in s_room.tolist()],
            dtype=np.int64) if n_sessions else np.zeros(0, dtype=np.int64)
        in_session = ordinal % per_session
        b_slot = in_session // STATIONS + 1
        b_station_pos = in_session % STATIONS
        slots = np.zeros(n_sessions, dtype=int)
        np.maximum.at(slots, s_index, b_slot)
        self.report.add("simulation", 0, time.perf_counter() - t0)

        sess_ids, s_order = _ordered_ids(self.load.reserve(PracticalSession, n_sessions), _at(s_day, s_starts))
        self.load.write(PracticalSession, n_sessions, order=s_order, id=sess_ids, programme_id=self.first_aider.pk,
                        scheme_id=self.scheme.pk, room_id=self.rooms[s_room], date=s_day,
                        starts_at=[f"{s // 3600:02d}:{s % 3600 // 60:02d}:00" for s in s_starts.tolist()],
                        slots=slots, status=PracticalSession.Status.CLOSED, created_by_id=s_examiner,
                        created_at=_at(s_day - 14, _seconds(rng, n_sessions, 9 * 3600, 17 * 3600)))
        self.load.write(SessionExaminer, n_sessions, order=s_order, session_id=sess_ids, examiner_id=s_examiner,
                        assigned_by_id=s_examiner,
                        assigned_at=_at(s_day - 10, _seconds(rng, n_sessions, 9 * 3600, 17 * 3600)))

        t0 = time.perf_counter()
        examiner = s_examiner[s_index]
        rec_started = _at(b_day, s_starts[s_index] + (b_slot - 1) * SLOT_MINUTES * 60) \
            + _seconds(rng, B, 0, 300)
        rec_stopped = rec_started + _seconds(rng, B, 110, 170)
        # CPR measures from the same skill as the score: a good score, good compressions
        depth = np.clip(np.round(54 + 5.5 * b_z + rng.normal(0, 4, B), 1), 15, 85)
        rate = np.clip(np.round(111 + 4 * b_z + rng.normal(0, 9, B)), 60, 170)
        recoil = np.clip(np.round(100 * (1 - rng.beta(1.2, 8, B)) + 3 * b_z, 1), 0, 100)
        ccf = np.clip(np.round(0.80 + 0.04 * b_z + rng.normal(0, 0.05, B), 3), 0.2, 1.0)
        count = rng.integers(140, 170, B)
        cpr_ok = b_score >= 75
        result_json = [
            f'{{"standard":"{self.standard_id}","count":{n},"mean_depth_mm":{d},"mean_rate_cpm":{r:g},'
            f'"pct_recoil_ok":{rc},"ccf":{c},"score":{s},"passed":{"true" if p else "false"},"complete":true}}'
            for n, d, r, rc, c, s, p in zip(count.tolist(), depth.tolist(), rate.tolist(), recoil.tolist(),
                                            ccf.tolist(), b_score.tolist(), cpr_ok.tolist())]
        self.report.add("simulation", 0, time.perf_counter() - t0)
        rec_ids, rec_order = _ordered_ids(self.load.reserve(Recording, B), rec_started)
        b_manikin = self.room_manikins[b_room, b_station_pos]
        self.load.write(Recording, B, order=rec_order, id=rec_ids, manikin_id=b_manikin, trainee_id=uid[b_trainee],
                        started_by_id=examiner, stopped_by_id=examiner, started_at=rec_started,
                        stopped_at=rec_stopped, standard_id=self.standard_id, purpose="exam",
                        sample_count=count * 60, result=result_json, score=b_score, passed=cpr_ok,
                        outcome=Recording.Outcome.SCORED)
        booked = _at(b_day - rng.integers(3, 15, B), _seconds(rng, B, 8 * 3600, 22 * 3600))
        book_ids, b_order = _ordered_ids(self.load.reserve(Booking, B), booked)
        self.load.write(Booking, B, order=b_order, id=book_ids, session_id=sess_ids[s_index],
                        candidate_id=uid[b_trainee], slot=b_slot, station_id=self.room_stations[b_room, b_station_pos],
                        examiner_id=examiner, status=Booking.Status.CHECKED_IN,
                        theory_attempt_id=passing_attempt[b_trainee], booked_by_id=uid[b_trainee], booked_at=booked,
                        checked_in_at=rec_started - np.timedelta64(600, "s"), checked_in_by_id=examiner,
                        cpr_recording_id=rec_ids)

        # results: version 1 signed after the run; a few a second version (late evidence), signed later
        t0 = time.perf_counter()
        v2 = rng.random(B) < SECOND_VERSION
        r_booking = np.concatenate([np.arange(B), np.flatnonzero(v2)])
        r_number = np.concatenate([np.ones(B, dtype=int), np.full(int(v2.sum()), 2)])
        n_results = len(r_booking)
        signed = rec_stopped[r_booking] + _seconds(rng, n_results, 180, 900)
        signed = np.where(r_number == 2, signed + rng.integers(1, 11, n_results).astype("timedelta64[D]"), signed)
        res_ids, res_order = _ordered_ids(self.load.reserve(PracticalResult, n_results), signed)
        checklist_pts = np.where(checklist_ok[b_trainee, b_sitting], 60, 36)[r_booking]
        points = np.round(40 * b_score[r_booking] / 100 + checklist_pts, 1)
        passed_r = b_pass[r_booking]
        missed = np.where(checklist_ok[b_trainee, b_sitting][r_booking], "[]", '["scene_safety"]')
        evidence = [f'{{"generated":true,"booking":{int(b)},"recording":{int(r)},"cpr_score":{s},'
                    f'"checklist_points":{int(c)}}}'
                    for b, r, s, c in zip(book_ids[r_booking].tolist(), rec_ids[r_booking].tolist(),
                                          b_score[r_booking].tolist(), checklist_pts.tolist())]
        sha = [hashlib.sha256(f"{i}|{e}".encode()).hexdigest() for i, e in zip(res_ids.tolist(), evidence)]
        sha_v1 = dict(zip(r_booking[:B].tolist(), sha[:B]))
        previous = [""] * B + [sha_v1[b] for b in r_booking[B:].tolist()]
        self.report.add("simulation", 0, time.perf_counter() - t0)
        self.load.write(PracticalResult, n_results, order=res_order, id=res_ids, booking_id=book_ids[r_booking],
                        number=r_number,
                        reason=np.where(r_number == 1, PracticalResult.Reason.SIGNED,
                                        PracticalResult.Reason.LATE_EVIDENCE),
                        evidence=evidence, cpr_score=b_score[r_booking], points=[f"{p:.1f}" for p in points.tolist()],
                        max_points=100, passed=passed_r, critical_missed=missed.tolist(), previous_sha256=previous,
                        sha256=sha, created_at=signed, created_by_id=examiner[r_booking],
                        signed_by_id=examiner[r_booking], signed_at=signed)
        latest_result = res_ids[:B].copy()
        latest_result[r_booking[B:]] = res_ids[B:]

        # --- certificates: first-aider ones for the certified, then renewals and revocations
        t0 = time.perf_counter()
        pass_booking = np.full(N, -1, dtype=np.int64)
        won = np.flatnonzero(b_pass)
        pass_booking[b_trainee[won]] = won
        holders = np.flatnonzero(certified)
        pb = pass_booking[holders]
        issued = b_day[pb] + rng.integers(0, 15, len(holders))
        expires = _expiry(issued)
        end = np.datetime64(self.end_day, "D")
        revoked = rng.random(F) < REVOKED_SHARE
        # renewals as ``certificates.lifecycle.renew`` issues them: in the window (180 days before expiry to
        # 365 after), the renewed certificate's programme, a new validity from the old expiry (or the day)
        eligible = np.flatnonzero(~revoked & (expires - 180 <= end - 1))
        R = min(R, len(eligible))
        renewed = np.sort(rng.choice(eligible, R, replace=False)) if R else np.zeros(0, dtype=int)
        r_issued = expires[renewed] + rng.integers(-150, 201, R)
        r_issued = np.minimum(np.maximum(r_issued, expires[renewed] - 180), end)
        r_expires = _expiry(np.where(r_issued <= expires[renewed], expires[renewed] + 1, r_issued))
        r_revoked = rng.random(R) < REVOKED_SHARE
        n_certs = F + R
        c_holder = np.concatenate([holders, holders[renewed]])
        c_issued = np.concatenate([issued, r_issued])
        c_created = _at(c_issued, _seconds(rng, n_certs, 9 * 3600, 17 * 3600))
        cert_ids, c_order = _ordered_ids(self.load.reserve(Certificate, n_certs), c_created)
        c_revoked = np.concatenate([revoked, r_revoked])
        c_county = county[c_holder]
        c_class = np.concatenate([class_ids[class_of[holders]], np.full(R, -1)])
        c_base = np.concatenate([class_base[class_of[holders]], class_base[class_of[holders[renewed]]]])
        base_names = {o.pk: o.name for bases in self.bases for o in bases}
        revoked_at = _at(np.minimum(c_issued + rng.integers(10, 300, n_certs), end),
                         _seconds(rng, n_certs, 9 * 3600, 17 * 3600))
        examiner_of = examiner[pb]
        instr = teach[class_of[holders]]
        self.report.add("simulation", 0, time.perf_counter() - t0)
        self.load.write(
            Certificate, n_certs, order=c_order, id=cert_ids,
            number=[f"{NUMBER_PREFIX}{self.counties[c].code or '000000'}-{i:09d}"
                    for c, i in zip(c_county.tolist(), cert_ids.tolist())],
            holder_id=uid[c_holder],
            programme_id=self.first_aider.pk,
            training_class_id=[None if c < 0 else c for c in c_class.tolist()],
            region_id=region_ids[c_county], issuer_id=c_base, title="救护员证", holder_name=names[c_holder],
            programme_name=[self.first_aider.name] * F + [self.refresher.name] * R,
            class_hours=["16.0"] * F + ["4.0"] * R, issuer_name=[base_names[b] for b in c_base.tolist()],
            instructor_names=[f"{self.instructor_name[a]}、{self.instructor_name[b]}"
                              for a, b in instr.tolist()] + [""] * R,
            examiner_name=[self.instructor_name[e] for e in examiner_of.tolist()] + [""] * R,
            issued_on=c_issued, expires_on=np.concatenate([expires, r_expires]),
            theory_attempt_id=passing_attempt[holders].tolist() + [None] * R,
            practical_result_id=latest_result[pb].tolist() + [None] * R,
            renews_id=[None] * F + cert_ids[renewed].tolist(),
            source=[Certificate.Source.CLASS] * F + [Certificate.Source.RENEWAL] * R,
            created_at=c_created,
            revoked_at=[t if r else None for t, r in zip(self.load.datetimes(revoked_at), c_revoked.tolist())],
            revoked_reason=[REVOKE_REASONS[i % 3] if r else "" for i, r in enumerate(c_revoked.tolist())])
        self.trainee_count, self.certificate_count = N, n_certs

    # ---------------------------------------------------------- awareness
    def awareness(self) -> None:
        from courses.models import AwarenessRecord

        rng = self.rng
        A = round(AWARENESS * self.scale)
        K = len(self.counties)
        t0 = time.perf_counter()
        n_sessions = max(1, math.ceil(A / SESSION_MEAN)) if A else 0
        sizes = np.maximum(1, rng.poisson(SESSION_MEAN, n_sessions))
        diff = A - int(sizes.sum())
        while diff:  # make the headcounts add up to A exactly
            i = rng.integers(n_sessions)
            step = max(-(sizes[i] - 1), min(diff, 50)) if diff > 0 else max(diff, -(sizes[i] - 1))
            sizes[i] += step
            diff -= step
        activity = self.county_share * rng.lognormal(0, 0.3, K)
        county = rng.choice(K, n_sessions, p=activity / activity.sum())
        days = _days(self.first_day, self.end_day)
        day = rng.choice(days, n_sessions, p=_year_weights(days, self.first_year, 0.2))
        groups, weights = zip(*GROUPS)
        group = np.array(groups)[rng.choice(len(groups), n_sessions, p=np.array(weights) / sum(weights))]
        org = np.array([(self.schools[c] + self.bases[c])[rng.integers(len(self.schools[c]) + len(self.bases[c]))].pk
                        for c in county.tolist()])
        keys = [f"{k:016x}" for k in rng.integers(0, 2 ** 63, n_sessions).tolist()]
        order = np.lexsort((county, day))  # in the order they were held (the table's natural order)
        region_ids = np.array([c.pk for c in self.counties])
        self.report.add("simulation", 0, time.perf_counter() - t0)
        t0 = time.perf_counter()
        table = connection.ops.quote_name(AwarenessRecord._meta.db_table)
        if self.load.pg:
            with connection.cursor() as cur:
                cur.execute("SELECT COALESCE(MAX(id), 0) FROM " + table)
                before = cur.fetchone()[0]
                cur.execute(
                    f"""INSERT INTO {table} (region_id, held_on, "group", source, organisation_id, training_class_id,
                                             enrolment_id, session_key)
                        SELECT s.region_id, s.held_on, s.grp, %s, s.org, NULL, NULL, s.skey
                        FROM unnest(%s::int[], %s::date[], %s::text[], %s::int[], %s::text[], %s::int[])
                             AS s(region_id, held_on, grp, org, skey, n)
                        CROSS JOIN LATERAL generate_series(1, s.n)""",
                    [AwarenessRecord.Source.GENERATED, region_ids[county[order]].tolist(),
                     day[order].astype(str).tolist(), group[order].tolist(), org[order].tolist(),
                     [keys[i] for i in order.tolist()], sizes[order].tolist()])
            self.load.loaded[AwarenessRecord._meta.db_table] = (before + 1, {"region_id", "organisation_id"})
            self.report.add(AwarenessRecord._meta.db_table, A, time.perf_counter() - t0)
        else:
            rep = np.repeat(order, sizes[order])
            self.load.write(AwarenessRecord, len(rep), region_id=region_ids[county[rep]], held_on=day[rep],
                            group=group[rep], source=AwarenessRecord.Source.GENERATED, organisation_id=org[rep],
                            session_key=[keys[i] for i in rep.tolist()])
        self.awareness_count = A

    # ---------------------------------------------------------- checks
    def check(self) -> None:
        """PostgreSQL: every foreign key of the rows loaded with the checks off holds (one anti-join each)."""
        if not self.load.pg:
            return
        t0 = time.perf_counter()
        tables = list(self.load.loaded)
        keys = [k for k in _foreign_keys("conrelid", tables) if k[1] in self.load.loaded[k[0]][1]]

        def scope(table: str) -> str:
            first = self.load.loaded[table][0]
            return f"AND x.id >= {int(first)}" if first is not None else ""

        _check_foreign_keys(keys, scope)
        self.report.add("foreign-key checks", 0, time.perf_counter() - t0)

    def analyze(self) -> None:
        if not self.load.pg:
            return
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            for table in self.load.loaded:
                cur.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        self.report.add("ANALYZE", 0, time.perf_counter() - t0)


def generate(*, scale: float = 1.0, seed: int = 1, years: tuple[int, int] | None = None, province: str = "浙江省",
             replace: bool = False, today: dt.date | None = None, out: Callable[[str], None] | None = None,
             vacuum: bool = True) -> Report:
    """Generate the data set (see the module docstring) in one transaction and count the cells; returns the
    report. Refuses (``GeneratedDataExists``) when generated data is there, unless ``replace``."""
    from . import facts
    from .models import Cell, CertificateCell

    out = out or (lambda line: None)
    today = today or timezone.localdate()
    first_year, last_year = years or (today.year - 4, today.year)
    if last_year > today.year:
        raise ValueError(f"years: {last_year} has not begun yet")
    if not 0 < scale <= 10:
        raise ValueError("scale: between 0 and 10")
    if (min(today, dt.date(last_year, 12, 31)) - dt.date(first_year, 1, 1)).days < MARGIN_DAYS + 30:
        raise ValueError("years: the range is too short (at least three months before today)")
    report = Report(vendor=connection.vendor)
    t_start = time.perf_counter()
    if exists():
        if not replace:
            raise GeneratedDataExists("Generated data is already in this database: add --replace to delete it "
                                      "and generate again.")
        t0 = time.perf_counter()
        deleted = delete_generated(out=out, rebuild=False)
        report.add("delete the generated rows", sum(deleted.values()), time.perf_counter() - t0)
    gen = _Generator(scale, seed, first_year, last_year, province, today, out, report)
    with transaction.atomic():
        gen.regions()
        gen.populations()
        gen.organisations()
        gen.programmes()
        gen.admin()
        replica = _replica(True)
        dropped = []
        if replica:  # the checks of the rows made so far, now: an index is not rebuilt under pending checks
            with connection.cursor() as cur:
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cur.execute("SET CONSTRAINTS ALL DEFERRED")
            dropped = _drop_indexes(scale)
        gen.instructors()
        gen.trainees()
        gen.awareness()
        if replica:
            _replica(False)
        if dropped:
            t0 = time.perf_counter()
            _create_indexes(dropped)
            report.add(f"indexes built after the load ({len(dropped)})", 0, time.perf_counter() - t0)
        gen.check()
        gen.analyze()
        t0 = time.perf_counter()
        cells = facts.rebuild()
        report.add("dashboards.facts.rebuild()", cells, time.perf_counter() - t0)
    if vacuum and gen.load.pg and not connection.in_atomic_block:  # (VACUUM runs outside a transaction)
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            for table in [*gen.load.loaded, Cell._meta.db_table, CertificateCell._meta.db_table]:
                cur.execute(f"VACUUM {connection.ops.quote_name(table)}")
        report.add("VACUUM (after commit)", 0, time.perf_counter() - t0)
    report.total_s = time.perf_counter() - t_start
    return report


# ------------------------------------------------------------------ deleting


def delete_generated(out: Callable[[str], None] | None = None, rebuild: bool = True) -> dict[str, int]:
    """Delete every generated row (see the module docstring), in one transaction; returns rows per table.
    People named in the audit log are kept (the log is append-only), deactivated. On PostgreSQL the deletes
    skip the row-by-row foreign-key checks and every foreign key pointing at the tables is checked afterwards:
    a row of real data that points at generated data stops the deletion (nothing is deleted)."""
    from . import facts

    out = out or (lambda line: None)
    users = f"SELECT id FROM lms_user WHERE username LIKE '{GEN}%%' AND id NOT IN " \
            "(SELECT actor_id FROM lms_auditlog WHERE actor_id IS NOT NULL)"
    all_users = f"SELECT id FROM lms_user WHERE username LIKE '{GEN}%%'"
    orgs = f"SELECT id FROM lms_organisation WHERE name LIKE '{ORG_PREFIX}%%'"
    programmes = f"SELECT id FROM courses_programme WHERE code LIKE '{GEN}%%'"
    rooms = f"SELECT id FROM manikin_room WHERE organisation_id IN ({orgs})"
    stations = f"SELECT id FROM manikin_station WHERE room_id IN ({rooms})"
    manikins = f"SELECT id FROM manikin_manikin WHERE station_id IN ({stations})"
    sessions = f"SELECT id FROM exams_practicalsession WHERE room_id IN ({rooms})"
    bookings = f"SELECT id FROM exams_booking WHERE session_id IN ({sessions})"
    classes = f"SELECT id FROM courses_trainingclass WHERE training_base_id IN ({orgs})"
    certificates = f"SELECT id FROM certificates_certificate WHERE holder_id IN ({all_users})"
    studios = f"SELECT id FROM instructors_studio WHERE organisation_id IN ({orgs})"
    profiles = f"SELECT id FROM instructors_instructorprofile WHERE user_id IN ({all_users})"
    steps = [
        ("certificates_reminder", f"certificate_id IN ({certificates})"),
        ("certificates_certificate", f"id IN ({certificates})"),
        ("exams_practicalresult", f"booking_id IN ({bookings})"),
        ("exams_booking", f"id IN ({bookings})"),
        ("exams_sessionexaminer", f"session_id IN ({sessions})"),
        ("exams_practicalsession", f"id IN ({sessions})"),
        ("manikin_recording", f"manikin_id IN ({manikins})"),
        ("manikin_manikin", f"id IN ({manikins})"),
        ("manikin_station", f"id IN ({stations})"),
        ("manikin_room", f"id IN ({rooms})"),
        ("exams_attempt", f"user_id IN ({all_users})"),
        ("courses_enrolment", f"user_id IN ({all_users})"),
        ("courses_trainingclass_instructors", f"trainingclass_id IN ({classes})"),
        ("courses_awarenessrecord", "source = 'generated'"),
        ("courses_trainingclass", f"id IN ({classes})"),
        ("instructors_studiomembership", f"studio_id IN ({studios})"),
        ("instructors_studio", f"id IN ({studios})"),
        ("instructors_standingchange", f"profile_id IN ({profiles})"),
        ("instructors_assessment", f"profile_id IN ({profiles})"),
        ("instructors_instructorprofile", f"id IN ({profiles})"),
        ("lms_roleassignment", f"user_id IN ({all_users})"),
        ("lms_privacyconsent", f"user_id IN ({all_users})"),
        ("lms_user", f"id IN ({users})"),
        ("exams_blueprint", f"programme_id IN ({programmes})"),
        ("exams_practicalscheme", f"programme_id IN ({programmes})"),
        ("certificates_certificaterule", f"programme_id IN ({programmes})"),
        ("courses_programme", f"id IN ({programmes})"),
        ("instructors_tier_teaches", f"tier_id IN (SELECT id FROM instructors_tier WHERE code LIKE '{GEN}%%')"),
        ("instructors_tier_examines", f"tier_id IN (SELECT id FROM instructors_tier WHERE code LIKE '{GEN}%%')"),
        ("instructors_tier", f"code LIKE '{GEN}%%' AND id NOT IN (SELECT tier_id FROM instructors_instructorprofile)"),
        ("lms_regionpopulation", "source = %s"),
    ]
    counts: dict[str, int] = {}
    pg = connection.vendor == "postgresql"
    with transaction.atomic():
        replica = _replica(True)
        with connection.cursor() as cur:
            for table, where in steps:
                t0 = time.perf_counter()
                params = [GENERATED_SOURCE] if "%s" in where else []
                if table == "courses_awarenessrecord" and pg:
                    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE source <> 'generated')")
                    if not cur.fetchone()[0]:
                        cur.execute(f"SELECT count(*) FROM {table}")
                        n = cur.fetchone()[0]
                        cur.execute(f"TRUNCATE {table}")
                        counts[table] = n
                        out(f"  {table}: {n:,} rows ({time.perf_counter() - t0:.1f} s, truncated)")
                        continue
                cur.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608 (our own names)
                counts[table] = max(cur.rowcount, 0)
                if counts[table]:
                    out(f"  {table}: {counts[table]:,} rows ({time.perf_counter() - t0:.1f} s)")
            # people named in the audit log stay (renamed, deactivated): the log is append-only
            cur.execute("UPDATE lms_user SET is_active = %s, organisation_id = NULL, "
                        "username = 'deleted-' || username || '-' || id "
                        f"WHERE username LIKE '{GEN}%%' "
                        "AND id IN (SELECT actor_id FROM lms_auditlog)", [False])
            # organisations last: the users' organisation and the rows above pointed at them
            cur.execute(f"DELETE FROM lms_organisation WHERE id IN ({orgs})", [])
            counts["lms_organisation"] = max(cur.rowcount, 0)
        if replica:
            _replica(False)
            t0 = time.perf_counter()
            tables = [t for t, _w in steps] + ["lms_organisation"]
            _check_foreign_keys(_foreign_keys("confrelid", tables))
            out(f"  foreign keys pointing at them checked ({time.perf_counter() - t0:.1f} s)")
        if rebuild:
            facts.rebuild()
    return counts
