"""Smoke test of the benchmark (figures only, no timing assertions)."""

from manikin.scoring import benchmark


def test_quick_benchmark_reports_its_figures():
    lines = []
    figures = benchmark.run(out=lines.append, quick=True)
    for key in ("batch_ms_2min_100hz", "np_diff_us", "ratio", "stream_samples_per_s", "stream_ratio",
                "manikins_at_100hz_one_core"):
        assert figures[key] > 0
    assert len(lines) >= 3 and "samples/s" in "\n".join(lines)
