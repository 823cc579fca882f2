"""`cf eval`: the pure scoring on hand-made candidates, then the real command on the tiny model."""

import json
from pathlib import Path

import pytest

from cfcli.evaluate import EvalItem, best_over_first_k, items_path, load_items, score
from tests.conftest import cf
from tests.test_metrics_python import tiny_encoder  # noqa: F401  (a fixture: a local 2-layer BERT)

KS = ("top1", "top3", "top5")


def assert_monotone(metrics: dict) -> None:
    for name, figures in metrics.items():
        if "skipped" not in figures:
            assert figures["top1"] <= figures["top3"] <= figures["top5"], name


# ------------------------------------------------------------------------------- pure scoring


def test_best_over_first_k():
    assert best_over_first_k([0.2, 0.9, 0.1, 0.3, 1.0, 1.0]) == {"top1": 0.2, "top3": 0.9, "top5": 1.0}
    assert best_over_first_k([]) == {"top1": 0.0, "top3": 0.0, "top5": 0.0}


def test_bash_scores_and_the_unseen_subset():
    items = [EvalItem("1", "list files", "ls -l"), EvalItem("2", "find txt files", "find . -name '*.txt'"),
             EvalItem("3", "nothing", "pwd")]
    candidates = [
        ["ls -l", "ls"],  # perfect at rank 1
        ["ls -a", "cat x", "find /tmp -name '*.py'"],  # same template at rank 3, not exact
        [],  # generation produced nothing
    ]
    summary, records = score(items, candidates, "bash", seen_in_train=frozenset({"ls -l"}))
    m = summary["metrics"]
    assert m["exact_match"] == {"top1": 33.33, "top3": 33.33, "top5": 33.33, "items": 3}
    assert m["template_accuracy"] == {"top1": 33.33, "top3": 66.67, "top5": 66.67, "items": 3}
    assert m["template_match"]["top1"] < m["template_match"]["top3"] == pytest.approx(66.67)
    assert summary["validity"] == {"top1": 66.67, "items": 3}  # no candidate counts as invalid
    assert [r["seen_in_train"] for r in records] == [True, False, False]
    unseen = summary["subsets"]["unseen_in_train"]
    assert unseen["items"] == 2 and unseen["metrics"]["exact_match"]["top5"] == 0.0
    assert unseen["metrics"]["template_accuracy"]["top3"] == 50.0
    # Diversity: "ls -l" vs "ls" differ by 3 of 5 characters; one candidate has distance 0.
    assert records[0]["diversity"]["edit_distance"] == {"min": 0.6, "max": 0.6, "mean": 0.6}
    assert records[2]["diversity"]["distinct_candidates"] == 0
    assert summary["diversity"]["distinct_candidates"] == pytest.approx(5 / 3, abs=1e-3)


def test_python_scores_with_codebertscore_skipped_or_computed(tmp_path, tiny_encoder):  # noqa: F811
    items = [EvalItem("1", "set x", "x = 1"), EvalItem("2", "print y", "print ( y )")]
    candidates = [["x = 2", "x = 1"], ["y"]]
    summary, _ = score(items, candidates, "python", codebertscore_model=str(tmp_path / "missing"))
    m = summary["metrics"]
    assert m["codebertscore"] == {"skipped": f"model not available ({tmp_path / 'missing'})"}
    assert m["exact_match"] == {"top1": 0.0, "top3": 50.0, "top5": 50.0, "items": 2}
    assert 0 < m["bleu"]["top1"] < m["bleu"]["top3"] < 100  # "x = 1" at rank 2 scores 1 for item 1
    assert summary["validity"]["top1"] == 100.0

    summary, records = score(items, candidates, "python", codebertscore_model=tiny_encoder, codebertscore_layer=2)
    assert records[0]["scores"]["codebertscore"]["top3"] == pytest.approx(1.0, abs=1e-5)
    assert records[0]["scores"]["codebertscore"]["top1"] < 1.0
    assert_monotone(summary["metrics"])


