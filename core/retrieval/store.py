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
import json
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
# "docs": a tool's documentation (its tldr page's description, its man page's NAME line) as a row
# whose code is the tool's name: what reaches a tool no example shows (core/retrieval/matcher.py).
SOURCES = ("train", "tldr", "docs", "django", "user")
CURATED = ("user", "train")  # curated NL -> code pairs: the train splits, the user's own
# The sources whose rows a language without a learned ranking (core/retrieval/ranker.py) edits
# first, curated rows by default; the other sources fill the places left (by bm25 over every
# source, tldr's terse descriptions of niche tools came first: docs/results.md, "Retrieval").
# Python's documentation rows (core/retrieval/pydocs.py) stand with its curated rows: CoNaLa
# lacks the everyday calls (`os.getcwd()`, `math.sqrt(x)`).
FIRST_SOURCES = {"python": CURATED + ("docs",)}
# The pool's groups of sources (store.pool, store.nearest).
GROUPS = {"curated": CURATED, "tldr": ("tldr",), "docs": ("docs",)}
PLACEHOLDERS_BLOB = "tldr-placeholders"  # blob: zlib'd JSON, a tldr row's ref -> its value placeholders
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS examples(
  id INTEGER PRIMARY KEY, lang TEXT NOT NULL, nl TEXT NOT NULL, code TEXT NOT NULL,
  source TEXT NOT NULL, ref TEXT NOT NULL DEFAULT '', tool TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS examples_tool ON examples(lang, tool);
CREATE TABLE IF NOT EXISTS blobs(name TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS templates(code TEXT PRIMARY KEY, tokens TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mentions(lang TEXT NOT NULL, tool TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY(lang, tool)) WITHOUT ROWID;
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
    # A tldr row's value placeholders as its command writes them (core/retrieval/values.py);
    # filled in by the ranking (store.placeholders), () elsewhere.
    placeholders: tuple[str, ...] = ()


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
           lexicon: Iterable[tuple[str, str, str, str, float]] = (), mode: int = 0o644,
           blobs: dict[str, bytes] | None = None, templates: dict[str, str] | None = None) -> int:
    """Write a new store at ``path`` (atomically: a temporary file renamed over it) from
    ``(lang, nl, code, source, ref)`` rows, de-duplicated on (lang, nl, code), the re-ranking
    tables (core/retrieval/rerank.py's lexicon_rows) and named blobs (the tool matcher), with file
    mode ``mode``. Each Bash row is indexed by the tool it runs, and its command's template is
    parsed once here (``templates``: those already parsed, as ``ExampleStore.templates`` gives
    them). Returns the count of rows."""
    from core.retrieval.rerank import template_tokens
    from core.retrieval.tools import tool_of

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
                unique.append((lang, nl, code, source, ref, tool_of(code) if lang == "bash" else ""))
        con.executemany("INSERT INTO examples(lang, nl, code, source, ref, tool) VALUES (?, ?, ?, ?, ?, ?)", unique)
        con.executemany("INSERT INTO blobs VALUES (?, ?)", sorted((blobs or {}).items()))
        known = templates or {}
        con.executemany("INSERT INTO templates VALUES (?, ?)", sorted(
            {code: known[code] if code in known else json.dumps(template_tokens(code))
             for lang, _, code, *_ in unique if lang == "bash"}.items()))
        con.executemany("INSERT INTO mentions VALUES ('bash', ?, ?)", sorted(tool_mentions(unique).items()))
        con.executemany("INSERT INTO lexicon VALUES (?, ?, ?, ?, ?)", lexicon)
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted((meta or {}).items()))
        con.execute("INSERT INTO examples_fts(examples_fts) VALUES ('optimize')")
        keep_postings(con)
        con.commit()
        con.execute("VACUUM")
        con.close()
        os.chmod(tmp, mode)  # 0644: mkstemp's 0600 would keep a shipped store from other users
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return len(unique)


def keep_postings(con: sqlite3.Connection) -> None:
    """Keep the FTS index's postings in the store (core/retrieval/bm25.py): made where the rows
    are written, and again by whatever deletes rows from a copy (the held-out stores)."""
    from core.retrieval.bm25 import BLOB, build

    con.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?)", [BLOB, build(con)])


