"""Can a better order of the retrieved examples lift Bash's top-1 above the lookup table's?

    python benchmarks/bash_rerank.py --data ../shared/data/codefusion [--split test|train] [--limit N]
        [--model codefusion-small --model-items 400]
    python benchmarks/bash_rerank.py --lexicon | --candidates --data ../shared/data/codefusion

Lookup tables only (no model), each the codes of train rows, top-1 / top-5:
- bm25: the store's bm25 order (cf eval --baseline lookup);
- tfidf-words / tfidf-chars: bm25's 100 nearest re-ordered by TF-IDF cosine of the prompts
  (words; character 3-5-grams mixed with the bm25 rank);
- consensus: bm25's 10 nearest re-ordered by how much each code's template agrees with the
  others' (weighted by rank), plus its own rank weight (a minimum-Bayes-risk choice).
``--split train`` scores 800 random train prompts against the store without their own rows.
``--lexicon`` chooses core/retrieval/rerank.py's weights: its tables learned from the train split
less 800 held-out prompts, weights found by coordinate ascent (``ascend``) on those prompts' bm25
pools (POOL nearest, or ``--pool N``, without their own rows), beside the shipped weights; then
both on the test split's pools (lookup tables: the first 5 of the re-ordered pool).
``--candidates [--model NAME]`` chooses the weights of the retrieval model's candidates: the
model on those held-out prompts, its candidates re-ordered with a few rank weights.
``--model NAME`` also orders the retrieval model's 5 examples by its own denoising loss (the
cross-entropy of rebuilding each example's code from noise at 20% and 50% of the schedule,
reading the prompt and that example), on the first ``--model-items`` test items.
Prints Bash template match, exact match, template accuracy (top-1), template match and exact
match (top-5), in percent.
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import re
import sys
from collections import Counter
from dataclasses import astuple
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@functools.lru_cache(None)
def bag(code: str) -> Counter:
    from core.metrics.bash import bash_template

    return Counter(bash_template(code))


def scores(codes: list[str], ref: str) -> tuple[float, ...]:
    """Top-1 template match, exact match, template accuracy; top-5 template match, exact match."""
    from core.metrics.bash import _cosine
    from core.metrics.exact import exact_match

    tm = [_cosine(bag(c), bag(ref)) for c in codes[:5]] or [0.0]
    em = [float(exact_match(c, ref)) for c in codes[:5]] or [0.0]
    ta = float(bool(codes) and bool(bag(codes[0])) and bag(codes[0]) == bag(ref))
    return tm[0], em[0], ta, max(tm), max(em)


def main() -> int:
    from cfcli.evaluate import load_items
    from core.metrics.bash import _cosine
    from core.retrieval.user import shipped_store

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="the published data folder")
    p.add_argument("--split", choices=("test", "train"), default="test")
    p.add_argument("--limit", type=int, help="the first N items only")
    p.add_argument("--model", help="also order a retrieval model's examples by its denoising loss")
    p.add_argument("--model-items", type=int, default=400)
    p.add_argument("--lexicon", action="store_true", help="choose the re-ranking weights (see above)")
    p.add_argument("--candidates", action="store_true", help="choose the candidates' rank weight (see above)")
    p.add_argument("--pool", type=int, help="--lexicon: pools of this many (default: rerank.POOL)")
    a = p.parse_args()
    if a.lexicon:
        return lexicon_study(a.data, a.pool)
    if a.candidates:
        return candidate_study(a.data, a.model or "codefusion-small")

    store = shipped_store()
    items = load_items("bash", a.split, a.data)
    if a.split == "train":
        items = random.Random(0).sample(items, 800)
    items = items[: a.limit]
    rows = [e for e in store.all_rows() if e.lang == "bash" and e.source == "train"]

    words = lambda t: re.findall(r"[^\W_]+", t.lower())  # noqa: E731

    def features(text: str, kind: str) -> Counter:
        w = words(text)
        if kind == "words":
            return Counter(w)
        s = " " + " ".join(w) + " "
        return Counter(s[i:i + n] for n in (3, 4, 5) for i in range(len(s) - n + 1))

    df = {kind: Counter() for kind in ("words", "chars")}
    for r in rows:
        for kind in df:
            df[kind].update(set(features(r.nl, kind)))

    def vector(text: str, kind: str) -> dict:
        v = {x: (1 + math.log(c)) * (math.log((len(rows) + 1) / (df[kind].get(x, 0) + 1)) + 1)
             for x, c in features(text, kind).items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {x: y / norm for x, y in v.items()}

    def distinct(order) -> list[str]:
        out: list[str] = []
        for e in order:
            if e.code not in out:
                out.append(e.code)
        return out

    table: dict[str, list[tuple[float, ...]]] = {}
    for it in items:
        exclude = it.nl if a.split == "train" else None
        found = store.search(it.nl, "bash", 100, exclude_nl=exclude, sources=["train"], distinct_code=False)
        if not found:
            continue
        rank = {e.id: i for i, e in enumerate(found)}
        variants = {"bm25": distinct(found)}
        for kind in ("words", "chars"):
            q = vector(it.nl, kind)
            sim = {}
            for e in found:
                v = vector(e.nl, kind)
                sim[e.id] = sum(w * v.get(x, 0.0) for x, w in q.items())
            mix = 0.0 if kind == "words" else 0.5  # characters alone were worse than bm25 on both splits
            variants[f"tfidf-{kind}"] = distinct(sorted(found, key=lambda e: -(sim[e.id] + mix / (1 + rank[e.id]) ** 0.5)))
        near = variants["bm25"][:10]
        weight = [1.0 / (1 + j) for j in range(len(near))]
        agree = [sum(weight[j] * _cosine(bag(c), bag(d)) for j, d in enumerate(near) if j != i) + weight[i]
                 for i, c in enumerate(near)]
        variants["consensus"] = [near[i] for i in sorted(range(len(near)), key=lambda i: -agree[i])]
        for name, codes in variants.items():
            table.setdefault(name, []).append(scores(codes, it.reference))
    if a.model:
        table.update(model_order(a.model, load_items("bash", "test", a.data)[: a.model_items]))
    print(f"{'bash, ' + a.split:24} {'TM@1':>6} {'EM@1':>6} {'TA@1':>6} {'TM@5':>6} {'EM@5':>6}  items")
    for name, rows_ in table.items():
        means = [100 * sum(r[i] for r in rows_) / len(rows_) for i in range(5)]
        print(f"{name:24} " + " ".join(f"{m:6.1f}" for m in means) + f"  {len(rows_)}")
    return 0


def held_out(data: str | None):
    """800 train prompts (their first item each) and re-ranking tables learned without them."""
    from cfcli.evaluate import load_items
    from core.retrieval.rerank import Lexicon

    train = load_items("bash", "train", data)
    held = set(random.Random(1).sample(sorted({it.nl for it in train}), 800))
    lexicon = Lexicon.learned("bash", [(it.nl, it.reference) for it in train if it.nl not in held])
    first = {}
    for it in train:
        if it.nl in held:
            first.setdefault(it.nl, it)
    return list(first.values()), lexicon


def lexicon_study(data: str | None, pool: int | None = None) -> int:
    from cfcli.evaluate import load_items
    from core.retrieval.rerank import POOL, WEIGHTS, Weights, ranked
    from core.retrieval.user import shipped_store

    pool = pool or POOL
    store = shipped_store()
    held, lexicon = held_out(data)

    def pools(items, leave_out: bool):
        out = []
        for it in items:
            codes = [e.code for e in store.search(it.nl, "bash", pool, exclude_nl=it.nl if leave_out else None,
                                                  sources=["train"])]
            if codes:
                out.append((it.reference, codes, lexicon.features(it.nl, codes)))
        return out

    def mean(rows, w: Weights) -> list[float]:
        scored = [scores([codes[j] for j in ranked(f, w)], ref) for ref, codes, f in rows]
        return [100 * sum(r[i] for r in scored) / len(scored) for i in range(5)]

    heldout = pools(held, leave_out=True)
    objective = lambda m: m[0] + EXACT * m[1] + m[2]  # noqa: E731
    found = ascend(lambda w: objective(mean(heldout, w)), Weights(0.5, 2, 1, 2, 1, 0, 0))
    bm25 = Weights(0, 0, 1, 0, 0, 0, 0)
    head = f"{'':60} {'TM@1':>6} {'EM@1':>6} {'TA@1':>6} {'TM@5':>6} {'EM@5':>6}"
    print(f"held-out train prompts ({len(heldout)}), pools of {pool}, weights by coordinate ascent on TM@1 + "
          f"{EXACT} EM@1 + TA@1 (found: {objective(mean(heldout, found)):.1f})\n{head}")
    for name, w in (("bm25", bm25), (f"shipped {tuple(astuple(WEIGHTS))}", WEIGHTS),
                    (f"found {tuple(astuple(found))}", found)):
        print(f"{name:60} " + " ".join(f"{x:6.1f}" for x in mean(heldout, w)))
    test = pools(load_items("bash", "test", data), leave_out=False)
    print(f"test split ({len(test)}), lookup tables\n{head}")
    for name, w in (("bm25", bm25), (f"re-ordered, shipped weights {tuple(astuple(WEIGHTS))}", WEIGHTS),
                    (f"re-ordered, found weights {tuple(astuple(found))}", found)):
        print(f"{name:60} " + " ".join(f"{x:6.1f}" for x in mean(test, w)))
    return 0


EXACT = 3  # exact match counts three times in the objective: the figure the lookup table led on
STEPS = (-2, -1, -0.5, -0.25, 0.25, 0.5, 1, 2)


def ascend(objective, start, rounds: int = 4):
    """Coordinate ascent: each weight in turn moved by each of STEPS while that gains more than
    0.05; stops after a round with no gain."""
    import dataclasses

    best, value = start, objective(start)
    for _ in range(rounds):
        moved = False
        for field in dataclasses.fields(best):
            for step in STEPS:
                w = dataclasses.replace(best, **{field.name: getattr(best, field.name) + step})
                v = objective(w)
                if v > value + 0.05:
                    best, value, moved = w, v, True
        if not moved:
            break
    return best


def candidate_study(data: str | None, model: str) -> int:
    """The retrieval model on the held-out prompts (searching without their own rows, with tables
    learned without them), its candidates in the order of the examples they edit, then re-ordered
    with each rank weight of a few (core/retrieval/rerank.py's CANDIDATE_WEIGHTS)."""
    import dataclasses

    from cfcli.evaluate import generate_candidates
    from core.generate import DEFAULT_SAMPLER, Pipeline, default_early_stop, default_shrink, default_steps
    from core.retrieval.rerank import CANDIDATE_WEIGHTS, WEIGHTS
    from core.retrieval.user import shipped_store

    held, lexicon = held_out(data)

    class HeldOut:  # the shipped rows less the prompt's own, and the held-out tables
        def __init__(self, store):
            self.store = store

        def retrieve(self, prompt: str, lang: str, k: int):
            return self.store.retrieve(prompt, lang, k, exclude_nl=prompt)

        def lexicon(self, lang: str):
            return lexicon if lang == "bash" else None

    pipe = Pipeline.from_pretrained(model, "cpu", "bash", examples=HeldOut(shipped_store()))
    pipe.reorder_candidates = False
    candidates = generate_candidates(pipe, [it.nl for it in held], top_k=5, steps=default_steps(pipe.cfg), seed=0,
                                     batch=16, sampler=DEFAULT_SAMPLER, early_stop=default_early_stop(None, "decoder"),
                                     clamp="decoder", rounding="decoder", shrink=default_shrink(None, "decoder"))
    print(f"{model} on held-out train prompts ({len(held)}), candidates re-ordered with rank weight"
          f" (shipped: {CANDIDATE_WEIGHTS.rank})\n{'':24} {'TM@1':>6} {'EM@1':>6} {'TA@1':>6} {'TM@5':>6} {'EM@5':>6}")
    rows = {"examples' order": [scores(c, it.reference) for it, c in zip(held, candidates)]}
    for rank in (0.5, 1, 1.5, 2, 3):
        w = dataclasses.replace(WEIGHTS, rank=rank)
        rows[f"rank {rank}"] = [scores([c[j] for j in lexicon.order(it.nl, c, w)] if c else [], it.reference)
                                for it, c in zip(held, candidates)]
    for name, r in rows.items():
        print(f"{name:24} " + " ".join(f"{100 * sum(x[i] for x in r) / len(r):6.1f}" for i in range(5)))
    return 0


def model_order(model: str, items) -> dict[str, list[tuple[float, ...]]]:
    """The retrieval model's 5 examples in bm25 order, and ordered by the model's denoising loss."""
    import torch
    import torch.nn.functional as F

    from core.generate import Pipeline
    from core.retrieval.user import shipped_store

    pipe = Pipeline.from_pretrained(model, "cpu", lang="bash", precision="fp32", examples=shipped_store())
    m, steps = pipe.model, pipe.cfg.diffusion_steps
    gen = torch.Generator().manual_seed(0)
    out: dict[str, list[tuple[float, ...]]] = {}
    with torch.inference_mode():
        for it in items:
            ids, mask, codes, found, _ = pipe._retrieve([it.nl], pipe._literals([it.nl]), "bash", 5)
            texts = [e.code for e in found[0]]
            dn, dec = m.cross(m.encode(ids, mask), mask)
            x0 = m.embed(codes).float()
            loss = torch.zeros(len(codes))
            for frac in (0.2, 0.5):
                t = torch.full((len(codes),), round(frac * (steps - 1)), dtype=torch.long)
                x_t = m.scheduler.add_noise(x0, torch.randn(x0.shape, generator=gen), t)
                logits = m.logits(m.decode(m.denoise(x_t, t, dn, x0), dec)).float()
                keep = m.scored_positions(codes)
                ce = F.cross_entropy(logits.transpose(1, 2), codes, reduction="none")
                loss += (ce * keep).sum(1) / keep.sum(1)
            order = sorted(range(len(texts)), key=lambda j: loss[j].item())
            out.setdefault("model: examples, bm25", []).append(scores(texts, it.reference))
            out.setdefault("model: examples, by loss", []).append(scores([texts[j] for j in order], it.reference))
    return out


if __name__ == "__main__":
    sys.exit(main())
