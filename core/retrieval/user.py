"""The user's own examples: ``cf examples add/list/remove`` and the picks they accept.

They live in ``user-examples.sqlite`` in the user data dir ($CODEFUSION_HOME, else the
platform's), a file no upgrade touches. Search runs over the shipped store alone while the user
has no rows, else over a combined index in the user cache dir, rebuilt (atomically) whenever
the shipped store or the user's rows change.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable

from core.config import LANGS
from core.errors import CFError
from core.retrieval.store import SCHEMA, SHIPPED_STORE, Example, ExampleStore, create, fingerprint
from core.userfiles import FILE_MODE, private_dir, private_file

USER_FILE = "user-examples.sqlite"
INDEX_FILE = "examples-index.sqlite"


def _dirs() -> tuple[Path, Path]:
    """(data dir, cache dir) for the user's examples and the combined index."""
    home = os.environ.get("CODEFUSION_HOME")
    if home:
        root = Path(home).expanduser()
        return root, root / "cache"
    import platformdirs

    return Path(platformdirs.user_data_dir("codefusion")), Path(platformdirs.user_cache_dir("codefusion"))


def shipped_store_path() -> Path:
    """$CODEFUSION_EXAMPLES moves the shipped store (tests; a packager keeping data apart)."""
    moved = os.environ.get("CODEFUSION_EXAMPLES")
    return Path(moved) if moved else SHIPPED_STORE


def shipped_store() -> ExampleStore:
    """The shipped rows alone: what cf eval, cf bench and the docs' scripts retrieve from, so their
    figures do not depend on who runs them."""
    return ExampleStore(shipped_store_path())


class UserExamples:
    """The user's rows (source "user"), in their own SQLite file."""

    def __init__(self, path: Path | None = None):
        self.path = path or _dirs()[0] / USER_FILE

    def _connect(self) -> sqlite3.Connection:
        private_file(self.path)  # the user's own commands: 0600 (SQLite's journal takes its mode)
        try:
            con = sqlite3.connect(self.path)
            con.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise CFError(f"{self.path}: not an example store ({e})") from None
        return con

    def rows(self, lang: str | None = None) -> list[Example]:
        if not self.path.exists():
            return []
        con = self._connect()
        try:
            sql, args = "SELECT id, lang, nl, code, source, 0.0, ref FROM examples", []
            if lang:
                sql, args = sql + " WHERE lang = ?", [lang]
            return [Example(*r) for r in con.execute(sql + " ORDER BY id", args)]
        finally:
            con.close()

    def add(self, rows: Iterable[tuple[str, str, str]], ref: str = "") -> int:
        """Add (lang, nl, code) rows, skipping ones already there; returns how many were new."""
        rows = list(rows)
        for lang, nl, code in rows:
            if lang not in LANGS:
                raise CFError(f"unknown language {lang!r}; choose one of: {', '.join(LANGS)}")
            if not nl.strip() or not code.strip():
                raise CFError("an example needs a non-empty nl and code")
        con = self._connect()
        try:
            with con:
                have = {(r[0], r[1], r[2]) for r in con.execute("SELECT lang, nl, code FROM examples")}
                new = []
                for lang, nl, code in rows:
                    key = (lang, nl.strip(), code.strip())
                    if key not in have:
                        have.add(key)
                        new.append((*key, "user", ref))
                con.executemany("INSERT INTO examples(lang, nl, code, source, ref) VALUES (?, ?, ?, ?, ?)", new)
                con.execute("INSERT OR REPLACE INTO meta VALUES ('changed', ?)", (str(time.time_ns()),))
            return len(new)
        finally:
            con.close()

    def remove(self, ids: Iterable[int] | None = None, rows: Iterable[tuple[str, str, str]] | None = None,
               everything: bool = False) -> int:
        """Remove rows by id, by (lang, nl, code), or all of them; returns how many went."""
        if not self.path.exists():
            return 0
        con = self._connect()
        try:
            with con:
                # Counted in the table: total_changes also counts the search index's trigger rows
                # (a 1-row file said "removed 7").
                before = con.execute("SELECT count(*) FROM examples").fetchone()[0]
                if everything:
                    con.execute("DELETE FROM examples")
                for i in ids or ():
                    con.execute("DELETE FROM examples WHERE id = ?", (i,))
                for lang, nl, code in rows or ():
                    con.execute("DELETE FROM examples WHERE lang = ? AND nl = ? AND code = ?",
                                (lang, nl.strip(), code.strip()))
                removed = before - con.execute("SELECT count(*) FROM examples").fetchone()[0]
                con.execute("INSERT OR REPLACE INTO meta VALUES ('changed', ?)", (str(time.time_ns()),))
            return removed
        finally:
            con.close()

    def version(self) -> str:
        """Changes whenever the rows do (add and remove stamp it); "none" while there are none."""
        if not self.path.exists():
            return "none"
        con = self._connect()
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'changed'").fetchone()
            count = con.execute("SELECT count(*) FROM examples").fetchone()[0]
            return f"{row[0] if row else 0}:{count}" if count else "none"
        finally:
            con.close()


def read_examples_file(path: str | Path) -> list[tuple[str, str, str]]:
    """A JSONL of {"lang", "nl", "code"} lines as (lang, nl, code); a bad line is a CFError."""
    path = Path(path)
    if path.is_dir():
        raise CFError(f"{path} is a directory; give a JSONL file, one {{\"lang\", \"nl\", \"code\"}} object a line")
    if not path.is_file():
        raise CFError(f"{path} not found")
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                lang, nl, code = row["lang"], row["nl"], row["code"]
                if not all(isinstance(v, str) and v.strip() for v in (lang, nl, code)):
                    raise TypeError
            except (json.JSONDecodeError, KeyError, TypeError):
                raise CFError(f"{path}:{i}: expected a JSON object with non-empty string fields "
                              "\"lang\", \"nl\" and \"code\"") from None
            if lang not in LANGS:
                raise CFError(f"{path}:{i}: unknown language {lang!r}; choose one of: {', '.join(LANGS)}")
            out.append((lang, nl.strip(), code.strip()))
    return out


def searchable_store(user: UserExamples | None = None) -> ExampleStore:
    """The shipped store alone (read-only) while the user has no rows; else the combined index,
    rebuilt when the shipped store or the user's rows changed since it was made."""
    shipped = shipped_store_path()
    user = user or UserExamples()
    version = user.version()
    if version == "none":
        return ExampleStore(shipped)
    index = _dirs()[1] / INDEX_FILE
    stamp = f"{fingerprint(shipped)}/{version}"
    if index.exists():
        try:
            current = ExampleStore(index)
            if current.meta().get("built_from") == stamp:
                return current
            current.close()
        except CFError:
            pass  # a damaged cache is rebuilt
    base = ExampleStore(shipped)
    rows = [(e.lang, e.nl, e.code, e.source, e.ref) for e in base.all_rows()]
    lexicon, blobs, templates = base.lexicon_rows(), base.blobs(), base.templates()
    base.close()
    rows += [(e.lang, e.nl, e.code, "user", e.ref) for e in user.rows()]
    private_dir(index.parent)
    create(index, rows, {"built_from": stamp}, lexicon, mode=FILE_MODE, blobs=blobs,  # it holds the user's rows too
           templates=templates)
    return ExampleStore(index)
