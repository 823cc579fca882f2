"""Shared fixtures: the real published data (../shared, or $CODEFUSION_TEST_DATA) and a tiny
model really trained on 64 Bash pairs once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The suite runs as if no model were shipped (so the tiny models are the ones under test and the
# "no model" paths stay testable); tests of the shipped model put SHIPPED_MODELS back.
SHIPPED_MODELS = ROOT / "core" / "assets" / "models"
os.environ["CODEFUSION_SHIPPED_MODELS"] = tempfile.mkdtemp(prefix="cf-no-shipped-models-")
# Nothing a test does (accepted picks, `cf examples add`) reaches the real user data dir.
os.environ["CODEFUSION_HOME"] = tempfile.mkdtemp(prefix="cf-home-")
# No picker run by a test starts a `cf serve` that outlives it (tests/test_serve.py tests the default).
(Path(os.environ["CODEFUSION_HOME"]) / "config.toml").write_text('serve = "off"\n')
CANDIDATES = [os.environ.get("CODEFUSION_TEST_DATA", ""), str(ROOT.parent / "shared" / "data" / "codefusion")]


def find_source_data() -> Path:
    for c in CANDIDATES:
        if c and (Path(c) / "BashBenchmarks.json").exists():
            return Path(c)
    raise RuntimeError("the CodeFusion data was not found: set CODEFUSION_TEST_DATA to the folder "
                       "holding BashBenchmarks.json (e.g. ../shared/data/codefusion)")


def cf(*args: str, input: bytes | None = None, timeout: float = 600, env: dict | None = None):
    """Run the real `cf` entry point in a new process."""
    return subprocess.run([sys.executable, "-m", "cfcli", *args], input=input, capture_output=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


@pytest.fixture(scope="session")
def source_data() -> Path:
    return find_source_data()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, source_data) -> Path:
    """A data dir as `cf data fetch --from` makes it (the Python corpus is built on demand)."""
    from core.data.fetch import SHA256

    d = tmp_path_factory.mktemp("data")
    for name in SHA256:
        (d / name).symlink_to(source_data / name)
    return d


@pytest.fixture(scope="session")
def bash64(tmp_path_factory, data_dir) -> Path:
    """The first 64 Bash train pairs whose code fits the tiny preset, one per prompt, as user JSONL.

    One per prompt: the train split repeats some prompts with different commands, and no model
    can match two references with one top-1 (such repeats capped top-1 at 59/64)."""
    from core.config import preset
    from core.data import load_pairs
    from core.tokenizer import CodeTokenizer

    tok, n = CodeTokenizer(), preset("tiny").code_len
    by_prompt = {}
    for p in load_pairs("bash", "train", data_dir):
        if len(tok.encode(p.code)) < n:
            by_prompt.setdefault(p.nl, p)
    pairs = list(by_prompt.values())[:64]
    path = tmp_path_factory.mktemp("bash64") / "bash64.jsonl"
    path.write_text("".join(json.dumps({"nl": p.nl, "code": p.code}) + "\n" for p in pairs))
    return path


# The suite's longest setup, in fp32 whatever the CPU (bf16 took 56 s for 250 steps, fp32 34 s, on
# an Intel Xeon without AMX; and the model is the same on every machine). At lr 4e-3, 250 steps
# reproduce all 64 pairs (2026-12-06; 200 steps at 5e-3: 60; at 3e-3, 300 steps: 63, 400: 64,
# 600: 63). 200 steps at 4e-3 also reproduced 64, but the language server's tests (int8, cf's
# default sampling) then got `nl` for "nl -ba infile"; 250 in fp32 (2026-12-07) gave `top -` for
# "top -c" once its length was cut (test_generate's shrink test); 300 pass every test.
TINY_STEPS, TINY_LR = 300, "4e-3"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, bash64) -> Path:
    # Developers iterating on the UI can reuse a tiny model trained with these same arguments
    # (CI never sets this, so the suite always trains its own).
    if os.environ.get("CODEFUSION_TEST_TINY_MODEL"):
        return Path(os.environ["CODEFUSION_TEST_TINY_MODEL"])
    out = tmp_path_factory.mktemp("tiny") / "model"
    r = cf("train", "--preset", "tiny", "--train-file", str(bash64), "--out", str(out),
           "--max-steps", str(TINY_STEPS), "--lr", TINY_LR, "--warmup", "20", "--device", "cpu",
           "--precision", "fp32", "--save-every", "1000", "--no-progress")
    assert r.returncode == 0, r.stderr.decode()
    return out


@pytest.fixture(scope="session")
def tiny_ar_model(tmp_path_factory, bash64) -> Path:
    """The autoregressive T5 baseline at the tiny preset, trained by the same trainer on the same rows."""
    out = tmp_path_factory.mktemp("tiny-ar") / "model"
    r = cf("train", "--arch", "t5-ar", "--preset", "tiny", "--train-file", str(bash64), "--out", str(out),
           "--max-steps", "40", "--lr", "3e-3", "--warmup", "10", "--batch-size", "32", "--log-every", "10",
           "--device", "cpu", "--no-progress")
    assert r.returncode == 0, r.stderr.decode()
    return out
