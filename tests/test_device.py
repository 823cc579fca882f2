"""The CUDA path, checked on the CPU (issue 23): a device check (tests/device_check.py) over
training and generation, what the host waits for in a training step, bf16 rows whose every key is
padding, DDP processes stopping together, and the GPU scripts' and tools' own defects."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from core import checkpoint
from core.config import preset
from core.generate import Pipeline
from core.model import CodeFusion, build_model
from core.tokenizer import CodeTokenizer
from core.device import pick_precision, use_cuda_defaults
from core.train.trainer import TrainArgs, train
from tests.conftest import ROOT
from tests.device_check import DEVICE, DeviceCheck, DeviceMixing


def quiet(*_):
    pass


def args(out, bash64, **kw) -> TrainArgs:
    base = dict(preset="tiny", train_file=str(bash64), out=str(out), device=str(DEVICE), progress=False,
                batch_size=4, warmup=1, lr=3e-3, save_every=100, log_every=1, precision="fp32")
    return TrainArgs(**{**base, **kw})


def test_the_check_fails_what_a_gpu_refuses():
    with DeviceCheck() as check:
        on = torch.ones(3).to(DEVICE)
        assert on.device == DEVICE and (on + 1).device == DEVICE
        assert torch.zeros(2, device=on.device).device == DEVICE
        _ = on * torch.tensor(2.0)  # a 0-dim CPU tensor is a scalar to CUDA too
        with pytest.raises(DeviceMixing):
            _ = on + torch.ones(3)
        with pytest.raises(DeviceMixing):
            on[torch.tensor([True, False, True])] = torch.ones(2)
        assert not check.syncs
        float(on.sum())
        assert [what for what, _ in check.syncs] == ["__float__"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, bash64, data_dir) -> Path:
    """Pre-training then fine-tuning, all on the check's device: bf16, self-conditioning, held-out
    validation at the end."""
    out, said = tmp_path_factory.mktemp("device") / "pretrained", []
    with DeviceCheck():
        train(args(out, bash64, stage="all", data=str(data_dir), limit=64, max_steps=2, precision="bf16",
                   self_cond=True, holdout=2, save_every=2), log=said.append)
    assert said[0].endswith("device cpu:0, bf16"), said[0]
    return out


def test_training_keeps_to_the_models_device(pretrained, bash64, tmp_path):
    """Then a fine-tune warm-started from it (--init-from), stopped partway and resumed."""
    assert checkpoint.read_config(pretrained)["stage"] == "finetune"
    rows = [json.loads(line) for line in (pretrained / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in rows if "loss" in r] == ["pretrain", "pretrain", "finetune", "finetune"]
    assert [r["step"] for r in rows if "validation" in r] == [2]
    out = tmp_path / "tuned"
    with DeviceCheck():
        train(args(out, bash64, init_from=str(pretrained), self_cond=True, max_steps=3, stop_at=1), log=quiet)
        train(args(out, bash64, self_cond=True, max_steps=3, resume=True), log=quiet)
    assert checkpoint.read_config(out)["step"] == 3


def test_init_from_writes_the_rows_where_the_model_is(pretrained):
    tok = CodeTokenizer(pretrained / "tokenizer")
    model = build_model(preset("tiny", vocab_size=tok.vocab_size, self_cond=True))
    with DeviceCheck():
        model.to(DEVICE)
        assert checkpoint.init_weights_from(model, tok, pretrained) > 0
    src, _, _ = checkpoint.load_model(pretrained)
    assert torch.equal(model.embed.weight, src.embed.weight)


def test_generation_keeps_to_the_models_device(pretrained):
    pipe = Pipeline.from_pretrained(pretrained, precision="fp32")
    with DeviceCheck():
        on = Pipeline.from_pretrained(pretrained, device=DEVICE, precision="fp32")
        runs = [dict(sampler="dpm++"), dict(sampler="ddim"), dict(sampler="ddim", eta=1.0),
                dict(clamp="nearest", rounding="nearest"), dict(clamp=False), dict(early_stop=1, shrink=True)]
        for sampling in runs:
            events = list(on.stream(["list files", "remove a directory"], k=2, steps=4, seed=0, preview_every=2,
                                    fill=False, **sampling))
            assert events[-1].candidates is not None
        on.generate("list files", k=5, seed=0)  # cf's default sampling, with its further samples
        on_bf16 = Pipeline.from_pretrained(pretrained, device=DEVICE, precision="bf16")
        on_bf16.generate("list files", k=2, seed=0, fill=False)
        deterministic = on.generate("find text files", k=3, steps=4, seed=1, fill=False)
    # The start noise comes from the CPU generator: the deterministic samplers start alike everywhere.
    assert [c.code for c in deterministic.candidates] == \
        [c.code for c in pipe.generate("find text files", k=3, steps=4, seed=1, fill=False).candidates]


def test_ddpm_noise_is_drawn_on_the_device(pretrained):
    """The paper's sampler adds noise at every step: drawn on the model's device, so the number of
    host-to-device copies does not grow with the steps; a seed still gives the same candidates."""
    with DeviceCheck() as check:
        on = Pipeline.from_pretrained(pretrained, device=DEVICE, precision="fp32")
        copies = []
        for steps in (4, 12):
            check.h2d.clear()
            on.generate("list files", k=2, steps=steps, seed=0, sampler="ddim", eta=1.0, clamp=False, fill=False)
            copies.append(len(check.h2d))
        again = [on.generate("list files", k=2, steps=12, seed=0, sampler="ddim", eta=1.0, clamp=False).candidates
                 for _ in range(2)]
    assert copies[0] == copies[1], copies
    assert again[0] == again[1]


def test_a_retrieval_model_keeps_to_its_device(bash64, tmp_path):
    from core.retrieval.store import SHIPPED_STORE, ExampleStore

    out = tmp_path / "retrieval"
    with DeviceCheck():
        train(args(out, bash64, retrieval=True, max_steps=1), log=quiet)
        on = Pipeline.from_pretrained(out, device=DEVICE, precision="fp32", examples=ExampleStore(SHIPPED_STORE))
        assert on.generate("delete all empty folders", k=2, seed=0).examples


def test_the_autoregressive_baseline_keeps_to_its_device():
    import dataclasses

    torch.manual_seed(0)
    cfg = dataclasses.replace(preset("tiny"), arch="t5-ar", vocab_size=CodeTokenizer().vocab_size, code_len=8)
    with DeviceCheck():
        ar = Pipeline(build_model(cfg).to(DEVICE), CodeTokenizer(), DEVICE, precision="fp32")
        assert ar.generate("remove directory tree", k=2).candidates is not None


def counted_run(out, bash64, data_dir, steps: int) -> DeviceCheck:
    with DeviceCheck() as check:
        train(args(out, bash64, stage="pretrain", data=str(data_dir), limit=64, max_steps=steps, log_every=3,
                   self_cond=True), log=quiet)
    return check


def test_a_training_step_waits_for_the_device_once_per_logged_step(bash64, data_dir, tmp_path):
    """Pre-training (unconditional rows, self-conditioning) for 3 and for 6 steps, logged every 3:
    the 3 steps more may wait for the device at their one logged step only, and copy nothing to it
    but their batches (code, prompt, mask, unconditional rows)."""
    short, long = (counted_run(tmp_path / str(n), bash64, data_dir, n) for n in (3, 6))
    assert len(long.syncs) - len(short.syncs) <= 1, long.syncs[-10:]
    assert len(long.h2d) - len(short.h2d) <= 3 * 4, long.h2d[-10:]


def test_the_gpu_loss_is_the_cpu_loss():
    """Off the host, the token loss is taken over every position with the unscored ones ignored,
    not by boolean indexing (a wait for the GPU): the same loss."""
    torch.manual_seed(0)
    m = CodeFusion(preset("tiny")).eval()
    code = torch.randint(5, 500, (3, m.cfg.code_len))
    code[0, 6:], code[1, 2:] = 0, 0
    prompt, mask = torch.randint(5, 500, (3, 5)), torch.ones(3, 5, dtype=torch.long)
    t, noise = torch.tensor([5, 500, 1100]), torch.randn(3, m.cfg.code_len, m.cfg.embed_dim)
    with torch.no_grad():
        host = m(code, prompt, mask, t=t, noise=noise)
        with DeviceCheck() as check:
            m.to(DEVICE)
            on = m(*(x.to(DEVICE) for x in (code, prompt, mask)), t=t.to(DEVICE), noise=noise.to(DEVICE))
            assert not check.syncs
    for k in ("nll", "loss"):
        assert torch.allclose(getattr(host, k), getattr(on, k), rtol=1e-5), k


class PlainAttention(TorchFunctionMode):
    """scaled_dot_product_attention as a plain softmax, as CUDA's kernels may have it: a row whose
    every key is masked gives NaN (the CPU kernel returns zeros)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            return self.attention(*args, **kwargs)
        return func(*args, **kwargs)

    @staticmethod
    def attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
        scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5 if scale is None else scale)
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        elif attn_mask is not None:
            scores = scores + attn_mask
        return F.dropout(scores.softmax(-1), dropout_p) @ v


