"""`cf bench` on a real (tiny) model: every setting measured beside the full sampler, with its
quality, and a cold start in a new process."""

from __future__ import annotations


from conftest import cf


def test_bench_reports_ratios_to_the_full_sampler_and_quality(tiny_model, data_dir, tmp_path):
    from cfcli.bench import BenchRequest, Setting, default_settings, run_bench

    # The default list starts with the paper's full schedule; the test's baseline is shorter
    # (1,200 steps of even the tiny model take minutes here) and plays the same role.
    assert default_settings(1200, "cpu")[0].steps == 1200
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


def test_bench_bad_input_is_one_line(tiny_model, data_dir):
    r = cf("bench", "--model", str(tiny_model), "--lang", "python", "--data", str(data_dir))
    assert r.returncode == 2 and "trained for bash, not python" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()
    r = cf("bench", "--model", str(tiny_model), "--quality-items", "5", "--full-quality-items", "9")
    assert r.returncode == 2 and "at most --quality-items" in r.stderr.decode()
