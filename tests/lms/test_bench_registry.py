"""``manage.py bench``: every app's benchmarks found once, each importable, and one table of figures whose
verdicts follow the measured values (no timing is asserted: the runs here are the quick, in-process ones)."""

import importlib.util
import inspect
import io
import json
import operator

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from lms.bench import figures as F
from lms.bench import registry

EXPECTED = {"http", "study", "exam", "scorer", "frames", "stream", "console", "certificates", "instructors",
            "dashboards"}
CHECK = {"<": operator.lt, "≤": operator.le, "≥": operator.ge}


def _meets(f: F.Figure) -> bool:
    """The verdict recomputed from the figure's own numbers, independently of lms.bench.figures."""
    measured = f.ratio if f.on == "ratio" else f.value
    return measured is not None and CHECK[f.op](measured, f.limit)


def test_discovery_finds_every_benchmark_once_with_the_yardstick_first():
    found = registry.discover()
    assert set(found) == EXPECTED
    assert len(found) == len(EXPECTED)
    assert next(iter(found)) == "http"
    # the order is fixed: the same on a second discovery
    assert list(registry.discover()) == list(found)


def test_every_app_with_a_bench_module_declares_its_benchmarks_in_it():
    found = registry.discover()
    owners = set()
    for config in apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.bench") is None:
            continue
        module = importlib.import_module(f"{config.name}.bench")
        assert isinstance(module.BENCHMARKS, dict) and module.BENCHMARKS, config.name
        for name in module.BENCHMARKS:
            assert name in found
            owners.add(config.name)
    assert {"lms", "courses", "exams", "manikin", "certificates", "instructors", "dashboards"} <= owners
    # no benchmark file left outside the pattern
    for old in ("manikin.bench_frames", "manikin.bench_console", "manikin.bench_bridges", "manikin.scoring.benchmark",
                "certificates.bench_pdf", "certificates.bench_verify"):
        assert importlib.util.find_spec(old) is None, old


def test_every_registered_benchmark_imports_and_takes_out_and_quick():
    for name, target in registry.discover().items():
        run = registry.resolve(target)
        params = inspect.signature(run).parameters
        assert callable(run) and "out" in params and "quick" in params, name


