"""What a user reads beside a candidate instead of the model's raw score: how likely it is right,
and where it came from.

The raw score (``Candidate.score``) is a mean log-probability with a +3 copy bonus inside: 2.99
on nearly every row, and it means nothing to a person. ``Calibration`` turns what is known of a
candidate into a probability, by logistic regression fit on held-out *train* prompts (never a
test split) with ``benchmarks/calibrate.py``, which writes the fitted constants next to the
model's weights (``calibration.json``; the shipped model's are in
core/assets/models/codefusion-small/). What "right" means is the language's: Bash, the
command's template (utilities, flags, structure: NL2Bash's template accuracy); CF, the rule
exactly; Python, sentence BLEU-4 of at least 0.5 against the reference (an exact match is rare
in CoNaLa even for a good answer).

The features of candidate i (0-based rank, as shown): log(1 + i); its raw score; whether it is
its retrieved example unchanged; how much of the prompt its example's prompt says (the share of
the prompt's words); the share of the k draws whose template is its own (the draws agreeing). Shown confidences never rise down the list (each is at most the one above it), so
the numbers and the order agree; the fit's held-out figures are in the file and in
docs/results.md.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

CALIBRATION_FILE = "calibration.json"
_LITERAL = re.compile(r"-?\d+(?:\.\d+)?%?|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")
# Where each language's train rows come from, as a user would name them.
TRAIN_SOURCE = {"bash": "NL2Bash", "python": "CoNaLa", "cf": "the CF rules set"}


def features(rank: int, score: float, example, code: str, prompt: str, agreement: float) -> list[float]:
    """A candidate's inputs to the fit: 1, log(1 + rank), the raw score, whether it is its example
    unchanged, the share of the prompt's words its example's prompt has, and the share of draws
    that agreed with it. ``example``: the retrieved row it edits (None without retrieval)."""
    copied = example is not None and " ".join(example.code.split()) == " ".join(code.split())
    overlap = 0.0
    if example is not None:
        asked = set(_words(prompt))
        overlap = len(asked & set(_words(example.nl))) / max(1, len(asked))
    return [1.0, math.log1p(rank), score, float(copied), overlap, agreement]


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def draw_key(code: str, lang: str) -> tuple:
    """A code's template, what two draws must share to agree: Bash's NL2Bash template, else the
    code with its numbers and quoted strings as placeholders, up to spacing."""
    if lang == "bash":
        from core.metrics import bash_template

        return tuple(bash_template(code))
    return tuple(_LITERAL.sub("_", code).split())


def agreement(codes: Sequence[str], lang: str) -> dict[str, float]:
    """For each distinct code among a prompt's draws, the share of draws with its key."""
    keys = [draw_key(c, lang) for c in codes]
    n = max(1, len(codes))
    return {c: sum(k == key for k in keys) / n for c, key in zip(codes, keys)}


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, list[float]]  # lang -> logistic regression weights over ``features``

    @classmethod
    def load(cls, model_dir: str | Path) -> "Calibration | None":
        path = Path(model_dir) / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            return cls({lang: [float(w) for w in fit["weights"]] for lang, fit in data["langs"].items()})
        except (OSError, ValueError, KeyError, TypeError):  # a broken file: no confidences, never a crash
            return None

    def probability(self, lang: str, row: Sequence[float]) -> float | None:
        w = self.weights.get(lang)
        if w is None:
            return None
        z = sum(a * b for a, b in zip(w, row))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def in_rank_order(confidences: Sequence[float | None]) -> list[float | None]:
    """Each at most the one above it (a running minimum), rounded to a percent."""
    out, floor = [], 1.0
    for c in confidences:
        if c is None:
            out.append(None)
            continue
        floor = min(floor, c)
        out.append(round(floor, 2))
    return out


def origin(example, code: str, lang: str) -> str:
    """Where a candidate came from, for a person: "your example", "tldr: tar", "edited from
    NL2Bash", … ``example``: the retrieved row it was sampled from (core.retrieval.Example, or a
    dict with its fields), None for a model that retrieves nothing."""
    if example is None:
        return "the model"
    get = example.get if isinstance(example, dict) else lambda name, default="": getattr(example, name, default)
    source, ref = get("source", ""), get("ref", "") or ""
    if source == "user":
        name = "your example"
    elif source == "tldr":
        page = ref.removeprefix("tldr:").split("#", 1)[0].rsplit("/", 1)[-1]
        name = f"tldr: {page}" if page else "tldr-pages"
    elif source == "docs":
        page = ref.removeprefix("docs:")
        if page.startswith("man/"):
            name = f"the {page.split('/', 1)[-1]} man page"
        elif page.startswith("python/"):
            name = f"Python's docs: {page.split('/', 1)[-1]}"
        else:
            name = f"tldr: {page.rsplit('/', 1)[-1]} (the page's description)"
    elif source == "django":
        name = "Django"
    else:
        name = TRAIN_SOURCE.get(lang, "the examples")
    unchanged = " ".join(get("code", "").split()) == " ".join(code.split())
    if source == "user":
        return name if unchanged else "edited from your example"
    return name if unchanged else f"edited from {name}"
