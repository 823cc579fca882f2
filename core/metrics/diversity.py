"""Diversity among the top-k candidates of one prompt (CodeFusion paper, Table 2).

- Distinct n-grams, n = 1..4: the number of distinct token n-grams over all candidates
  divided by the number of tokens, as the paper states it (after Vijayakumar et al.,
  "Diverse Beam Search", AAAI 2018; "distinct-n" of Li et al., NAACL 2016).
- Pairwise edit distance: character Levenshtein distance of each pair divided by the
  longer string's length, averaged over all pairs.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import combinations
from typing import Callable, Literal, Sequence

_TOKEN = re.compile(r"\w+|[^\w\s]")  # words, and each punctuation / operator character


def code_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def distinct_ngrams(candidates: Sequence[str], max_n: int = 4, per: Literal["tokens", "ngrams"] = "tokens",
                    tokenize: Callable[[str], list[str]] = code_tokens) -> dict[int, float]:
    """{n: distinct n-grams over all candidates / total}; 0.0 where the total is 0.

    The paper divides by the number of tokens (after Vijayakumar et al.); ``per="ngrams"``
    divides by the number of n-grams instead. n-grams never cross candidate boundaries."""
    token_lists = [tokenize(c) for c in candidates]
    token_count = sum(len(t) for t in token_lists)
    ratios = {}
    for n in range(1, max_n + 1):
        grams: Counter = Counter(tuple(t[i:i + n]) for t in token_lists for i in range(len(t) - n + 1))
        total = token_count if per == "tokens" else sum(grams.values())
        ratios[n] = len(grams) / total if total else 0.0
    return ratios


def levenshtein(a: str, b: str) -> int:
    """Character edit distance (insertions, deletions, substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a  # keep the row as short as possible
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def normalized_edit_distance(a: str, b: str) -> float:
    longest = max(len(a), len(b))
    return levenshtein(a, b) / longest if longest else 0.0


def pairwise_edit_distance(candidates: Sequence[str]) -> float:
    """Mean normalised edit distance over all candidate pairs; 0.0 for fewer than two."""
    pairs = list(combinations(candidates, 2))
    if not pairs:
        return 0.0
    return sum(normalized_edit_distance(a, b) for a, b in pairs) / len(pairs)
