"""Choose a retrieval model's sampling on prompts it never trained on: the run's held-out prompts
(`cf train --holdout N`), each retrieving from the store without its own rows.

    python benchmarks/retrieval_sweep.py runs/retrieval-v4 --data ../shared/data/codefusion \
        --strength 0.2,0.3,0.4 --steps 2,3,5 --sampler dpm++,ddim --out docs/results/retrieval-sweep.json

Prints one line per setting: held-out top-1 of each language (Bash template match, Python BLEU,
CF character similarity) and how many top-1 candidates parse. The test splits stay for cf eval.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from core.checkpoint import load_model, read_config
    from core.data import load_pairs
    from core.retrieval import ExampleStore, LeaveOut
    from core.retrieval.user import shipped_store_path
    from core.train.validate import HeldOut, score_top1, split_holdout, validate

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a training run's folder (its state.json says the holdout)")
    p.add_argument("--data", help="the published data folder")
    p.add_argument("--store", type=Path, default=None, help="the example store (default: the shipped one)")
    p.add_argument("--strength", default="0.3")
    p.add_argument("--steps", default="3")
    p.add_argument("--sampler", default="dpm++")
    p.add_argument("--valid-first", default="1", help="1, 0 or 0,1: candidates that parse ranked first")
    p.add_argument("--copy-bias", default="0", help="nats added to the example's token when rounding")
    p.add_argument("--out", type=Path)
    a = p.parse_args()

    state = json.loads((a.run / "train_state" / "state.json").read_text())
    holdout = state["args"]["holdout"]
    langs = read_config(a.run)["model"]["langs"]
    held = HeldOut({lang: tuple(split_holdout(load_pairs(lang, "train", a.data), holdout)[1:]) for lang in langs})
    examples = LeaveOut(ExampleStore(a.store or shipped_store_path()))
    # The floor on the same prompts: the nearest example's code itself, as the model retrieves it.
    floor = {}
    for lang, (prompts, references) in held.pairs.items():
        scored = [score_top1(examples.retrieve(p, lang, 1)[0].code, ref, lang) for p, ref in zip(prompts, references)]
        floor[lang] = {k: round(100 * sum(r[k] for r in scored) / len(scored), 2) for k in scored[0]}
    print(json.dumps({"lookup": floor}), flush=True)
    rows = []
    for strength, steps, sampler, valid_first, bias in itertools.product(
            [float(x) for x in a.strength.split(",")], [int(x) for x in a.steps.split(",")], a.sampler.split(","),
            [x == "1" for x in a.valid_first.split(",")], [float(x) for x in a.copy_bias.split(",")]):
        started = time.perf_counter()
        model, tok, _ = load_model(a.run, "cpu")  # int8 quantises it in place: a fresh copy per setting
        scores = validate(model, tok, held, "cpu", "int8", examples=examples, valid_first=valid_first,
                          strength=strength, steps=steps, sampler=sampler, copy_bias=bias)
        row = {"strength": strength, "steps": steps, "sampler": sampler, "valid_first": valid_first,
               "copy_bias": bias, "scores": scores,
               "seconds": round(time.perf_counter() - started, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.out:
        a.out.write_text(json.dumps({"run": a.run.name, "step": state["step"], "holdout": holdout, "lookup": floor,
                                     "rows": rows},
                                    indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
