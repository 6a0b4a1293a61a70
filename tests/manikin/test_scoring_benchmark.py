"""Smoke test of the benchmark (figures only, no timing assertions)."""

from manikin.bench import scorer as benchmark


def test_quick_benchmark_reports_its_figures():
    lines = []
    figures = benchmark.run(out=lines.append, quick=True)
    for key in ("batch_ms_2min_100hz", "np_diff_us", "ratio", "stream_samples_per_s", "stream_ratio",
                "manikins_at_100hz_one_core"):
        assert figures[key] > 0
    assert len(lines) >= 3 and "samples/s" in "\n".join(lines)


def test_accuracy_command_reports_every_profile_within_a_millimetre():
    from manikin.scoring import accuracy
    lines = []
    figures = accuracy.run(out=lines.append, quick=True, profiles=("good", "hands_resting"))
    assert len(lines) == 4 and lines[0].startswith("| profile |")
    for f in figures.values():
        assert f["clean_depth_worst"] < 1.0 and f["noisy_depth_mae"] < 1.0
        assert f["noisy_matched"] == f["noisy_truth"] and f["noisy_invented"] == 0
