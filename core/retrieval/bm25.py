"""bm25 as FTS5 computes it, from the store's own postings: the same scores without SQLite.

A prompt's common words ("a", "the", "file") match about 41,000 of the shipped store's 48,882
rows, and FTS5 joins each to its row and scores it, once for each of the pool's queries (curated,
tldr and documentation rows, and the matcher's guessed tools): about 90 ms of a 230 ms prompt on
2 cores. Here the postings (each term's rows and counts, each row's length in tokens) are read
once from the store, where ``create`` keeps them (``BLOB``, from FTS5's own vocabulary, so its
tokenizer's terms), and a prompt's scores are one pass over its terms' postings: every matched
row scored once, in a few milliseconds, for every query of the prompt.

The arithmetic is FTS5's (ext/fts5/fts5_aux.c, ``fts5Bm25Function``): the same expression in the
same order, phrase by phrase, in double precision, so the scores are FTS5's to the last bit (the
tests compare them). Rows of equal score come in id order (SQLite leaves ties unordered).
"""

from __future__ import annotations

import io
import math
import sqlite3
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

BLOB = "bm25-postings"
K1, B = 1.2, 0.75  # FTS5's constants


def build(con: sqlite3.Connection) -> bytes:
    """The postings of a store's FTS5 index (``examples_fts``) and each row's language, source and
    tool, as one blob (``np.savez``: arrays only, read without pickle)."""
    con.execute("CREATE VIRTUAL TABLE temp.cf_instances USING fts5vocab(main, examples_fts, instance)")
    try:
        instances = con.execute("SELECT term, doc FROM temp.cf_instances").fetchall()
    finally:
        con.execute("DROP TABLE temp.cf_instances")
    rows = con.execute("SELECT id, lang, source, tool FROM examples ORDER BY id").fetchall()
    size = (rows[-1][0] + 1) if rows else 1
    terms = sorted({t for t, _ in instances})
    term_index = {t: i for i, t in enumerate(terms)}
    term_ids = np.fromiter((term_index[t] for t, _ in instances), dtype=np.int64, count=len(instances))
    docs = np.fromiter((d for _, d in instances), dtype=np.int64, count=len(instances))
    # One posting per (term, row), its count of instances; by term, then row.
    pairs, tf = np.unique(term_ids * size + docs, return_counts=True)
    starts = np.searchsorted(pairs // size, np.arange(len(terms) + 1))
    lengths = np.bincount(docs, minlength=size)
    columns = {"lang": 1, "source": 2, "tool": 3}
    names = {kind: sorted({r[col] for r in rows}) for kind, col in columns.items()}
    codes = {}
    for kind, col in columns.items():
        code_of = {name: i for i, name in enumerate(names[kind])}
        codes[kind] = np.full(size, -1, dtype=np.int32)
        codes[kind][[r[0] for r in rows]] = [code_of[r[col]] for r in rows]
    out = io.BytesIO()
    np.savez(out, terms=_joined(terms), starts=starts.astype(np.int64), docs=(pairs % size).astype(np.int32),
             tf=tf.astype(np.int32), lengths=lengths.astype(np.int64), lang=codes["lang"], source=codes["source"],
             tool=codes["tool"], lang_names=_joined(names["lang"]), source_names=_joined(names["source"]),
             tool_names=_joined(names["tool"]),
             tokens=np.array([lengths.sum()], dtype=np.int64), stamp=np.array(stamp(con), dtype=np.int64))
    return out.getvalue()


def stamp(con: sqlite3.Connection) -> list[int]:
    """What the blob must agree with: the FTS rows, the rows and the sum of their ids (a store
    whose rows were deleted after it was built, as the held-out stores are, reads FTS5)."""
    n_rows, = con.execute("SELECT count(*) FROM examples_fts_docsize").fetchone()
    count, ids = con.execute("SELECT count(*), coalesce(sum(id), 0) FROM examples").fetchone()
    return [n_rows, count, ids]


def _joined(words: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)


def _split(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8")
    return text.split("\n") if text else []


@dataclass
class Postings:
    terms: dict[str, int]
    starts: np.ndarray
    docs: np.ndarray
    tf: np.ndarray
    lengths: np.ndarray  # a row's length in tokens, by id
    lang: np.ndarray  # codes into lang_names, by id (-1: no row)
    source: np.ndarray
    tool: np.ndarray
    lang_names: list[str]
    source_names: list[str]
    tool_names: list[str]
    n_rows: int
    n_tokens: int

    @classmethod
    def load(cls, blob: bytes, con: sqlite3.Connection) -> "Postings | None":
        """The blob's postings, or None where the store's rows are no longer those it was built from."""
        z = np.load(io.BytesIO(blob), allow_pickle=False)
        kept = z["stamp"].tolist()
        if kept != stamp(con):
            return None
        return cls({t: i for i, t in enumerate(_split(z["terms"]))}, z["starts"], z["docs"], z["tf"].astype(np.float64),
                   z["lengths"].astype(np.float64), z["lang"], z["source"], z["tool"], _split(z["lang_names"]),
                   _split(z["source_names"]), _split(z["tool_names"]), kept[0], int(z["tokens"][0]))

    def scores(self, phrases: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(the ids of the rows some phrase matches, best first; their bm25 as FTS5 gives it, lower
        is nearer). ``phrases``: the query's terms, one a phrase, in the query's order."""
        avgdl = float(self.n_tokens) / float(self.n_rows)
        docs, weights = [], []
        for term in phrases:
            i = self.terms.get(term)
            if i is None:
                continue  # no row has it: every row's frequency of it is 0, and score += 0.0
            a, b = int(self.starts[i]), int(self.starts[i + 1])
            rows, f = self.docs[a:b], self.tf[a:b]
            idf = math.log((float(self.n_rows - (b - a)) + 0.5) / ((b - a) + 0.5))
            if idf <= 0.0:
                idf = 1e-6
            weights.append(idf * ((f * (K1 + 1.0)) / (f + K1 * ((1 - B) + B * self.lengths[rows] / avgdl))))
            docs.append(rows)
        if not docs:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows = np.concatenate(docs)
        # Summed phrase by phrase, in the query's order, from 0.0 (bincount adds in input order).
        total = np.bincount(rows, weights=np.concatenate(weights), minlength=len(self.lengths))
        matched = np.flatnonzero(np.bincount(rows, minlength=len(self.lengths)))
        s = -1.0 * total[matched]
        order = np.lexsort((matched, s))
        return matched[order], s[order]

    def keep(self, ids: np.ndarray, lang: str, sources=None, tools=None) -> np.ndarray:
        """Which of the rows ``ids`` are of ``lang`` and, where given, of one of ``sources`` and
        ``tools`` (a query's WHERE)."""
        def codes(known: list[str], names) -> np.ndarray:
            return np.array([known.index(n) for n in names if n in known], dtype=np.int32)

        mask = np.isin(self.lang[ids], codes(self.lang_names, [lang]))
        if sources:
            mask &= np.isin(self.source[ids], codes(self.source_names, sources))
        if tools is not None:
            mask &= np.isin(self.tool[ids], codes(self.tool_names, tools))
        return mask


_TOKENIZER = "porter unicode61"  # the store's FTS5 table's (store.SCHEMA)


@lru_cache(maxsize=4096)
def term_of(word: str) -> str | None:
    """The FTS5 term of a query's word (``store.fts_query``'s words: one token each), by FTS5's
    own tokenizer; None where it is not exactly one token."""
    con, lock = _tokenizer()
    with lock:
        con.execute("DELETE FROM q")
        con.execute("INSERT INTO q VALUES (?)", [word])
        found = con.execute("SELECT term FROM qv").fetchall()
    return found[0][0] if len(found) == 1 else None


@lru_cache(maxsize=1)
def _tokenizer() -> tuple[sqlite3.Connection, threading.Lock]:
    con = sqlite3.connect(":memory:", check_same_thread=False)
    con.execute(f"CREATE VIRTUAL TABLE q USING fts5(x, tokenize='{_TOKENIZER}')")
    con.execute("CREATE VIRTUAL TABLE qv USING fts5vocab(q, instance)")
    return con, threading.Lock()