def test_a_name_declared_twice_is_refused_and_apps_without_bench_are_skipped(tmp_path, monkeypatch):
    for app, body in (("hbench_one", "BENCHMARKS = {'twice': 'x:run', 'once': 'x:run'}"),
                      ("hbench_two", "BENCHMARKS = {'twice': 'y:run'}"), ("hbench_none", None)):
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
        if body:
            (tmp_path / app / "bench.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert list(registry.discover(["hbench_none", "hbench_one"])) == ["twice", "once"]
    with pytest.raises(ValueError, match="twice"):
        registry.discover(["hbench_one", "hbench_two"])


def test_the_verdict_follows_the_value_against_the_target():
    short = F.figure("b", "p99", 150.0, "ms", below=100)
    assert short.passed is False and short.status == "SHORT" and short.target == "< 100 ms"
    assert F.figure("b", "p99", 99.9, "ms", below=100).passed is True
    assert F.figure("b", "p99", 100.0, "ms", below=100).passed is False
    assert F.figure("b", "lost", 0, "samples", at_most=0).passed is True
    assert F.figure("b", "lost", 3, "samples", at_most=0).status == "SHORT"
    assert F.figure("b", "rate", 9.9, "/s", at_least=10).passed is False
    assert F.figure("b", "rate", 10, "/s", at_least=10).status == "pass"
    ratio = F.figure("b", "page", 400, "req/s", ratio_at_least=0.5, yardstick=1000, yardstick_name="/healthz")
    assert ratio.ratio == 0.4 and ratio.passed is False and ratio.target == "≥ 0.5 × /healthz"
    assert F.figure("b", "page", 600, "req/s", ratio_at_least=0.5, yardstick=1000).passed is True
    # a ratio measured in rounds decides, not value ÷ yardstick
    assert F.figure("b", "api", 400, "req/s", ratio_at_least=0.5, yardstick=1000, ratio=0.6).passed is True
    nothing = F.figure("b", "p99", None, "ms", below=100)
    assert nothing.passed is False and "nothing measured" in nothing.note
    free = F.figure("b", "decode", 18.7, "µs", yardstick=5.75)
    assert free.passed is None and free.status == "no target" and free.target is None
    assert F.not_run("b", "no PostgreSQL").status == "not run"
    assert F.failed("b", RuntimeError("boom")).status == "ERROR"
    with pytest.raises(ValueError):
        F.figure("b", "x", 1, below=2, at_least=0)


def test_a_quick_run_returns_figures_whose_verdicts_follow_their_values(monkeypatch):
    from manikin.bench import scorer

    # Targets out of any machine's reach on both sides, so that each verdict is known before the run.
    monkeypatch.setattr(scorer, "BATCH_TARGET_MS", 1e9)  # any batch time passes
    monkeypatch.setattr(scorer, "STREAM_TARGET_MANIKINS", 10**12)  # no streaming rate does
    lines = []
    figures, details = registry.run_benchmarks(["scorer"], quick=True, out=lines.append)
    assert figures and all(isinstance(f, F.Figure) for f in figures)
    assert {f.benchmark for f in figures} == {"scorer"} and "scorer" in details
    by_name = {f.name: f for f in figures}
    batch = by_name["batch: a 2-minute 100 Hz session"]
    stream = by_name["streaming: manikins at 100 Hz on one core"]
    assert batch.value > 0 and batch.passed is True and batch.yardstick > 0
    # The ratio is kept to three decimals.
    assert batch.ratio == pytest.approx(batch.value / batch.yardstick, abs=5e-4 + 1e-12)
    assert stream.value > 0 and stream.passed is False and stream.status == "SHORT"
    for f in figures:
        if f.op is None:
            assert f.passed is None
        else:
            assert f.passed is _meets(f)
    assert any("samples/s" in line for line in lines)


def test_a_benchmark_that_fails_or_returns_nothing_is_a_row_of_its_own():
    def boom(out=print, quick=False):
        raise RuntimeError("no server")

    def silent(out=print, quick=False):
        return {"something": 1}

    lines = []
    figures, _ = registry.run_benchmarks(["boom", "silent"], quick=True, out=lines.append,
                                         benchmarks={"boom": boom, "silent": silent})
    assert [(f.benchmark, f.status) for f in figures] == [("boom", "ERROR"), ("silent", "not run")]
    assert "no server" in figures[0].note and any("RuntimeError" in line for line in lines)


def test_the_command_prints_one_table_with_the_machine_and_saves_it(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("bench", "frames", "--quick", "--json", stdout=out)
    text = out.getvalue()
    assert "cores" in text and "GiB RAM" in text and "Python" in text
    assert "| benchmark | figure | value | target | ÷ yardstick | verdict | note |" in text
    assert "| frames | decode one bridge message |" in text
    data = json.loads(text[text.index("\n{") + 1:])
    assert data["quick"] is True and data["machine"]["cores"] >= 1
    [row] = data["figures"]
    assert row["benchmark"] == "frames" and row["status"] == "no target" and row["value"] > 0
    assert row["yardstick_name"] == "json.loads" and row["ratio"] == pytest.approx(row["value"] / row["yardstick"],
                                                                                   abs=5e-4 + 1e-12)
    [saved] = (tmp_path / "bench").glob("*-quick.md")
    assert "| frames | decode one bridge message |" in saved.read_text()


def test_the_command_refuses_an_unknown_name():
    with pytest.raises(CommandError, match="unknown benchmark"):
        call_command("bench", "nonesuch", stdout=io.StringIO())


def test_the_table_reads_each_figure_against_its_yardstick_in_its_own_unit():
    beats = F.figure("study", "beats", 600, "beats/s", ratio_at_least=0.5, yardstick=1000, yardstick_name="/healthz",
                     yardstick_unit="req/s")
    page = F.figure("study", "page", 300, "req/s", ratio_at_least=0.5, yardstick=1000, yardstick_name="/healthz")
    table = F.markdown_table([beats, page])
    assert "| study | beats | 600 beats/s | ≥ 0.5 × /healthz | 0.6 (/healthz 1,000 req/s) | pass |" in table
    assert "| study | page | 300 req/s | ≥ 0.5 × /healthz | 0.3 (/healthz 1,000 req/s) | **SHORT** |" in table
    assert "SHORT" in F.text_table([page]) and "pass" in F.text_table([beats])


def test_a_figure_short_of_its_target_is_never_shown_rounded_onto_the_pass_mark():
    slow = F.figure("scorer", "batch", 2.004, "ms", below=2)
    fast = F.figure("scorer", "batch", 1.996, "ms", below=2)
    near = F.figure("http", "rps", 9_999.7, "req/s", ratio_at_least=10, yardstick=1_000, yardstick_name="Daphne")
    assert slow.status == "SHORT" and fast.status == "pass" and near.status == "SHORT"
    table = F.markdown_table([slow, fast, near])
    assert "| scorer | batch | 2.004 ms | < 2 ms |" in table
    assert "| scorer | batch | 2.00 ms | < 2 ms |" in table  # a pass keeps the usual three digits
    assert near.ratio < 10 and "| 9.9997 (Daphne 1,000 req/s) | **SHORT** |" in table
