"""What goes into the shipped example store, and the command that builds it.

The published train splits (never the test splits) and tldr-pages' common and linux pages; the
Django lines only when asked (``include_django``: docs/results.md says why they are left out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from core.config import LANGS
from core.retrieval.store import CURATED, create

# 2: the lexicon table (core/retrieval/rerank.py); 3: its tables of command words; 4: rows indexed by
# tool, documentation rows, the tool matcher (core/retrieval/matcher.py); 5: tldr rows' value
# placeholders (core/retrieval/values.py), mentions read without a sentence's full stop; 6: the bm25
# postings (core/retrieval/bm25.py); 7: the man pages' option stems (core/retrieval/options.py)
STORE_VERSION = "7"


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


def tldr_placeholders(tarball: str | Path) -> bytes:
    """The PLACEHOLDERS_BLOB: each tldr row's value placeholders by its ref, zlib'd JSON."""
    import json
    import zlib

    from core.data.tldr import load_tldr
    from core.retrieval.values import placeholders_of

    table = {p.id: found for p in load_tldr(tarball, raw=True) if (found := placeholders_of(p.code))}
    return zlib.compress(json.dumps(table, separators=(",", ":"), sort_keys=True).encode(), 9)


def docs_rows(tarball: str | Path | None, man: bool = False) -> Iterator[tuple[str, str, str, str, str]]:
    """A tool's documentation as rows whose code is the tool: each tldr page's own description
    (held-out pages too: documentation, not examples; ``cf eval --bench tldr`` asks for tools
    known only from it) and, with ``man``, the NAME line of each man page in sections 1 and 8
    installed on this machine (for a store built for oneself: those lines come under each
    package's own licence, so the shipped store leaves them out)."""
    from core.data.tldr import page_summary, parse_page, read_pages
    from core.retrieval.matcher import man_lines
    from core.retrieval.tools import tool_of

    if tarball:
        for page, text in read_pages(tarball):
            first = next(parse_page(text), None)
            summary = page_summary(text)
            if summary:
                yield "bash", summary, tool_of(first.code) if first else page.rsplit("/", 1)[-1], "docs", \
                    f"docs:tldr/{page}"
    if man:
        for name, desc in man_lines():
            yield "bash", desc, name, "docs", f"docs:man/{name}"


def matcher_pairs(rows) -> list[tuple[str, str, float]]:
    """(text, tool, weight) of the Bash rows the tool matcher learns from: not the held-out tldr
    pages' examples (a benchmark's items), nor the development mix's (core/data/dev.py: the
    ranking's weights are chosen for this very matcher on those), nor the man pages' NAME lines
    of a store built with ``man`` (one line each for 18,000 mostly niche tools spreads its
    guesses thin and makes its softmax four times wider; they stay in such a store as
    documentation rows; `python benchmarks/rank_sources.py --matcher --man` measures it).

    A curated row's description tells of every tool its command runs, so each takes an equal
    share of it: "Remove all CVS directories in the current directory tree" is `find` and `rm`
    (`find ... -exec rm -r {} \\;`). Learnt for `find` alone, NL2Bash's thousands of `find`
    commands taught the matcher that "remove", "zip" and "create a file" ask for `find`. A tldr
    example is its page's tool's, whatever it pipes into."""
    from core.retrieval.tools import tool_of

    out = []
    for lang, nl, code, source, ref in rows:
        if lang != "bash" or benchmark_or_dev(nl, source, ref) or ref.startswith("docs:man/"):
            continue
        tools = utilities(code) if source in CURATED else [tool_of(code)]
        out += [(nl, tool, 1.0 / len(tools)) for tool in tools]
    return out


def option_stems(rows, log=None) -> bytes:
    """The OPTIONS_BLOB of the Bash rows' commands (core/retrieval/options.py): the man pages this
    machine has of the tools they run."""
    from core.retrieval.matcher import man_lines
    from core.retrieval.options import build_blob
    from core.retrieval.rerank import template_tokens

    codes = {code for lang, _, code, source, _ in rows if lang == "bash" and source != "docs"}
    return build_blob((template_tokens(c) for c in sorted(codes)), {name for name, _ in man_lines()}, log)


def utilities(code: str) -> list[str]:
    """The tools a command line runs, nested ones included (``find -exec``, ``xargs``, ``$(...)``),
    each once in order; the first word's tool where bashlex cannot parse it."""
    from core.metrics.bash import parse_simple_commands
    from core.retrieval.tools import tool_of

    found = [c.utility for c in parse_simple_commands(code) or [] if c.utility]
    return list(dict.fromkeys(found)) or [tool_of(code)]


def benchmark_or_dev(nl: str, source: str, ref: str) -> bool:
    """A row nothing learnt may see: a held-out tldr page's example (a benchmark's item) or one of
    the development mix (core/data/dev.py), on which the ranking's weights are chosen."""
    from core.data.dev import dev_example, dev_prompt
    from core.data.tldr import held_out

    return (source == "tldr" and (held_out(ref) or dev_example(ref))) or (source == "train" and dev_prompt(nl))


def build_store(out: str | Path, data: str | Path | None = None, tldr: str | Path | None = None,
                lexicon: bool = True, hold_out_tldr: bool = False, docs: bool = False, man: bool = False,
                log=None) -> dict[str, int]:
    """Build the store at ``out`` from the train splits in ``data`` (cf data fetch's folder by
    default) and, when given, the tldr-pages tarball, with the re-ranking tables learned from the
    train splits (``lexicon``; about 40 s). Returns the row count of each source. ``hold_out_tldr``:
    without the held-out tldr pages' examples, for a model trained to be checked on
    ``cf eval --bench tldr`` (``cf train --retrieval --store`` reads tldr rows only from its store).
    ``docs``: the documentation rows (docs_rows, and the Python standard library's:
    core/retrieval/pydocs.py) and the tool matcher learned from every Bash row
    (core/retrieval/matcher.py; about a minute), and what this machine's man pages say of each flag
    the Bash rows use (core/retrieval/options.py; about a minute); ``man``: with this machine's man
    pages' NAME lines as documentation rows."""
    from core.retrieval.rerank import TABLE_SOURCES, lexicon_rows
    from core.retrieval.store import PLACEHOLDERS_BLOB

    rows = list(train_rows(data))
    blobs = {}
    if tldr:
        rows += list(tldr_rows(tldr, hold_out_tldr))
        blobs[PLACEHOLDERS_BLOB] = tldr_placeholders(tldr)
    if docs:
        from core.retrieval.matcher import BLOB, train_matcher
        from core.retrieval.options import OPTIONS_BLOB
        from core.retrieval.pydocs import python_docs_rows

        rows += list(docs_rows(tldr, man)) + list(python_docs_rows())
        blobs[BLOB] = train_matcher(matcher_pairs(rows), log=log).to_bytes()
        blobs[OPTIONS_BLOB] = option_stems(rows, log)
    tables = [r for lang, learned_from in (TABLE_SOURCES.items() if lexicon else ())
              for r in lexicon_rows(lang, [(nl, code) for lg, nl, code, source, _ in rows
                                           if lg == lang and source in learned_from])]
    sources = "train" + (",tldr" if tldr else "") + (" (held-out pages left out)" if tldr and hold_out_tldr else "") \
        + (",docs" if docs else "") + (",man" if docs and man else "")
    meta = {"version": STORE_VERSION, "sources": sources}
    if docs:  # the docstrings are this interpreter's: another Python version builds other rows
        import platform

        meta["python_docs"] = platform.python_version()
    create(out, rows, meta, tables, blobs=blobs)
    counts: dict[str, int] = {}
    from core.retrieval.store import ExampleStore

    store = ExampleStore(out)
    for source in ("train", "tldr", "docs"):
        counts[source] = store.count(source=source)
    store.close()
    return counts
