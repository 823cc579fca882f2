"""The example store: ``(lang, nl, code, source)`` rows in SQLite, searched with FTS5's bm25.

Two databases, one schema:
- the shipped store (package data, ``core/assets/examples.sqlite``): the published train splits
  and tldr-pages, built by ``cf examples build`` and opened read-only (``immutable``);
- the user's store (``user-examples.sqlite`` in the user data dir): ``cf examples add`` and the
  picks accepted in the picker and the shell. An upgrade replaces the package, never this file.

bm25's statistics belong to one index, and a handful of user rows indexed alone would all score
about zero; so when the user has rows, search runs over a combined index (shipped + user) kept in
the user cache dir and rebuilt when either side changes. Without user rows it is the shipped file.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from core.errors import CFError
from core.retrieval.rerank import SCHEMA_LEXICON

SHIPPED_STORE = Path(__file__).resolve().parent.parent / "assets" / "examples.sqlite"
SOURCES = ("train", "tldr", "django", "user")
# Every source competes in one ranking (retrieve): bm25's nearest rows of the curated sources
# (the train splits, the user's own) and of the others (tldr-pages) are read alike, and
# core/retrieval/rerank.py with core/retrieval/tools.py orders them (a mainstream tool beats a
# niche one, a tool the prompt names comes first). Until 2026-12-06 train rows came first and tldr
# rows only filled the places left, decided on the NL2Bash test split alone.
CURATED = ("user", "train")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS examples(
  id INTEGER PRIMARY KEY, lang TEXT NOT NULL, nl TEXT NOT NULL, code TEXT NOT NULL,
  source TEXT NOT NULL, ref TEXT NOT NULL DEFAULT '');
CREATE VIRTUAL TABLE IF NOT EXISTS examples_fts USING fts5(
  nl, content='examples', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS examples_ai AFTER INSERT ON examples BEGIN
  INSERT INTO examples_fts(rowid, nl) VALUES (new.id, new.nl); END;
CREATE TRIGGER IF NOT EXISTS examples_ad AFTER DELETE ON examples BEGIN
  INSERT INTO examples_fts(examples_fts, rowid, nl) VALUES ('delete', old.id, old.nl); END;
"""
SCHEMA += SCHEMA_LEXICON  # the re-ranking tables (core/retrieval/rerank.py)
# A query is the prompt's words OR-ed; more than this many adds time and little else.
MAX_QUERY_WORDS = 32


@dataclass(frozen=True)
class Example:
    id: int
    lang: str
    nl: str
    code: str
    source: str
    score: float = 0.0  # bm25 as FTS5 gives it: lower is nearer
    ref: str = ""  # where the row came from (a benchmark ID, a tldr page, a user's file)


def fts_query(text: str) -> str:
    """The prompt as an FTS5 query: each distinct word quoted (no FTS syntax gets through), OR-ed."""
    words = list(dict.fromkeys(w.lower() for w in re.findall(r"[^\W_]+", text)))[:MAX_QUERY_WORDS]
    return " OR ".join(f'"{w}"' for w in words)


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        con = sqlite3.connect(uri, uri=True, check_same_thread=False)
    else:
        con = sqlite3.connect(path, check_same_thread=False)
    return con


