"""Exact match, whitespace-normalised (all languages)."""

from __future__ import annotations

from typing import Sequence


def normalize_ws(code: str) -> str:
    return " ".join(code.split())


def exact_match(candidate: str, reference: str) -> bool:
    """Equal after whitespace normalisation."""
    return bool(candidate.strip()) and normalize_ws(candidate) == normalize_ws(reference)


def top_k_hits(candidates: Sequence[str], reference: str, ks: Sequence[int] = (1, 3, 5)) -> dict[int, bool]:
    """For each k: does any of the first k ranked candidates match exactly?"""
    hits = [exact_match(c, reference) for c in candidates]
    return {k: any(hits[:k]) for k in ks}
