import json
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from core import checkpoint
from core.errors import CFError
from core.generate import Pipeline
from core.metrics import top_k_hits
from core.train.trainer import TrainArgs, lr_at, train
from tests.conftest import ROOT, TINY_STEPS


def args(out, bash64, **kw):
    base = dict(preset="tiny", train_file=str(bash64), out=str(out), device="cpu", progress=False,
                batch_size=16, warmup=2, save_every=3)
    return TrainArgs(**{**base, **kw})


def weights(d):
    return load_file(str(d / "model.safetensors"))


def test_killed_run_resumes_exactly(tmp_path, bash64):
    """SIGKILL a real `cf train` mid-run; --resume then ends with the weights of an unbroken run."""
    train(args(tmp_path / "a", bash64, max_steps=8), log=lambda *_: None)
    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "cfcli", "train", "--preset", "tiny", "--train-file", str(bash64),
           "--out", str(out), "--device", "cpu", "--no-progress", "--batch-size", "16", "--warmup", "2",
           "--max-steps", "8", "--save-every", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        state = checkpoint.train_state_dir(out)
        try:
            if state and json.loads((state / "state.json").read_text())["step"] >= 3:
                break
        except FileNotFoundError:  # the run renamed it to train_state.old between the two calls
            pass
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    killed_at = json.loads((checkpoint.train_state_dir(out) / "state.json").read_text())["step"]
    assert killed_at < 8, "the run finished before it could be killed"
    r = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    a, b = weights(tmp_path / "a"), weights(out)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 8 and {"loss", "denoise", "decoder", "nll", "examples_per_s"} <= rows[-1].keys()


def test_stop_at_keeps_a_checkpoint_partway_through_the_schedule(tmp_path, bash64):
    """--stop-at 4 of 8 saves the step-4 model (learning rate still on the 8-step schedule) and
    --resume goes on to the weights of an unbroken run."""
    train(args(tmp_path / "a", bash64, max_steps=8, self_cond=True), log=lambda *_: None)
    out = tmp_path / "b"
    said = []
    stopping = args(out, bash64, max_steps=8, stop_at=4, self_cond=True, log_every=1)
    summary = train(stopping, log=said.append)
    assert summary["stopped_at"] == 4 and any("--stop-at" in line for line in said)
    assert checkpoint.read_config(out)["step"] == 4
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 4 and last["lr"] == pytest.approx(lr_at(3, stopping, 8)) != lr_at(3, stopping, 4)
    halfway = weights(out)
    train(args(out, bash64, max_steps=8, resume=True, self_cond=True), log=lambda *_: None)
    a, b = weights(tmp_path / "a"), weights(out)
    assert any(not torch.equal(halfway[k], b[k]) for k in b)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


def test_existing_run_is_never_overwritten(tmp_path, bash64):
    train(args(tmp_path / "a", bash64, max_steps=3), log=lambda *_: None)
    with pytest.raises(CFError, match="--resume"):
        train(args(tmp_path / "a", bash64, max_steps=3), log=lambda *_: None)


def test_killed_during_swap_resumes_from_old_state(tmp_path, bash64):
    out = tmp_path / "a"
    train(args(out, bash64, max_steps=3), log=lambda *_: None)
    (out / "train_state").rename(out / "train_state.old")  # as if killed between the two renames
    train(args(out, bash64, max_steps=4, resume=True), log=lambda *_: None)
    assert json.loads((out / "config.json").read_text())["step"] == 4


def test_checkpoint_round_trip(tmp_path, bash64):
    out = tmp_path / "a"
    train(args(out, bash64, max_steps=2), log=lambda *_: None)
    p1 = Pipeline.from_pretrained(out)
    p2 = Pipeline.from_pretrained(out)
    assert p1.generate("list files", k=3, steps=3, seed=0) .candidates == p2.generate("list files", k=3, steps=3, seed=0).candidates
    (out / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CFError, match="corrupt"):
        checkpoint.load_model(out)
    with pytest.raises(CFError, match="does not exist"):
        checkpoint.load_model(tmp_path / "nowhere")


def test_ddp_two_gloo_processes(tmp_path, bash64):
    out = tmp_path / "ddp"
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "cfcli", "train", "--preset", "tiny", "--train-file", str(bash64), "--out", str(out),
         "--max-steps", "3", "--batch-size", "16", "--device", "cpu", "--no-progress", "--save-every", "3"],
        capture_output=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert "× 2 processes" in r.stderr.decode()
    state = json.loads((out / "train_state" / "state.json").read_text())
    assert state["step"] == 3 and state["examples"] == 48


@pytest.fixture(scope="module")
def overfit_top1(tiny_model, bash64) -> float:
    from core.data import load_jsonl

    pairs = load_jsonl(bash64)
    assert len(pairs) == 64
    # fp32: this measures what the model learnt. int8 (cf's CPU default) rounds differently on
    # each CPU's kernels: on an AVX512-VNNI machine it cost this model 1 of the 64 pairs.
    pipe = Pipeline.from_pretrained(tiny_model, precision="fp32")
    results = pipe.generate_batch([p.nl for p in pairs], k=5, seed=0)
    return sum(top_k_hits([c.code for c in r.candidates], p.code)[1] for p, r in zip(pairs, results)) / 64


def test_tiny_overfits_64_bash_pairs(overfit_top1):
    """The real model, really trained (conftest: TINY_STEPS steps on 64 pairs with distinct
    prompts), reproduces its training set: issue 3 asks for >= 95% top-1 exact match."""
    assert overfit_top1 >= 0.95, f"top-1 exact match {overfit_top1:.2%} after {TINY_STEPS} steps"
