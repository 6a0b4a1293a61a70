"""Where ``manage.py bench`` finds the benchmarks, how it runs them, and the machine it says they ran on.

The pattern: every app keeps its benchmarks in its own ``bench`` module or package (``lms/bench/``,
``manikin/bench/``, ``courses/bench.py``, …), which declares them in a module-level ``BENCHMARKS`` dict:
name → a callable or ``"module:function"``. Each is ``run(out=print, quick=False, ...) -> dict`` and puts its
headline figures (``lms.bench.figures.Figure``) in the dict under ``"figures"``. :func:`discover` collects them
from every installed app in ``INSTALLED_APPS`` order, ``http`` (the yardstick) first.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import platform
import socket
import time
import traceback
from collections.abc import Callable, Iterable

from .figures import Figure, failed, not_run

FIRST = "http"  # the yardstick the others are read against


def _bench_modules(app_names: Iterable[str]) -> list[str]:
    names = []
    for app in app_names:
        try:
            found = importlib.util.find_spec(f"{app}.bench") is not None
        except ModuleNotFoundError:
            found = False
        if found:
            names.append(f"{app}.bench")
    return names


def discover(app_names: Iterable[str] | None = None) -> dict[str, Callable | str]:
    """Every benchmark of every app (``app_names``: default the installed apps'), name → callable or
    ``"module:function"``, in a fixed order: ``http`` first, then by app in ``INSTALLED_APPS`` order and
    within an app in its dict's order. Two benchmarks of one name are an error."""
    if app_names is None:
        from django.apps import apps

        app_names = [config.name for config in apps.get_app_configs()]
    found: dict[str, Callable | str] = {}
    owner: dict[str, str] = {}
    for module_name in _bench_modules(app_names):
        module = importlib.import_module(module_name)
        declared = getattr(module, "BENCHMARKS", None)
        if declared is None:
            continue
        if not isinstance(declared, dict):
            raise TypeError(f"{module_name}.BENCHMARKS must be a dict of name → callable or 'module:function'")
        for name, target in declared.items():
            if name in found:
                raise ValueError(f"benchmark {name!r} is declared twice: in {owner[name]} and {module_name}")
            if name == "all":
                raise ValueError(f"{module_name}: 'all' is not a benchmark name (it means every one)")
            found[name] = target
            owner[name] = module_name
    if FIRST in found:
        found = {FIRST: found.pop(FIRST), **found}
    return found


def resolve(target: Callable | str) -> Callable:
    """The callable a ``BENCHMARKS`` entry names."""
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"{target!r}: expected 'module:function'")
    return getattr(importlib.import_module(module_name), attr)


def run_benchmarks(names: list[str], quick: bool, out: Callable[[str], object] = print, heading=None,
                   options: dict | None = None, benchmarks: dict | None = None) -> tuple[list[Figure], dict]:
    """Run ``names`` one after the other; returns every figure (in order) and each benchmark's details.

    ``options`` (e.g. ``{"manikins": 150}``) go to the benchmarks whose ``run`` takes them. A benchmark that
    raises gets an ``ERROR`` row (its traceback printed) and the others still run; one that returns no
    figures gets a row saying so."""
    benchmarks = discover() if benchmarks is None else benchmarks
    heading = heading or out
    figures: list[Figure] = []
    details: dict = {}
    for name in names:
        heading(f"== {name}")
        started = time.monotonic()
        try:
            run = resolve(benchmarks[name])
            params = inspect.signature(run).parameters
            extra = {k: v for k, v in (options or {}).items() if v is not None and k in params}
            result = run(out=out, quick=quick, **extra) or {}
        except Exception as exc:  # noqa: BLE001 (one benchmark's failure is a row of the table, not the end)
            out(traceback.format_exc())
            figures.append(failed(name, exc))
            details[name] = {"error": repr(exc), "elapsed_s": round(time.monotonic() - started, 1)}
            out(f"-- {name}: failed after {time.monotonic() - started:.0f} s")
            continue
        got = [f for f in result.get("figures", []) if isinstance(f, Figure)]
        if not got:
            got = [not_run(name, "the benchmark returned no figures")]
        figures.extend(got)
        details[name] = result
        result["elapsed_s"] = round(time.monotonic() - started, 1)
        out(f"-- {name}: {result['elapsed_s']:.0f} s")
    return figures, details


# ------------------------------------------------------------------ the machine

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _postgres_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=3) as conn:
            version = conn.info.server_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    except Exception as exc:  # noqa: BLE001
        return f"no PostgreSQL answered ({type(exc).__name__})"


def machine() -> dict:
    """The machine and databases the figures were measured on (for the table's heading)."""
    import datetime
    import sqlite3

    import psutil
    from django.db import connection

    url = os.environ.get("DATABASE_URL", "")
    pg_url = url if url.startswith(("postgres://", "postgresql://")) else "postgres://postgres@127.0.0.1:5432/postgres"
    pg = _postgres_version(pg_url)  # its own connection: no query on this process's database
    if connection.vendor == "postgresql":
        own = pg
    else:
        own = f"{connection.vendor} {sqlite3.sqlite_version if connection.vendor == 'sqlite' else ''}".strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host": socket.gethostname(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "load_average": round(os.getloadavg()[0], 2),
        "database": own,
        "postgresql": pg,
        "redis": "REDIS_URL" if os.environ.get("REDIS_URL") else "a private Redis per server",
    }


def machine_lines(m: dict) -> list[str]:
    return [
        f"date {m['date']}; machine {m['host']}: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, "
        f"{m['os']}, Python {m['python']}; load average {m['load_average']} at the start",
        f"databases: this command's {m['database']} (the benchmarks run in this process use it); PostgreSQL "
        f"server: {m['postgresql']} (exam and certificates' verification make their own database on it); the "
        f"servers other benchmarks start have a database of their own (SQLite, or a scratch one on DATABASE_URL for "
        f"stream); channel layer: {m['redis']}",
    ]
