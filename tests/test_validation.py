"""Held-out validation during fine-tuning (cf train --holdout)."""

import json

from core.checkpoint import load_model
from core.data import Pair, load_jsonl
from core.generate import Pipeline
from core.train.validate import score_top1, split_holdout
from tests.conftest import cf


def test_holdout_keeps_every_pair_of_a_prompt_on_one_side():
    pairs = [Pair(f"p{i}", f"c{i}") for i in range(20)] + [Pair("p3", "other3"), Pair("p7", "other7")]
    train, prompts, refs = split_holdout(pairs, 6)
    assert len(prompts) == len(set(prompts)) == 6
    assert not {p.nl for p in train} & set(prompts)
    assert len(train) + sum(map(len, refs)) == len(pairs)  # nothing dropped, nothing doubled
    for nl, r in zip(prompts, refs):
        assert r == [p.code for p in pairs if p.nl == nl]
    assert split_holdout(list(reversed(pairs)), 6)[1] == prompts  # by prompt, not by file order
    assert split_holdout(pairs, 0) == (pairs, [], [])


def test_score_takes_the_best_reference():
    one = score_top1("find . -name x", ["ls -l"], "bash")
    two = score_top1("find . -name x", ["ls -l", "find . -name y"], "bash")
    assert two["template_match"] > one["template_match"] and two["similarity"] > one["similarity"]
    assert set(score_top1("x = 1", ["x = 2"], "python")) == {"similarity", "valid", "bleu"}


def test_train_samples_the_held_out_prompts_at_every_save(tmp_path, bash64):
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--train-file", str(bash64), "--out", str(out), "--holdout", "8",
            "--save-every", "3", "--lr", "3e-3", "--warmup", "2", "--device", "cpu", "--no-progress"]
    r = cf(*args, "--max-steps", "6")
    log = r.stderr.decode()
    assert r.returncode == 0, log
    assert "finetune: 56 examples" in log and log.count("held-out top-1 at step") == 2
    checks = [row for row in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "validation" in row]
    assert [c["step"] for c in checks] == [3, 6] and checks[-1]["validation"]["bash"]["n"] == 8
    # The last row is what the saved model samples on those prompts.
    _, prompts, refs = split_holdout(load_jsonl(bash64), 8)
    model, tok, _ = load_model(out)
    results = Pipeline(model, tok, precision="bf16" if "bf16" in log else "fp32").generate_batch(prompts, k=5, seed=0)
    mean = sum(score_top1(res.candidates[0].code if res.candidates else "", ref, "bash")["template_match"]
               for res, ref in zip(results, refs)) / len(refs)
    assert abs(checks[-1]["validation"]["bash"]["template_match"] - round(100 * mean, 2)) < 0.01
    # A resumed run holds out the same prompts, whatever its command line says.
    r = cf(*[a if a != "8" else "0" for a in args], "--max-steps", "9", "--resume")
    assert r.returncode == 0, r.stderr.decode()
    checks = [row for row in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "validation" in row]
    assert [c["step"] for c in checks] == [3, 6, 9] and checks[-1]["validation"]["bash"]["n"] == 8