def test_fully_masked_prompt_rows_stay_finite_in_bf16():
    """Unconditional pre-training rows have an empty prompt, so every key of their encoder rows is
    padding: in bf16 with a plain softmax attention the loss and every gradient stay finite."""
    torch.manual_seed(0)
    m = CodeFusion(preset("tiny")).train()
    code = torch.randint(5, 500, (4, m.cfg.code_len))
    prompt = torch.randint(5, 500, (4, 6))
    mask = torch.ones(4, 6, dtype=torch.long)
    mask[2:] = 0  # two rows with an empty prompt
    uncond = torch.tensor([False, False, True, True])
    with PlainAttention():
        assert PlainAttention.attention(torch.ones(1, 1, 1, 2), torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2),
                                        torch.zeros(1, 1, 1, 2, dtype=torch.bool)).isnan().all()  # as CUDA can
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = m(code, prompt, mask, uncond)
        out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


def test_bf16_only_on_gpus_that_have_it(monkeypatch):
    asked = []

    def native(including_emulation=True):
        asked.append(including_emulation)
        return capability >= (8, 0) or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", native)
    cuda = torch.device("cuda")
    capability = (7, 0)  # V100: emulated, slower than fp32
    assert pick_precision("auto", cuda) == "fp32" and asked == [False]
    capability = (8, 0)  # A100
    assert pick_precision("auto", cuda) == "bf16"
    assert pick_precision("bf16", cuda) == "bf16"  # asked for: given


