"""tldr-pages (CC BY 4.0, github.com/tldr-pages/tldr) as description -> command examples.

A page is Markdown: ``- Description:`` then the command in backquotes, its placeholders written
``{{path/to/file}}``, ``{{[-r|--recursive]}}`` (a short and a long spelling of one option) or
``{{path/to/source.tar[.gz|.bz2]}}``. We write what a user would type: the placeholder's text,
the first of each set of alternatives, and no trailing ``...``.

Held-out pages (``cf eval --bench tldr``): a fixed 10% of pages, chosen by the page's name alone
(``held_out``: the first 8 bytes of SHA-256 of the name, e.g. ``tar``, as a number, mod 100, below
``HELD_OUT_PERCENT``), so the split never changes with the tarball's version or the platform, and
a name in both pages/common and pages/linux is held out on both. Their examples leave the example
store for that benchmark and must leave any training data that is checked on it
(``core.retrieval.build.build_store(hold_out_tldr=True)``, ``cf examples build --hold-out-tldr``).
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path
from typing import Iterable, Iterator

from core.data.datasets import Pair
from core.errors import CFError

# The platforms a Bash user on Linux can run (the tarball's pages/common and pages/linux).
PLATFORMS = ("common", "linux")
# A placeholder's text may hold escaped braces and one level of braces of its own:
# `{{path/to/file{1..10}}}` is `path/to/file{1..10}`, not `path/to/file{1..10` and a stray brace.
PLACEHOLDER = re.compile(r"\{\{((?:\\[{}]|[^{}]|\{[^{}]*\})*?)\}\}")
ALTERNATIVES = re.compile(r"\[([^\[\]|]*(?:\|[^\[\]|]*)+)\]")
MNEMONIC = re.compile(r"\[(\w+)\]")  # "[c]reate an archive" -> "create an archive"
HELD_OUT_PERCENT = 10


def page_name(ref: str) -> str:
    """``tldr:common/tar#3`` (a row's ref, an example's id) or ``common/tar`` -> ``tar``."""
    return ref.removeprefix("tldr:").split("#")[0].rsplit("/", 1)[-1]


def held_out(page: str) -> bool:
    """Whether a page (its name, or a ref as ``page_name`` reads it) is in the held-out 10%."""
    digest = hashlib.sha256(page_name(page).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


def dev_page(page: str) -> bool:
    """Whether a page is in the development 10% (the hash bucket after the held-out one,
    disjoint from it): what ranking weights are chosen on, never the held-out pages."""
    digest = hashlib.sha256(page_name(page).encode("utf-8")).digest()
    return HELD_OUT_PERCENT <= int.from_bytes(digest[:8], "big") % 100 < 2 * HELD_OUT_PERCENT


def placeholder_text(m: re.Match) -> str:
    """A ``{{...}}`` placeholder as a user would type it: its text, the first of its alternatives."""
    text = ALTERNATIVES.sub(lambda a: a.group(1).split("|")[0], m.group(1))
    return re.sub(r"\s*\.\.\.$", "", text).strip()


def command(text: str) -> str:
    """A page's command as a user would type it."""
    return PLACEHOLDER.sub(placeholder_text, text).strip()


def description(text: str) -> str:
    text = text.strip().lstrip("-").strip().rstrip(":").strip()
    return MNEMONIC.sub(r"\1", text).replace("`", "")


def parse_page(markdown: str, raw: bool = False) -> Iterator[Pair]:
    """The (description, command) examples of one page, in its order; ``raw``: the command as the
    page writes it, placeholders and all (what ``cf eval --bench tldr`` scores against)."""
    nl = None
    for line in markdown.splitlines():
        line = line.strip()
        if line.startswith("- "):
            nl = description(line)
        elif line.startswith("`") and line.endswith("`") and len(line) > 2 and nl:
            code = line[1:-1].strip() if raw else command(line[1:-1])
            if code:
                yield Pair(nl, code)
            nl = None


def read_pages(path: str | Path, platforms: Iterable[str] = PLATFORMS) -> list[tuple[str, str]]:
    """(``PLATFORM/PAGE``, Markdown) of each page of ``platforms`` in a tldr-pages tarball (or an
    unpacked copy), in file-name order."""
    path = Path(path).expanduser()
    wanted = tuple(f"pages/{p}/" for p in platforms)
    pages: list[tuple[str, str]] = []
    if path.is_dir():
        for p in sorted(path.rglob("*.md")):
            rel = p.relative_to(path).as_posix()
            if rel.startswith(wanted):
                pages.append((rel, p.read_text(encoding="utf-8")))
    elif path.is_file():
        try:
            with tarfile.open(path) as tar:
                for member in sorted(tar.getmembers(), key=lambda m: m.name):
                    name = member.name.removeprefix("./")
                    if member.isfile() and name.endswith(".md") and name.startswith(wanted):
                        pages.append((name, tar.extractfile(member).read().decode("utf-8")))
        except (tarfile.TarError, OSError, UnicodeDecodeError) as e:
            raise CFError(f"{path}: not a readable tldr-pages tarball ({e})") from None
    else:
        raise CFError(f"{path} not found")
    return [(name.removeprefix("pages/").removesuffix(".md"), text) for name, text in pages]


def load_tldr(path: str | Path, platforms: Iterable[str] = PLATFORMS, raw: bool = False) -> list[Pair]:
    """Every example of the pages of ``platforms`` in a tldr-pages tarball (or an unpacked copy),
    in file-name order; ids are ``tldr:PLATFORM/PAGE#N`` (the store rows' ref). ``raw``: as
    ``parse_page``'s."""
    out = []
    for page, text in read_pages(path, platforms):
        out += [Pair(p.nl, p.code, f"tldr:{page}#{i}") for i, p in enumerate(parse_page(text, raw), 1)]
    return out


def page_summary(markdown: str) -> str:
    """A page's own description (its ``> `` lines, less the "More information" link): the tool's
    documentation, not an example."""
    lines = [line[1:].strip() for line in markdown.splitlines() if line.startswith(">")]
    return " ".join(line.replace("`", "") for line in lines if not line.lower().startswith(("more information",
                                                                                             "see also")))


def held_out_examples(path: str | Path) -> list[Pair]:
    """The held-out pages' examples, commands as written (placeholders kept), in file-name order."""
    return [p for p in load_tldr(path, raw=True) if held_out(p.id)]
