"""`cf bench` on a real (tiny) model: every setting measured beside the full sampler, with its
quality, and a cold start in a new process."""

from __future__ import annotations


from conftest import cf


def test_bench_reports_ratios_to_the_full_sampler_and_quality(tiny_model, data_dir, tmp_path):
    from cfcli.bench import BenchRequest, Setting, default_settings, run_bench

    # The default list starts with the paper's full schedule; the test's baseline is shorter
    # (1,200 steps of even the tiny model take minutes here) and plays the same role.
    assert default_settings(1200, "cpu")[0].steps == 1200
    # ... and ends with cf's default sampling, as Pipeline.stream runs it when given no steps.
    from core.generate import DEFAULT_SAMPLER, DEFAULT_STEPS, default_early_stop, default_shrink

    last = default_settings(1200, "cpu")[-1]
    assert "cf's default" in last.name and last.precision == "int8"
    assert (last.steps, last.sampler, last.early_stop, last.shrink) == (
        DEFAULT_STEPS, DEFAULT_SAMPLER, default_early_stop(None, True), default_shrink(None, True))
    settings = [Setting("baseline", 150), Setting("DPM++ 3", 3, "dpm++"), Setting("DPM++ 3 int8", 3, "dpm++", precision="int8")]
    report = run_bench(BenchRequest(model=str(tiny_model), lang="bash", prompts=2, quality_items=4,
                                    full_quality_items=2, data=str(data_dir), cold_runs=1, settings=settings))
    full, fast, int8 = report["settings"]
    assert full["speedup_vs_paper"] == 1.0 and full["mean_steps_run"] == 150
    # 3 steps instead of 150: whatever the machine's noise, far faster.
    assert fast["speedup_vs_paper"] > 5 and fast["quality_items"] == 4 and fast["mean_steps_run"] == 3
    assert int8["precision"] == "int8" and int8["metric"] == "template_match"
    for row in report["settings"]:
        assert 0 <= row["top1"] <= row["top5"] <= 100 and row["latency_ms_p50"] <= row["latency_ms_p95"]
        assert row["throughput_prompts_per_s"] > 0
    assert report["cold_start"]["wall_s_p50"] > 0 and report["cold_start"]["peak_rss_mb"] > 50
    assert report["load_s_p50"] > 0
    assert report["autoregressive_baseline"] is None


def test_bench_measures_the_autoregressive_baseline_on_the_same_items(tiny_model, tiny_ar_model, data_dir):
    from cfcli.bench import BenchRequest, Setting, run_bench

    settings = [Setting("baseline", 20), Setting("DPM++ 3, length buckets", 3, "dpm++", shrink=True)]
    report = run_bench(BenchRequest(model=str(tiny_model), lang="bash", prompts=2, quality_items=3,
                                    data=str(data_dir), cold_runs=0, settings=settings, ar_model=str(tiny_ar_model)))
    ar = report["autoregressive_baseline"]
    assert ar["model"] == str(tiny_ar_model) and ar["precision"] == "int8" and ar["mean_steps_run"] == 1
    assert ar["quality_items"] == 3 and ar["metric"] == "template_match" and 0 <= ar["top1"] <= ar["top5"] <= 100
    assert ar["speedup_vs_paper"] > 0 and ar["top5_minus_paper"] is not None
    assert report["settings"][1]["shrink"] is True and "cold_start" not in report


def test_bench_bad_input_is_one_line(tiny_model, data_dir):
    r = cf("bench", "--model", str(tiny_model), "--lang", "python", "--data", str(data_dir))
    assert r.returncode == 2 and "trained for bash, not python" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()
    r = cf("bench", "--model", str(tiny_model), "--quality-items", "5", "--full-quality-items", "9")
    assert r.returncode == 2 and "at most --quality-items" in r.stderr.decode()
    r = cf("bench", "--model", str(tiny_model), "--ar-model", str(tiny_model), "--data", str(data_dir))
    assert r.returncode == 2 and "not an autoregressive model" in r.stderr.decode()
