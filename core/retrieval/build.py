"""What goes into the shipped example store, and the command that builds it.

The published train splits (never the test splits) and tldr-pages' common and linux pages; the
Django lines only when asked (``include_django``: docs/results.md says why they are left out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from core.config import LANGS
from core.retrieval.store import create

STORE_VERSION = "3"  # 2: the lexicon table (core/retrieval/rerank.py); 3: its tables of command words


def train_rows(data: str | Path | None = None) -> Iterator[tuple[str, str, str, str, str]]:
    from core.data import load_pairs

    for lang in LANGS:
        for p in load_pairs(lang, "train", data):
            yield lang, p.nl, p.code, "train", f"{lang}:{p.id}"


def tldr_rows(tarball: str | Path, hold_out: bool = False) -> Iterator[tuple[str, str, str, str, str]]:
    """``hold_out``: without the held-out pages' examples (core/data/tldr.py, ``cf eval --bench tldr``)."""
    from core.data.tldr import held_out, load_tldr

    for p in load_tldr(tarball):
        if not (hold_out and held_out(p.id)):
            yield "bash", p.nl, p.code, "tldr", p.id


def build_store(out: str | Path, data: str | Path | None = None, tldr: str | Path | None = None,
                lexicon: bool = True, hold_out_tldr: bool = False) -> dict[str, int]:
    """Build the store at ``out`` from the train splits in ``data`` (cf data fetch's folder by
    default) and, when given, the tldr-pages tarball, with the re-ranking tables learned from the
    train splits (``lexicon``; about 40 s). Returns the row count of each source. ``hold_out_tldr``:
    without the held-out tldr pages' examples, for a model trained to be checked on
    ``cf eval --bench tldr`` (``cf train --retrieval --store`` reads tldr rows only from its store)."""
    from core.retrieval.rerank import LEXICON_LANGS, lexicon_rows

    rows = list(train_rows(data))
    tables = [r for lang in (LEXICON_LANGS if lexicon else ())
              for r in lexicon_rows(lang, [(nl, code) for lg, nl, code, _, _ in rows if lg == lang])]
    if tldr:
        rows += list(tldr_rows(tldr, hold_out_tldr))
    sources = "train" + (",tldr" if tldr else "") + (" (held-out pages left out)" if tldr and hold_out_tldr else "")
    create(out, rows, {"version": STORE_VERSION, "sources": sources}, tables)
    counts: dict[str, int] = {}
    from core.retrieval.store import ExampleStore

    store = ExampleStore(out)
    for source in ("train", "tldr"):
        counts[source] = store.count(source=source)
    store.close()
    return counts
