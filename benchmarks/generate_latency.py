"""Latency of top-5 generation for one prompt at a time, at several step counts, side by side.

The model is loaded once; each setting gets one warm-up prompt, then the same prompts (the first
N of the published test split) one by one. Prints p50/p95 and the ratio to the paper's full
1,200-step schedule, which runs on fewer prompts because it is slow on a CPU.

    python benchmarks/generate_latency.py --model DIR --lang bash --prompts 20 --steps 10,50,1200
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--lang", default="bash")
    ap.add_argument("--data", default=None)
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--full-prompts", type=int, default=3, help="prompts for the 1,200-step setting")
    ap.add_argument("--steps", default="10,50,1200")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import torch

    from core.data import load_pairs
    from core.generate import Pipeline

    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    pipe = Pipeline.from_pretrained(a.model)
    load_s = time.perf_counter() - t0
    prompts = [p.nl for p in load_pairs(a.lang, "test", a.data)]
    rows = {}
    for steps in [int(s) for s in a.steps.split(",")]:
        n = a.full_prompts if steps >= pipe.cfg.diffusion_steps else a.prompts
        pipe.generate(prompts[-1], k=a.top_k, steps=steps, seed=0)  # warm-up
        ms = []
        for p in prompts[:n]:
            t = time.perf_counter()
            pipe.generate(p, k=a.top_k, steps=steps, seed=0)
            ms.append(1000 * (time.perf_counter() - t))
        rows[steps] = {"prompts": n, "p50_ms": statistics.median(ms), "p95_ms": percentile(ms, 0.95)}
    full = rows.get(pipe.cfg.diffusion_steps)
    for r in rows.values():
        r["speedup_vs_full"] = full["p50_ms"] / r["p50_ms"] if full else None
    report = {"model": a.model, "top_k": a.top_k, "threads": torch.get_num_threads(),
              "load_s": load_s, "settings": rows}
    if a.json:
        print(json.dumps(report))
        return
    print(f"model {a.model}: top-{a.top_k}, {torch.get_num_threads()} threads, load {load_s:.2f} s")
    print(f"{'steps':>6} {'prompts':>8} {'p50 ms':>9} {'p95 ms':>9} {'vs full':>8}")
    for steps, r in rows.items():
        ratio = f"{r['speedup_vs_full']:.0f}x" if r["speedup_vs_full"] else "-"
        print(f"{steps:>6} {r['prompts']:>8} {r['p50_ms']:9.0f} {r['p95_ms']:9.0f} {ratio:>8}")


if __name__ == "__main__":
    main()