def test_cf_executes_where_there_is_data_and_matches_exactly_elsewhere(data_dir):
    cf_test = load_items("cf", "test", str(data_dir))
    header_only = next(i for i in cf_test if i.reference == "Between(15,85)")
    with_table = next(i for i in cf_test if i.reference == "AboveAverage(c[1])")
    assert len(header_only.table) == 1 and len(with_table.table) > 1
    candidates = [
        [" Between(15,85)\n", "between(15,85)"],  # rank 1 matches after whitespace normalisation
        ["aboveaverage(c[1])", with_table.reference],  # same rows, different text at rank 1
    ]
    summary, records = score([header_only, with_table], candidates, "cf")
    m = summary["metrics"]
    assert m["execution_match"] == {"top1": 100.0, "top3": 100.0, "top5": 100.0, "items": 1}
    assert m["exact_match_rest"] == {"top1": 100.0, "top3": 100.0, "top5": 100.0, "items": 1}
    assert m["execution_combined"] == {"top1": 100.0, "top3": 100.0, "top5": 100.0, "items": 2}
    assert m["exact_match"] == {"top1": 50.0, "top3": 100.0, "top5": 100.0, "items": 2}
    assert [r["execution_applies"] for r in records] == [False, True]

    wrong, _ = score([header_only, with_table], [["Blanks()"], ["BelowAverage(c[1])"]], "cf")
    assert all(wrong["metrics"][name]["top5"] == 0.0 for name in wrong["metrics"])


# ------------------------------------------------------------------------------- the real command


