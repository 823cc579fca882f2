"""Fit the confidence a candidate shows (core/confidence.py) and write it next to the model.

    python benchmarks/calibrate.py                      # the shipped model, 400 train prompts per language
    python benchmarks/calibrate.py --model DIR --langs bash --prompts 100
    python benchmarks/calibrate.py --check-test 200     # also print the fit's reliability on the first test items

The prompts are a fixed sample (seed 1) of each language's *train* split, never a test split;
the model retrieves from the shipped store without the prompt's own rows (LeaveOut), so no
candidate is its own reference copied. Each candidate of cf's default sampling (top-5, seed 0)
is one row: its features (core.confidence.features) and whether it is right (Bash: NL2Bash
template accuracy; CF: exact match; Python: sentence BLEU-4 >= 0.5). A logistic regression
(L2 0.01, torch's LBFGS) is fit on 80% of the prompts and its Brier score and calibration error
measured on the other 20%, then refit on all; ``calibration.json`` (written atomically) keeps
the weights and those figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {"bash": "template accuracy (the command's template is the reference's)",
           "cf": "exact match", "python": "sentence BLEU-4 >= 0.5"}
L2 = 0.01


def right(code: str, reference: str, lang: str) -> float:
    from core.metrics import exact_match, sentence_bleu, template_accuracy

    if lang == "bash":
        return float(template_accuracy(code, reference))
    if lang == "python":
        return float(sentence_bleu(code, reference) >= 0.5)
    return float(exact_match(code, reference))


def rows_for(pipe, items, lang: str, batch: int = 16) -> list[tuple[int, list[float], float]]:
    """(item index, features, right) for every candidate of every item."""
    out = []
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        results = pipe.generate_batch([it.nl for it in chunk], k=5, seed=start, lang=lang)
        for offset, (item, result) in enumerate(zip(chunk, results)):
            for cand in result.candidates:
                out.append((start + offset, list(cand.features), right(cand.code, item.reference, lang)))
    return out


def fit(xs: list[list[float]], ys: list[float]) -> list[float]:
    import torch

    x, y = torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y) + L2 * (w[1:] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return [round(float(v), 5) for v in w.detach()]


def reliability(weights: list[float], xs, ys, bins: int = 10) -> dict:
    """Brier score, expected calibration error (10 equal-width bins) and the base rate."""
    from core.confidence import Calibration

    cal = Calibration({"x": weights})
    ps = [cal.probability("x", row) for row in xs]
    brier = sum((p - y) ** 2 for p, y in zip(ps, ys)) / max(1, len(ys))
    ece = 0.0
    for b in range(bins):
        members = [(p, y) for p, y in zip(ps, ys) if b / bins <= p < (b + 1) / bins or (b == bins - 1 and p == 1)]
        if members:
            ece += len(members) / len(ys) * abs(sum(p for p, _ in members) / len(members)
                                                - sum(y for _, y in members) / len(members))
    return {"brier": round(brier, 4), "ece": round(ece, 4), "base_rate": round(sum(ys) / max(1, len(ys)), 4),
            "mean_confidence": round(sum(ps) / max(1, len(ps)), 4), "candidates": len(ys)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="codefusion-small")
    ap.add_argument("--langs", default="bash,python,cf")
    ap.add_argument("--prompts", type=int, default=400, help="train prompts per language")
    ap.add_argument("--data", default=None, help="data directory (default: where `cf data fetch` puts it)")
    ap.add_argument("--check-test", type=int, default=0, help="print the reliability on the first N test items")
    ap.add_argument("--dry-run", action="store_true", help="print the fit; write nothing")
    a = ap.parse_args()

    from cfcli.evaluate import load_items
    from core.confidence import CALIBRATION_FILE
    from core.generate import Pipeline
    from core.registry import resolve_model
    from core.retrieval import LeaveOut
    from core.retrieval.user import shipped_store

    directory = resolve_model(a.model)
    pipe = Pipeline.from_pretrained(directory, "cpu")
    pipe._calibration = None  # fit from the raw features, whatever is there now
    if pipe.cfg.retrieval:
        pipe.examples = LeaveOut(shipped_store())
    langs = [lang for lang in a.langs.split(",") if lang in pipe.cfg.langs]
    out = {"model": Path(directory).name, "fit_on": f"{a.prompts} train prompts per language (seed 1), "
           "leave-one-out retrieval; cf's default sampling, top-5, seed 0", "l2": L2,
           "features": ["1", "log(1 + rank)", "raw score", "example unchanged", "prompt words its example says",
                        "share of draws agreeing"], "langs": {}}
    for lang in langs:
        started = time.perf_counter()
        train = load_items(lang, "train", a.data)
        seen, unique = set(), []
        for it in train:
            if it.nl not in seen:
                seen.add(it.nl)
                unique.append(it)
        items = random.Random(1).sample(unique, min(a.prompts, len(unique)))
        rows = rows_for(pipe, items, lang)
        cut = int(0.8 * len(items))
        train_rows = [r for r in rows if r[0] < cut]
        held = [r for r in rows if r[0] >= cut]
        first = fit([r[1] for r in train_rows], [r[2] for r in train_rows])
        held_out = reliability(first, [r[1] for r in held], [r[2] for r in held])
        weights = fit([r[1] for r in rows], [r[2] for r in rows])
        entry = {"weights": weights, "right_means": TARGETS[lang], "held_out_20pct": held_out}
        if a.check_test:
            pipe_test = Pipeline.from_pretrained(directory, "cpu")
            pipe_test._calibration = None
            test = load_items(lang, "test", a.data)[: a.check_test]
            trows = rows_for(pipe_test, test, lang)
            entry["test_check"] = {"items": len(test), **reliability(weights, [r[1] for r in trows],
                                                                      [r[2] for r in trows])}
        out["langs"][lang] = entry
        print(f"{lang}: {json.dumps(entry)}  ({time.perf_counter() - started:.0f} s)", flush=True)
    if a.dry_run:
        return
    target = Path(directory) / CALIBRATION_FILE
    from core.atomic import atomic_write_bytes

    # Atomic, and readable like the model's other files (0644 under the usual umask).
    atomic_write_bytes(target, lambda p: p.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8"))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