def test_bf16_on_cpus_only_with_amx(monkeypatch):
    # AVX512-BF16 without AMX trained slower in bf16 than in fp32 (docs/results.md, "Training speed").
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": True, "amx_bf16": False})
    assert pick_precision("auto", cpu) == "fp32"
    assert pick_precision("bf16", cpu) == "bf16"  # asked for: given
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": True, "amx_bf16": True})
    assert pick_precision("auto", cpu) == "bf16"
    assert pick_precision("fp32", cpu) == "fp32"


def test_cuda_runs_fp32_matmuls_in_tf32():
    before = torch.get_float32_matmul_precision()
    try:
        use_cuda_defaults()
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(before)


def test_ddp_processes_stop_together(tmp_path, bash64):
    """SIGTERM reaches one of two processes: both stop after the same step, with the state saved,
    instead of one waiting in a barrier while the other waits in the gradient all-reduce."""
    out = tmp_path / "ddp"
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "cfcli", "train", "--preset", "tiny", "--train-file", str(bash64), "--out", str(out),
         "--max-steps", "500", "--batch-size", "4", "--device", "cpu", "--no-progress", "--save-every", "1000",
         "--log-every", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    workers = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not ((out / "metrics.jsonl").exists() and
                                              (out / "metrics.jsonl").read_text().count("\n") >= 2):
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            time.sleep(0.1)
        workers = [worker(proc.pid, rank) for rank in (0, 1)]
        os.kill(workers[1], signal.SIGTERM)
        log = proc.communicate(timeout=60)[0].decode()  # (without agreeing, they wait for ever)
    finally:
        if proc.poll() is None:  # torchrun starts each worker in a session of its own
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # (torchrun ends the other worker once one has exited, perhaps before it has said so too)
    stops = [line for line in log.splitlines() if "stopped at finetune step" in line]
    assert 1 <= len(stops) <= 2, log[-3000:]
    step = json.loads((out / "train_state" / "state.json").read_text())["step"]
    assert all(f"step {step};" in line for line in stops) and 2 <= step < 500


def worker(root: int, rank: int) -> int:
    """The pid of torchrun's worker of this rank."""
    for task in Path(f"/proc/{root}/task").iterdir():
        for pid in (task / "children").read_text().split():
            if f"RANK={rank}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                return int(pid)
    raise AssertionError(f"no worker of rank {rank}")


def test_bench_measures_each_setting_once():
    from cfcli.bench import default_settings, with_compiled

    for device in ("cuda", "cpu"):
        settings = with_compiled(default_settings(1200, device))
        assert len({s.name for s in settings}) == len(settings), device
    assert "DPM++ 5, bf16" in [s.name for s in default_settings(1200, "cuda")]


def test_fetched_data_files_are_readable_by_everyone(tmp_path, source_data):
    from core.data.fetch import PYTHON_CORPUS, SHA256, fetch

    (tmp_path / PYTHON_CORPUS).write_text("x = 1\n")  # not rebuilt here
    umask = os.umask(0o022)
    try:
        fetch(tmp_path, source_data, log=quiet)
    finally:
        os.umask(umask)
    assert {name: oct((tmp_path / name).stat().st_mode & 0o777) for name in SHA256} == \
        {name: oct(0o644) for name in SHA256}


def test_gpu_run_stops_when_training_fails(tmp_path, bash64, data_dir):
    """benchmarks/gpu/run.sh (its CPU dry run): a training that fails ends the run, rather than
    evaluating the checkpoint an earlier run left (here: a run dir that is not resumed)."""
    stale = tmp_path / "stale"
    train(args(stale, bash64, device="cpu", max_steps=1), log=quiet)
    env = {**os.environ, "DRY_RUN": "1", "RUN": str(stale), "OUT": str(tmp_path / "out"), "DATA": str(data_dir),
           "PYTHON": sys.executable}
    r = subprocess.run(["bash", "benchmarks/gpu/run.sh"], cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert r.returncode != 0
    assert "already holds a training run" in (tmp_path / "out" / "train.log").read_text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["device.txt", "train.log"]
