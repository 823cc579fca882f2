"""Warm latency of `Pipeline.generate` (5 candidates, cf's defaults) in two checkouts, side by side:
the first N test prompts of a language (Bash by default), each checkout in its own process, the processes alternating
rounds so that both see the same machine load. Each process runs the prompts once untimed (the
"first pass", whose seconds are printed: with --compile, torch.compile's cold start, an empty
compile cache every round), then once timed. Prints each round's p50 / p90 and the ratio.

    python benchmarks/warm_latency.py --data ../shared/data/codefusion --base ../base-checkout [--prompts 20] [--rounds 2] [--compile] [--lang python]

``--base``: another checkout of the project (e.g. `git worktree add ../base-checkout <commit>`),
its own code and its own example store; this checkout is the other side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE_ROUND = r"""
import json, statistics, sys, time
sys.path.insert(0, ".")
from cfcli.evaluate import load_items
from core.generate import Pipeline
items = load_items(sys.argv[4], "test", sys.argv[1])[: int(sys.argv[2])]
start = time.perf_counter()
pipe = Pipeline.from_pretrained("codefusion-small", lang=sys.argv[4], compile=sys.argv[3] == "compile")
for it in items:
    pipe.generate(it.nl, k=5)
first_s = time.perf_counter() - start
times = []
for it in items:
    start = time.perf_counter()
    pipe.generate(it.nl, k=5)
    times.append(1000 * (time.perf_counter() - start))
print(json.dumps({"times": times, "first_s": first_s}))
"""


def one_round(checkout: Path, data: str, prompts: int, compile: bool, lang: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", ONE_ROUND, str(Path(data).resolve()), str(prompts),
                              "compile" if compile else "eager", lang], cwd=checkout, env=env,
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the published data folder")
    p.add_argument("--base", type=Path, required=True, help="the other checkout")
    p.add_argument("--prompts", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="both sides with torch.compile (fp32)")
    p.add_argument("--lang", default="bash", choices=("bash", "python", "cf"))
    a = p.parse_args()
    sides = {"base": a.base.resolve(), "this": ROOT}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(a.rounds):
        for name, checkout in sides.items():
            got = one_round(checkout, a.data, a.prompts, a.compile, a.lang)
            t = got["times"]
            times[name] += t
            print(f"round {r + 1} {name}: first pass {got['first_s']:.1f} s, p50 {statistics.median(t):.1f} ms, "
                  f"p90 {sorted(t)[int(0.9 * len(t))]:.1f} ms", flush=True)
    p50 = {name: statistics.median(t) for name, t in times.items()}
    print(f"all rounds: base p50 {p50['base']:.1f} ms, this p50 {p50['this']:.1f} ms, this / base "
          f"{p50['this'] / p50['base']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