def test_eval_bash_json_out_and_plots(tiny_model, data_dir, tmp_path):
    out, plots = tmp_path / "report.json", tmp_path / "plots"
    r = cf("eval", "--lang", "bash", "--model", str(tiny_model), "--data", str(data_dir), "--limit", "3",
           "--steps", "2", "--seed", "1", "--json", "--out", str(out), "--plot", str(plots), "--plot-steps", "1,2")
    assert r.returncode == 0, r.stderr.decode()
    report = json.loads(r.stdout)
    assert report == json.loads(out.read_text())
    assert {"lang", "split", "items", "model", "steps", "seed", "top_k", "metrics", "subsets", "validity",
            "diversity", "paper", "seconds"} <= report.keys()
    assert (report["lang"], report["split"], report["items"], report["steps"]) == ("bash", "test", 3, 2)
    names = {"exact_match", "template_match", "template_accuracy"}
    unseen = report["subsets"]["unseen_in_train"]
    for section in (report, unseen):
        assert set(section["metrics"]) == names
        assert_monotone(section["metrics"])
        assert set(section["diversity"]["distinct_ngrams"]) == {"1", "2", "3", "4"}
        assert section["validity"]["top1"] is not None or section["items"] == 0
    assert unseen["split"] == {"items": 2522, "seen_in_train": 756}
    assert report["paper"]["metrics"]["template_match"]["top1"] == 66.7

    lines = [json.loads(x) for x in items_path(out).read_text().splitlines()]
    assert len(lines) == 3 and {"nl", "reference", "candidates", "scores", "valid_top1"} <= lines[0].keys()
    assert [p["steps"] for p in report["plots"]["quality_vs_steps"]["points"]] == [1, 2]
    assert len(report["plots"]["refinement"]["edit_distance"]) == 2
    for name in ("refinement-bash.png", "quality-vs-steps-bash.png"):
        png = (plots / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 1000


def test_eval_records_the_sampling_settings_it_ran_with(tiny_model, data_dir):
    r = cf("eval", "--lang", "bash", "--model", str(tiny_model), "--data", str(data_dir), "--limit", "2",
           "--steps", "4", "--sampler", "dpm++", "--early-stop", "1", "--precision", "int8", "--json")
    assert r.returncode == 0, r.stderr.decode()
    report = json.loads(r.stdout)
    assert (report["sampler"], report["early_stop"], report["precision"], report["steps"]) == ("dpm++", 1, "int8", 4)
    r = cf("eval", "--lang", "bash", "--model", str(tiny_model), "--data", str(data_dir), "--limit", "1",
           "--sampler", "euler")
    assert r.returncode == 2 and "unknown sampler 'euler'" in r.stderr.decode()


def test_eval_refuses_a_model_of_another_language(tiny_model, data_dir):
    r = cf("eval", "--lang", "cf", "--model", str(tiny_model), "--data", str(data_dir), "--limit", "2")
    assert r.returncode == 2
    assert r.stderr.decode().strip().splitlines() == [f"cf: error: model {tiny_model} was trained for bash, not cf"]


def test_eval_bad_input_is_one_line_and_nonzero(tmp_path, data_dir):
    no_matplotlib = tmp_path / "shadow" / "matplotlib"
    no_matplotlib.mkdir(parents=True)
    (no_matplotlib / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    base = ("eval", "--lang", "bash", "--data", str(data_dir), "--model", str(tmp_path / "no-model"))
    cases = {
        "has no split 'dev'": cf(*base, "--split", "dev"),
        "--limit 3000 is more than the 2522 items": cf(*base, "--limit", "3000"),
        "does not exist": cf(*base, "--limit", "1"),
        "BashBenchmarks.json not found": cf("eval", "--lang", "bash", "--data", str(tmp_path)),
        "--plot-steps takes": cf(*base, "--plot-steps", "1,two"),
        "pip install 'codefusion[plot]'": cf(*base, "--plot", str(tmp_path / "p"),
                                             env={"PYTHONPATH": str(tmp_path / "shadow")}),
    }
    for expected, r in cases.items():
        err = r.stderr.decode().strip()
        assert r.returncode == 2 and err.startswith("cf: error: ") and len(err.splitlines()) == 1, err
        assert expected in err


def test_paired_table_compares_models_item_by_item_even_where_ids_repeat(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("results_tables", Path(__file__).parent.parent / "benchmarks/results_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    assert tables.sign_test(0, 0) == 1.0 and tables.sign_test(10, 0) == 2 / 1024 and tables.sign_test(3, 3) == 1.0

    def report(name, top1s):  # CoNaLa-like: the id 7 stands for two items
        (tmp_path / f"{name}.json").write_text(json.dumps({"lang": "python", "model": f"runs/{name}",
                                                           "metrics": {"codebertscore": {"skipped": "no weights"},
                                                                       "bleu": {}}}))
        rows = [{"id": i, "scores": {"bleu": {"top1": x}}} for i, x in zip(["7", "7", "8", "9"], top1s)]
        (tmp_path / f"{name}.items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return tmp_path / f"{name}.json"

    table = tables.paired_table([report("a", [0.5, 0.9, 0.2, 0.1]), report("b", [0.5, 0.1, 0.3, 0.1])])
    assert table.splitlines()[-1] == "| python, bleu | `a` | `b` | 4 | 42.5 / 25.0 | 1 | 1 | 1 |"
    # --skip: only the items after the first N (the second 7, 8, 9), in the split's order
    table = tables.paired_table([tmp_path / "a.json", tmp_path / "b.json"], skip=1)
    assert table.splitlines()[-1] == "| python, bleu | `a` | `b` | 3 | 40.0 / 16.7 | 1 | 1 | 1 |"


def test_degenerate_counts_skeletons_beside_template_match(tmp_path):
    import subprocess
    import sys

    def row(candidate, tm, acc):
        return {"candidates": [candidate], "scores": {"template_match": {"top1": tm},
                                                      "template_accuracy": {"top1": acc, "top5": acc}}}

    items = tmp_path / "r.items.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in [
        row("find . - - -", 0.8, 0.0), row("find . -type f", 1.0, 1.0), row("ls -l - x", 0.5, 0.0),
        row("rm - -", 0.2, 0.0)]))
    script = Path(__file__).parent.parent / "benchmarks/degenerate.py"
    out = subprocess.run([sys.executable, str(script), str(items)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "| `r.items.jsonl` | 4 | 50.0% | 62.5 | 25.0 / 25.0 |"
    r = subprocess.run([sys.executable, str(script), str(items), "--limit", "1"], capture_output=True, text=True)
    assert r.stdout.splitlines()[-1].startswith("| `r.items.jsonl` | 1 | 100.0%")
