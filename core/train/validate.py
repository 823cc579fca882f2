"""Held-out validation during fine-tuning: sample the model on pairs it does not train on.

The training loss can fall while sampled code gets worse (docs/results.md, v1 and the no-dropout
runs), so `cf train --holdout N` keeps N prompts of each language out of training and, at every
save, samples 5 candidates for each with cf's default sampling and scores the first-ranked, as
`cf eval`'s top-1. The published splits have no dev split; the test split stays for `cf eval`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence

from core.metrics import normalized_edit_distance, sentence_bleu, syntax_valid, template_match

# Held-out rows are drawn with their own fixed seed, so a run and its resume hold out the same rows
# whatever the training --seed.
HOLDOUT_SEED = 1234
# The score said first for each language (the paper's metric where the pair is enough).
HEADLINE = {"bash": "template_match", "python": "bleu", "cf": "similarity"}


@dataclass
class HeldOut:
    """Per language: the prompts (untagged) kept out of training, and each one's references."""
    pairs: dict[str, tuple[list[str], list[list[str]]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(p) for p, _ in self.pairs.values())


def split_holdout(pairs: Sequence, n: int) -> tuple[list, list[str], list[list[str]]]:
    """(pairs to train on, n held-out prompts, their references) of one language's train split.
    The split repeats some prompts with other commands: every pair of a held-out prompt is held
    out, and they are all its references."""
    if n <= 0:
        return list(pairs), [], []
    by_prompt: dict[str, list[str]] = {}
    for p in pairs:
        by_prompt.setdefault(p.nl, []).append(p.code)
    prompts = sorted(by_prompt)
    random.Random(HOLDOUT_SEED).shuffle(prompts)
    held = set(prompts[:n])
    return [p for p in pairs if p.nl not in held], prompts[:n], [by_prompt[nl] for nl in prompts[:n]]


def score_top1(candidate: str, references: list[str], lang: str) -> dict[str, float]:
    """What one held-out sample is worth: the paper's metric where it needs no more than the
    pair (Bash template match, Python BLEU-4; CF's execution match needs the rule's table), a
    character similarity (1 - normalised edit distance) for every language, and syntax validity."""
    row = {"similarity": max(1.0 - normalized_edit_distance(candidate, r) for r in references),
           "valid": float(syntax_valid(candidate, lang))}
    if lang == "bash":
        row["template_match"] = template_match(candidate, references)
    elif lang == "python":
        row["bleu"] = sentence_bleu(candidate, references)
    return row


def validate(model, tokenizer, held: HeldOut, device, precision: str, batch: int = 16, k: int = 5,
             examples=None, valid_first: bool = True, **sampling) -> dict[str, dict[str, float]]:
    """Mean scores (in %) of each language's held-out top-1 (the first of k ranked candidates),
    sampled with seed 0 and cf's default sampling. Leaves the model in training mode.
    ``examples``: what a retrieval model retrieves from (core.retrieval.LeaveOut); ``sampling``:
    Pipeline.stream's options other than cf's defaults (benchmarks/retrieval_sweep.py)."""
    from core.generate import Pipeline

    pipe = Pipeline(model, tokenizer, device, precision=precision, owns_model=True, examples=examples)
    pipe.valid_first = valid_first
    scores: dict[str, dict[str, float]] = {}
    try:
        for lang, (prompts, references) in held.pairs.items():
            rows = []
            for i in range(0, len(prompts), batch):
                results = pipe.generate_batch(prompts[i:i + batch], k=k, seed=0, lang=lang, **sampling)
                rows += [score_top1(r.candidates[0].code if r.candidates else "", ref, lang)
                         for r, ref in zip(results, references[i:i + batch])]
            scores[lang] = {name: round(100 * sum(r[name] for r in rows) / len(rows), 2) for name in rows[0]}
            scores[lang]["n"] = len(rows)
    finally:
        model.train()
    return scores


def headline(scores: dict[str, dict[str, float]]) -> str:
    """"bash template match 35.2, python bleu 9.1, cf similarity 41.0"."""
    return ", ".join(f"{lang} {HEADLINE[lang].replace('_', ' ')} {s[HEADLINE[lang]]:.1f}" for lang, s in scores.items())