def tool_mentions(rows: Sequence[tuple]) -> dict[str, int]:
    """For each tool a Bash row runs, how many other texts name it: tldr pages other than its own
    (any of their descriptions or commands: "a modern alternative to `ls`", `... | sort`) and
    curated rows. Everybody's tools are named everywhere; a niche tool mostly on its own page."""
    from core.retrieval.tools import TOOL_WORD as word
    from core.retrieval.tools import tool_of

    texts: dict[str, set[str]] = {}
    for lang, nl, code, source, ref, _ in rows:
        if lang == "bash":
            key = ref.split("#")[0].rsplit("/", 1)[-1] if source in ("tldr", "docs") else f"{source}:{ref}:{nl}"
            texts.setdefault(key, set()).update(word.findall(f"{nl} {code}".lower()))
    tools = {tool_of(code) for lang, _, code, *_ in rows if lang == "bash"} - {""}
    counts = dict.fromkeys(tools, 0)
    for key, words in texts.items():
        for w in words & tools:
            if key != w:  # not its own page
                counts[w] += 1
    return counts


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
        self._last: tuple | None = None  # (prompt, its rows and bm25 by the postings): a pool's queries share them

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

    def blob(self, name: str) -> bytes | None:
        try:
            row = self._con.execute("SELECT data FROM blobs WHERE name = ?", [name]).fetchone()
        except sqlite3.OperationalError:  # a store built before the table existed
            return None
        return row[0] if row else None

    def blobs(self) -> dict[str, bytes]:
        try:
            return dict(self._con.execute("SELECT name, data FROM blobs"))
        except sqlite3.OperationalError:
            return {}

    def templates(self) -> dict[str, str]:
        """Each Bash command's template as stored (JSON), to copy into another store."""
        try:
            return dict(self._con.execute("SELECT code, tokens FROM templates"))
        except sqlite3.OperationalError:
            return {}

    def read_templates(self, codes: Iterable[str]) -> None:
        """Hand the re-ranking the stored templates of ``codes`` (parsed when the store was
        built: bashlex took a third of the ranking's time)."""
        from core.retrieval.rerank import known_templates

        codes = sorted(set(codes))
        if not codes:
            return
        try:
            found = self._con.execute(f"SELECT code, tokens FROM templates WHERE code IN ({','.join('?' * len(codes))})",
                                      codes).fetchall()
        except sqlite3.OperationalError:  # a store built before the table existed: parsed as needed
            return
        known_templates({code: tuple(json.loads(tokens)) for code, tokens in found})

    def placeholders(self, ref: str) -> tuple[str, ...]:
        """A tldr row's value placeholders (by its ref; the store's PLACEHOLDERS_BLOB, read once)."""
        if not hasattr(self, "_placeholders"):
            import zlib

            blob = self.blob(PLACEHOLDERS_BLOB)
            self._placeholders = json.loads(zlib.decompress(blob)) if blob else {}
        return tuple(self._placeholders.get(ref, ()))

    def matcher(self):
        """The store's tool matcher (core/retrieval/matcher.py), read once; None when it has none."""
        if not hasattr(self, "_matcher"):
            from core.retrieval.matcher import BLOB, ToolMatcher

            blob = self.blob(BLOB)
            self._matcher = ToolMatcher.from_bytes(blob) if blob else None
        return self._matcher

    def options(self):
        """What the man pages say of each flag (core/retrieval/options.py), read once; empty for a
        store built without them."""
        if not hasattr(self, "_options"):
            from core.retrieval.options import OPTIONS_BLOB, OptionIndex

            self._options = OptionIndex(self.blob(OPTIONS_BLOB))
        return self._options

    def tool_counts(self, lang: str) -> dict[str, tuple[int, int]]:
        """tool -> (curated rows, tldr rows) that run it, read once per language."""
        cache = self.__dict__.setdefault("_tool_counts", {})
        if lang not in cache:
            counts: dict[str, list[int]] = {}
            try:
                for tool, source, n in self._con.execute(
                        "SELECT tool, source, count(*) FROM examples WHERE lang = ? AND source IN "
                        "('train', 'user', 'tldr') GROUP BY tool, source", [lang]):
                    counts.setdefault(tool, [0, 0])[source == "tldr"] += n
            except sqlite3.OperationalError:  # no tool column
                pass
            cache[lang] = {t: (c, d) for t, (c, d) in counts.items()}
        return cache[lang]

    def _documented_only(self, lang: str) -> bool:
        """Whether some tool has documentation rows and no example (read once per language)."""
        cache = self.__dict__.setdefault("_documented", {})
        if lang not in cache:
            try:
                docs = {t for (t,) in self._con.execute(
                    "SELECT DISTINCT tool FROM examples WHERE lang = ? AND source = 'docs'", [lang])}
            except sqlite3.OperationalError:
                docs = set()
            cache[lang] = bool(docs - set(self.tool_counts(lang)))
        return cache[lang]

    def mentions(self, lang: str) -> dict[str, int]:
        """tool -> how many other texts of the store name it (``tool_mentions``), read once."""
        cache = self.__dict__.setdefault("_mentions", {})
        if lang not in cache:
            try:
                cache[lang] = dict(self._con.execute("SELECT tool, n FROM mentions WHERE lang = ?", [lang]))
            except sqlite3.OperationalError:
                cache[lang] = {}
        return cache[lang]

    def lexicon(self, lang: str):
        """The re-ranking tables of ``lang`` (core/retrieval/rerank.py), or None when the store
        has none for it."""
        from core.retrieval.rerank import Lexicon

        try:
            found = self._con.execute("SELECT 1 FROM lexicon WHERE lang = ? LIMIT 1", [lang]).fetchone()
        except sqlite3.OperationalError:
            return None
        return Lexicon(self._con, lang) if found else None

    def nearest(self, prompt: str, lang: str, sizes: dict[str, int],
                exclude_nl: str | None = None) -> dict[str, list[Example]]:
        """``search`` for each of the pool's groups ("curated", "tldr", "docs": how many rows of each)."""
        return {group: self.search(prompt, lang, n, exclude_nl, GROUPS[group]) for group, n in sizes.items() if n > 0}

    def _postings(self):
        """The store's bm25 postings (core/retrieval/bm25.py), read once; None where it has none, or
        its rows changed after they were made: FTS5 answers then."""
        if not hasattr(self, "_bm25"):
            from core.retrieval.bm25 import BLOB, Postings

            blob = self.blob(BLOB)
            self._bm25 = Postings.load(blob, self._con) if blob else None
        return self._bm25

    def _bm25_rows(self, prompt: str):
        """(postings, the ids of the rows the prompt's words match, best first, their bm25), or None
        where FTS5 must answer (no postings, or a word that is not one term)."""
        from core.retrieval.bm25 import term_of

        postings = self._postings()
        if postings is None:
            return None
        last = self._last
        if last is not None and last[0] == prompt:
            return postings, *last[1]
        query = fts_query(prompt)
        terms = [term_of(w[1:-1]) for w in query.split(" OR ")] if query else []
        if None in terms:
            return None
        found = postings.scores(terms)
        self._last = (prompt, found)
        return postings, *found

    def _fetch(self, ids) -> dict[int, tuple]:
        """Rows by id: (id, lang, nl, code, source, ref)."""
        ids = [int(i) for i in ids]
        return {r[0]: r for r in self._con.execute(
            f"SELECT id, lang, nl, code, source, ref FROM examples WHERE id IN ({','.join('?' * len(ids))})", ids)}

    def search(self, prompt: str, lang: str, k: int = 5, exclude_nl: str | None = None,
               sources: Sequence[str] | None = None, distinct_code: bool = True) -> list[Example]:
        """The ``k`` rows of ``lang`` whose nl is nearest the prompt by bm25 (nearest first); with
        ``distinct_code`` one row per code. ``exclude_nl``: leave out every row with this exact nl
        (training's leave-one-out: an item must never find its own answer). From the store's
        postings where it has them (core/retrieval/bm25.py), else FTS5's query: the same rows."""
        query = fts_query(prompt)
        if not query or k < 1:
            return []
        found = self._bm25_rows(prompt)
        if found is not None:
            return self._search_postings(*found, lang, k, exclude_nl, sources, distinct_code)
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

    def _search_postings(self, postings, ids, bm25, lang: str, k: int, exclude_nl: str | None,
                         sources: Sequence[str] | None, distinct_code: bool) -> list[Example]:
        """``search``'s rows from the postings: the rows its FTS5 query gives, in its order (the
        tests compare them), ties in id order."""
        keep = postings.keep(ids, lang, sources)
        ids, bm25 = ids[keep], bm25[keep]
        limit = k * 4 if distinct_code else k  # the query's LIMIT, counted after exclude_nl
        out: list[Example] = []
        codes: set[str] = set()
        taken = start = 0
        while taken < limit and start < len(ids):
            chunk = ids[start:start + limit - taken + 8]  # a few more, for rows exclude_nl leaves out
            rows = self._fetch(chunk)
            for j, i in enumerate(chunk.tolist(), start):
                r = rows[i]
                if exclude_nl is not None and r[2] == exclude_nl:
                    continue
                taken += 1
                if not (distinct_code and r[3] in codes):
                    codes.add(r[3])
                    out.append(Example(r[0], r[1], r[2], r[3], r[4], float(bm25[j]), r[5]))
                if len(out) == k or taken == limit:
                    return out
            start += len(chunk)
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

    def first_of_tool(self, lang: str, tool: str, exclude_nl: str | None = None) -> Example | None:
        """A tool's first tldr row when no word of the prompt finds one (a page's first example is
        its most common use), else its documentation."""
        sql = ("SELECT id, lang, nl, code, source, 0.0, ref FROM examples WHERE lang = ? AND tool = ? "
               "AND source IN ('tldr', 'docs')"
               + (" AND nl <> ?" if exclude_nl is not None else "")
               + " ORDER BY source = 'tldr' DESC, id LIMIT 1")
        row = self._con.execute(sql, [lang, tool] + ([exclude_nl] if exclude_nl is not None else [])).fetchone()
        return Example(*row) if row else None

    def pool(self, prompt: str, lang: str, sizes: dict[str, int], tools: Sequence[str] = (),
             exclude_nl: str | None = None, found: dict[str, list[Example]] | None = None) -> list[Example]:
        """What the ranking (core/retrieval/ranker.py) orders: bm25's nearest curated rows, tldr
        rows and documentation rows (``sizes``: how many of "curated", "tldr", "docs"; a docs row
        only for a tool no example runs), then the nearest tldr or docs row of each of ``tools``
        (the tool matcher's guesses) that no tldr or docs row there runs (its first row where no
        word of the prompt finds one). ``found``: ``nearest``'s rows already read (the ranking
        reads the documentation rows for every tool, core/retrieval/ranker.py)."""
        from core.retrieval.tools import tool_of

        out: list[Example] = []
        codes: set[str] = set()
        examples = self.tool_counts(lang)
        if found is None:
            # (the documentation query, ~30 ms, only where some tool has no example)
            found = self.nearest(prompt, lang, {**sizes, "docs": sizes["docs"] if self._documented_only(lang) else 0},
                                 exclude_nl)
        for group in ("curated", "tldr", "docs"):
            for e in found.get(group, ()):
                # A tool's documentation only where no example shows the tool: an example is the better answer.
                if e.code not in codes and not (e.source == "docs" and tool_of(e.code) in examples):
                    codes.add(e.code)
                    out.append(e)
        # Each guessed tool by a tldr or docs row of its own (a curated row of the same tool keeps
        # the tables' place among the curated rows; this one competes with the other sources').
        have = {tool_of(e.code) for e in out if e.source not in CURATED}
        missing = [t for t in tools if t not in have]
        nearest = self._nearest_of_tools(prompt, lang, missing, exclude_nl) if missing else {}
        for tool in missing:
            e = nearest.get(tool) or self.first_of_tool(lang, tool, exclude_nl)
            if e is not None and e.code not in codes:
                codes.add(e.code)
                out.append(e)
        return out

    def _nearest_of_tools(self, prompt: str, lang: str, tools: Sequence[str],
                          exclude_nl: str | None) -> dict[str, Example]:
        """tool -> its tldr or docs row nearest the prompt by bm25, for those of ``tools`` a word of
        the prompt finds (one query for all of them)."""
        query = fts_query(prompt)
        if not query:
            return {}
        found = self._bm25_rows(prompt)
        if found is not None:
            postings, ids, bm25 = found
            keep = postings.keep(ids, lang, ("tldr", "docs"), tools)
            ids, bm25 = ids[keep], bm25[keep]
            rows = self._fetch(ids) if len(ids) else {}
            out: dict[str, Example] = {}
            for i, score in zip(ids.tolist(), bm25.tolist()):  # best first, ties by id: the query's ORDER BY s, id
                r = rows[i]
                tool = postings.tool_names[postings.tool[i]]
                if tool not in out and (exclude_nl is None or r[2] != exclude_nl):
                    out[tool] = Example(r[0], r[1], r[2], r[3], r[4], score, r[5])
            return out
        sql = ("SELECT id, lang, nl, code, source, s, ref, tool FROM (SELECT e.id, e.lang, e.nl, e.code, e.source, "
               "bm25(examples_fts) AS s, e.ref, e.tool FROM examples_fts JOIN examples e ON e.id = examples_fts.rowid "
               f"WHERE examples_fts MATCH ? AND e.lang = ? AND e.source IN ('tldr', 'docs') "
               f"AND e.tool IN ({','.join('?' * len(tools))})"
               + (" AND e.nl <> ?" if exclude_nl is not None else "") + ") ORDER BY s, id")
        found: dict[str, Example] = {}
        for row in self._con.execute(sql, [query, lang, *tools] + ([exclude_nl] if exclude_nl is not None else [])):
            found.setdefault(row[7], Example(*row[:7]))
        return found

    def ranked(self, prompt: str, lang: str, exclude_nl: str | None = None) -> list[Example] | None:
        """The pool of every source in one ranking (core/retrieval/ranker.py), best first; None
        for a language without one or a store without a tool matcher (then ``retrieve``)."""
        from core.retrieval.ranker import RANKED_LANGS, Ranker

        if lang not in RANKED_LANGS or self.matcher() is None:
            return None
        rankers = self.__dict__.setdefault("_rankers", {})
        if lang not in rankers:
            rankers[lang] = Ranker(self, lang)
        return rankers[lang].rank(prompt, exclude_nl)

    def retrieve(self, prompt: str, lang: str, k: int, exclude_nl: str | None = None) -> list[Example]:
        """What a retrieval model edits: the nearest rows of the language's FIRST_SOURCES, then of
        the other sources up to k, or the fallback when nothing matches."""
        sources = FIRST_SOURCES.get(lang, CURATED)
        first = self.search(prompt, lang, k, exclude_nl=exclude_nl, sources=sources)
        if len(first) < k:
            others = [s for s in SOURCES if s not in sources]
            seen = {e.code for e in first}
            more = self.search(prompt, lang, k, exclude_nl=exclude_nl, sources=others)
            first += [e for e in more if e.code not in seen][: k - len(first)]
        return first or self.fallback(lang, k, exclude_nl=exclude_nl)


class LeaveOut:
    """A store seen without the rows of the prompt asked about (held-out validation)."""

    def __init__(self, store: ExampleStore):
        self.store = store

    def retrieve(self, prompt: str, lang: str, k: int) -> list[Example]:
        return self.store.retrieve(prompt, lang, k, exclude_nl=prompt)

    def ranked(self, prompt: str, lang: str) -> list[Example] | None:
        return self.store.ranked(prompt, lang, exclude_nl=prompt)

    def lexicon(self, lang: str):
        return self.store.lexicon(lang)


def fingerprint(path: Path) -> str:
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
