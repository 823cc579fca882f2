"""A store without some of its rows: what a benchmark's held-out prompts retrieve from.

``cf eval --bench tldr`` holds out 10% of tldr-pages by page (core/data/tldr.py). Their example
rows leave the store as if it had been built without them: a copy of the store with those rows
deleted (bm25's statistics then come from the rows that are left), opened read-only. The
ranking code is the store's own, unchanged; the re-ranking tables are copied as they are (they
are learned from the train splits only: core/retrieval/build.py), and so is the tool matcher,
which never learned from the held-out pages' examples; the tools' documentation rows stay.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.retrieval.store import ExampleStore, keep_postings


def without_tldr_held_out(store: ExampleStore, dest: str | Path) -> tuple[ExampleStore, int]:
    """A copy of ``store`` at ``dest`` without the held-out tldr pages' rows; (the copy, the count
    of rows removed)."""
    from core.data.tldr import held_out

    dest = Path(dest)
    dest.unlink(missing_ok=True)
    con = sqlite3.connect(dest)
    try:
        store._con.backup(con)
        con.create_function("held_out", 1, held_out, deterministic=True)
        removed = con.execute("DELETE FROM examples WHERE source = 'tldr' AND held_out(ref)").rowcount
        keep_postings(con)
        con.commit()
    finally:
        con.close()
    return ExampleStore(dest), removed
