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


def tldr_rows(tarball: str | Path) -> Iterator[tuple[str, str, str, str, str]]:
    from core.data.tldr import load_tldr

    for p in load_tldr(tarball):
        yield "bash", p.nl, p.code, "tldr", p.id


def build_store(out: str | Path, data: str | Path | None = None, tldr: str | Path | None = None,
                lexicon: bool = True) -> dict[str, int]:
    """Build the store at ``out`` from the train splits in ``data`` (cf data fetch's folder by
    default) and, when given, the tldr-pages tarball, with the re-ranking tables learned from the
    train splits (``lexicon``; about 40 s). Returns the row count of each source."""
    from core.retrieval.rerank import LEXICON_LANGS, lexicon_rows

    rows = list(train_rows(data))
    tables = [r for lang in (LEXICON_LANGS if lexicon else ())
              for r in lexicon_rows(lang, [(nl, code) for lg, nl, code, _, _ in rows if lg == lang])]
    if tldr:
        rows += list(tldr_rows(tldr))
    create(out, rows, {"version": STORE_VERSION, "sources": "train" + (",tldr" if tldr else "")}, tables)
    counts: dict[str, int] = {}
    from core.retrieval.store import ExampleStore

    store = ExampleStore(out)
    for source in ("train", "tldr"):
        counts[source] = store.count(source=source)
    store.close()
    return counts
