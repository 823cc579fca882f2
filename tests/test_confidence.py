"""What a candidate shows instead of the raw score: a confidence fit on held-out train prompts
(benchmarks/calibrate.py, core/confidence.py) and where it came from."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import ROOT
from core.confidence import Calibration, in_rank_order, origin
from core.retrieval.store import Example


def test_origin_says_where_a_candidate_came_from():
    tar = Example(1, "bash", "extract an archive", "tar xf {{archive}}", "tldr", ref="tldr:common/tar#2")
    nl2bash = Example(2, "bash", "list files", "ls -la", "train", ref="bash:17")
    mine = Example(3, "bash", "deploy", "make deploy", "user")
    assert origin(tar, "tar xf logs.tar", "bash") == "edited from tldr: tar"
    assert origin(nl2bash, "ls  -la", "bash") == "NL2Bash" and origin(nl2bash, "ls -l", "bash") == "edited from NL2Bash"
    assert origin(mine, "make deploy", "bash") == "your example"
    assert origin(mine, "make deploy-prod", "bash") == "edited from your example"
    assert origin({"source": "train", "code": "x"}, "y", "cf") == "edited from the CF rules set"
    assert origin(None, "ls", "bash") == "the model"


def test_shown_confidences_never_rise_down_the_list():
    assert in_rank_order([0.8, 0.9, 0.3, 0.5, None]) == [0.8, 0.8, 0.3, 0.3, None]


def test_a_broken_calibration_file_means_no_confidence(tmp_path):
    (tmp_path / "calibration.json").write_text("{not json")
    assert Calibration.load(tmp_path) is None and Calibration.load(tmp_path / "absent") is None


def test_calibrate_fits_on_train_prompts_and_the_pipeline_then_shows_confidences(tiny_model, data_dir, tmp_path):
    from core.generate import Pipeline

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    before = Pipeline.from_pretrained(model).generate("list files", seed=1)
    assert all(c.confidence is None for c in before.candidates)
    r = subprocess.run([sys.executable, "benchmarks/calibrate.py", "--model", str(model), "--langs", "bash",
                        "--prompts", "24", "--data", str(data_dir)], cwd=ROOT, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode()
    fit = json.loads((model / "calibration.json").read_text())
    bash = fit["langs"]["bash"]
    assert len(bash["weights"]) == 6 and "template" in bash["right_means"]
    assert 0 <= bash["held_out_20pct"]["brier"] <= 1 and "train prompts" in fit["fit_on"]
    after = Pipeline.from_pretrained(model).generate("list files", seed=1)
    shown = [c.confidence for c in after.candidates]
    assert [c.code for c in after.candidates] == [c.code for c in before.candidates]  # the order stands
    assert all(0 <= p <= 1 for p in shown) and shown == sorted(shown, reverse=True)
