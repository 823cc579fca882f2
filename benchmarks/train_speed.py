"""Training-step speed of a preset under each CPU setting, side by side in one run.

Each setting runs in its own process (the allocator setting is process-wide): a few warm-up
steps, then timed steps on real Bash pairs, batch 64. Prints examples/s, the ratio to the
plain fp32 baseline, and peak RSS.

    python benchmarks/train_speed.py --preset small --steps 5 --data DIR
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SETTINGS = {
    "fp32": dict(precision="fp32", tune_allocator=False),
    "fp32 + allocator": dict(precision="fp32", tune_allocator=True),
    "bf16 + allocator": dict(precision="bf16", tune_allocator=True),
}


def one(preset: str, steps: int, warmup: int, data: str | None, precision: str, tune_allocator: bool) -> dict:
    import random

    import torch

    from core.config import preset as make_preset
    from core.data import load_pairs
    from core.model import CodeFusion
    from core.tokenizer import CodeTokenizer
    from core.train.data import TrainingSet
    from core.device import autocast
    from core.train.trainer import tune_allocator as tune

    if tune_allocator:
        tune()
    torch.manual_seed(0)
    cfg = make_preset(preset, langs=["bash"])
    tok = CodeTokenizer()
    pairs = load_pairs("bash", "train", data)
    ds = TrainingSet(tok, cfg.code_len, cfg.prompt_len, [p.code for p in pairs], [p.nl for p in pairs])
    model = CodeFusion(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.0)
    rng = random.Random(0)
    device = torch.device("cpu")

    def step(i: int) -> None:
        batch = ds.batch(list(range(i * 64, (i + 1) * 64)), rng)
        with autocast(precision, device, training=True):
            loss = model(batch.code_ids, batch.prompt_ids, batch.prompt_mask, batch.unconditional).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for i in range(warmup):
        step(i)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(warmup, warmup + steps):
        step(i)
    wall = time.perf_counter() - t0
    return {"examples_per_s": 64 * steps / wall, "s_per_step": wall / steps,
            "cpu_per_wall": (time.process_time() - c0) / wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--_one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._one:
        print(json.dumps(one(a.preset, a.steps, a.warmup, a.data, **SETTINGS[a._one])))
        return
    rows = {}
    for name in SETTINGS:
        cmd = [sys.executable, __file__, "--preset", a.preset, "--steps", str(a.steps),
               "--warmup", str(a.warmup), "--_one", name] + (["--data", a.data] if a.data else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows[name] = json.loads(out.strip().splitlines()[-1])
    base = rows["fp32"]["examples_per_s"]
    for r in rows.values():
        r["speedup"] = r["examples_per_s"] / base
    if a.json:
        print(json.dumps({"preset": a.preset, "steps": a.steps, "settings": rows}))
        return
    print(f"preset {a.preset}, batch 64, {a.steps} timed steps after {a.warmup} warm-up")
    print(f"{'setting':<18} {'ex/s':>7} {'s/step':>7} {'speedup':>8} {'cpu/wall':>9} {'peak RSS MB':>12}")
    for name, r in rows.items():
        print(f"{name:<18} {r['examples_per_s']:7.1f} {r['s_per_step']:7.2f} {r['speedup']:7.2f}x "
              f"{r['cpu_per_wall']:9.2f} {r['peak_rss_mb']:12.0f}")


if __name__ == "__main__":
    main()