def create(path: str | Path, rows: Iterable[tuple[str, str, str, str, str]], meta: dict[str, str] | None = None,
           lexicon: Iterable[tuple[str, str, str, str, float]] = ()) -> int:
    """Write a new store at ``path`` (atomically: a temporary file renamed over it) from
    ``(lang, nl, code, source, ref)`` rows, de-duplicated on (lang, nl, code), and the re-ranking
    tables (core/retrieval/rerank.py's lexicon_rows). Returns the count of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        con = sqlite3.connect(tmp)
        con.executescript(SCHEMA)
        seen: set[tuple[str, str, str]] = set()
        unique = []
        for lang, nl, code, source, ref in rows:
            if (lang, nl, code) not in seen and nl.strip() and code.strip():
                seen.add((lang, nl, code))
                unique.append((lang, nl, code, source, ref))
        con.executemany("INSERT INTO examples(lang, nl, code, source, ref) VALUES (?, ?, ?, ?, ?)", unique)
        con.executemany("INSERT INTO lexicon VALUES (?, ?, ?, ?, ?)", lexicon)
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted((meta or {}).items()))
        con.execute("INSERT INTO examples_fts(examples_fts) VALUES ('optimize')")
        con.commit()
        con.execute("VACUUM")
        con.close()
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would keep a shipped store from other users
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return len(unique)


class ExampleStore:
    """Search over one store file. ``search`` is what generation and training call."""

    def __init__(self, path: str | Path, read_only: bool = True):
        self.path = Path(path)
        if not self.path.exists():
            raise CFError(f"example store {self.path} not found")
        try:
            self._con = _connect(self.path, read_only)
            self._con.execute("SELECT count(*) FROM examples_fts WHERE examples_fts MATCH 'x'").fetchone()
        except sqlite3.DatabaseError as e:
            raise CFError(f"{self.path}: not an example store ({e})") from None

    def close(self) -> None:
        self._con.close()

    def count(self, lang: str | None = None, source: str | None = None) -> int:
        sql, args = "SELECT count(*) FROM examples WHERE 1", []
        if lang:
            sql, args = sql + " AND lang = ?", args + [lang]
        if source:
            sql, args = sql + " AND source = ?", args + [source]
        return self._con.execute(sql, args).fetchone()[0]

    def all_rows(self) -> list[Example]:
        return [Example(*r) for r in self._con.execute(
            "SELECT id, lang, nl, code, source, 0.0, ref FROM examples ORDER BY id")]

    def meta(self) -> dict[str, str]:
        return dict(self._con.execute("SELECT key, value FROM meta"))

    def lexicon_rows(self) -> list[tuple[str, str, str, str, float]]:
        try:
            return self._con.execute("SELECT lang, direction, src, tgt, p FROM lexicon").fetchall()
        except sqlite3.OperationalError:  # a store built before the table existed
            return []

    def lexicon(self, lang: str):
        """The re-ranking tables of ``lang`` (core/retrieval/rerank.py), or None when the store
        has none for it."""
        from core.retrieval.rerank import Lexicon

        try:
            found = self._con.execute("SELECT 1 FROM lexicon WHERE lang = ? LIMIT 1", [lang]).fetchone()
        except sqlite3.OperationalError:
            return None
        return Lexicon(self._con, lang) if found else None

    def search(self, prompt: str, lang: str, k: int = 5, exclude_nl: str | None = None,
               sources: Sequence[str] | None = None, distinct_code: bool = True) -> list[Example]:
        """The ``k`` rows of ``lang`` whose nl is nearest the prompt by bm25 (nearest first); with
        ``distinct_code`` one row per code. ``exclude_nl``: leave out every row with this exact nl
        (training's leave-one-out: an item must never find its own answer)."""
        query = fts_query(prompt)
        if not query or k < 1:
            return []
        sql = ("SELECT e.id, e.lang, e.nl, e.code, e.source, bm25(examples_fts) AS s, e.ref "
               "FROM examples_fts JOIN examples e ON e.id = examples_fts.rowid "
               "WHERE examples_fts MATCH ? AND e.lang = ?")
        args: list = [query, lang]
        if exclude_nl is not None:
            sql, args = sql + " AND e.nl <> ?", args + [exclude_nl]
        if sources:
            sql += f" AND e.source IN ({','.join('?' * len(sources))})"
            args += list(sources)
        # Duplicated codes are common (NL2Bash has many prompts per command): read a few more.
        sql += " ORDER BY s LIMIT ?"
        args.append(k * 4 if distinct_code else k)
        out: list[Example] = []
        codes: set[str] = set()
        for row in self._con.execute(sql, args):
            ex = Example(row[0], row[1], row[2], row[3], row[4], row[5], row[6])
            if distinct_code and ex.code in codes:
                continue
            codes.add(ex.code)
            out.append(ex)
            if len(out) == k:
                break
        return out


    def fallback(self, lang: str, k: int, exclude_nl: str | None = None) -> list[Example]:
        """When no row shares a word with the prompt: the first rows of the language (a
        retrieval model always edits something; its encoder still reads the prompt)."""
        sql, args = "SELECT id, lang, nl, code, source, 0.0, ref FROM examples WHERE lang = ?", [lang]
        if exclude_nl is not None:
            sql, args = sql + " AND nl <> ?", args + [exclude_nl]
        rows = self._con.execute(sql + " ORDER BY id LIMIT ?", args + [k * 4]).fetchall()
        out, codes = [], set()
        for row in rows:
            if row[3] not in codes and len(out) < k:
                codes.add(row[3])
                out.append(Example(*row))
        return out

    def retrieve(self, prompt: str, lang: str, k: int, exclude_nl: str | None = None) -> list[Example]:
        """What a retrieval model orders and edits: k rows, half the nearest of the curated
        sources and half the nearest of the others (either side fills what the other lacks), so
        neither tldr's many terse rows nor NL2Bash's crowd the other out of a pool, in bm25 order;
        or the fallback when nothing matches. The re-ranking (rerank.Lexicon.order given the
        rows, with tools.py's signals) then ranks them on equal terms."""
        first = self.search(prompt, lang, k, exclude_nl=exclude_nl, sources=CURATED)
        seen = {e.code for e in first}
        others = [s for s in SOURCES if s not in CURATED]
        more = [e for e in self.search(prompt, lang, k, exclude_nl=exclude_nl, sources=others) if e.code not in seen]
        half = (k + 1) // 2
        mine = first[:max(half, k - len(more))]
        merged = sorted(mine + more[:k - len(mine)], key=lambda e: e.score)  # bm25: lower is nearer
        return merged or self.fallback(lang, k, exclude_nl=exclude_nl)


class LeaveOut:
    """A store seen without the rows of the prompt asked about (held-out validation)."""

    def __init__(self, store: ExampleStore):
        self.store = store

    def retrieve(self, prompt: str, lang: str, k: int) -> list[Example]:
        return self.store.retrieve(prompt, lang, k, exclude_nl=prompt)

    def lexicon(self, lang: str):
        return self.store.lexicon(lang)


def fingerprint(path: Path) -> str:
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
