"""The everyday prompt file (``benchmarks/everyday.jsonl``): prompts the project wrote itself,
taken from no data set, as a user would type them; each with the patterns an acceptable answer
matches.

One JSON object per line:

- ``id``: ``bash-001``, ``python-007``: unique;
- ``lang``: ``bash`` or ``python``;
- ``prompt``: the request; unique within its language;
- ``example``: one acceptable answer, written with the prompt (tests/test_everyday.py checks that
  the item accepts it, and that the other items mostly do not);
- ``patterns``: a list; every element must match the candidate (``re.search``, case-sensitive
  unless the pattern says ``(?i)``). An element is a regex, or a list of regexes meaning any one
  of them (alternatives: ``[["\\bcurl\\b", "\\bwget\\b"], "example\\.com"]`` is "curl or wget, and
  the URL");
- ``<cmd>`` in a pattern stands for "where a command starts": the line's start, after ``|``,
  ``;``, ``&``, ``(``, a backquote or ``$(``, or after a wrapper (``sudo``, ``xargs``, ``exec``,
  ``env``, ``nohup``, ``time``, ``watch``, ``find -exec``) and its options. ``<cmd>du\\b``
  accepts ``du -sh .`` and ``sudo du -sh /var``, not ``docker buildx du``;
- ``reject`` (optional): regexes none of which may match (a wrong variant the patterns would let
  through: ``tar -x`` must not also say ``-c``).

A Python candidate must also parse (``ast``). A Bash candidate is not required to parse: bashlex
refuses some correct lines (``$(( ))``, some here-documents).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import CFError

LANGS = ("bash", "python")
COMMAND_START = r"(?:^|[|;&(`]\s*|\$\(\s*|(?:\b(?:sudo|xargs|exec|env|nohup|time|watch)|-exec)\s+(?:-\S+\s+)*)"
DEFAULT_FILE = "benchmarks/everyday.jsonl"  # relative to the repository root


@dataclass(frozen=True)
class EverydayItem:
    id: str
    lang: str
    prompt: str
    patterns: tuple  # of re.Pattern or tuple of re.Pattern (any of)
    reject: tuple = ()
    example: str = ""

    def accepts(self, candidate: str) -> bool:
        """The candidate is an acceptable answer to the prompt."""
        code = candidate.strip()
        if not code:
            return False
        if self.lang == "python" and not _parses(code):
            return False
        for pattern in self.patterns:
            choices = pattern if isinstance(pattern, tuple) else (pattern,)
            if not any(c.search(code) for c in choices):
                return False
        return not any(r.search(code) for r in self.reject)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _compile(pattern, where: str):
    if isinstance(pattern, list) and pattern and all(isinstance(p, str) for p in pattern):
        return tuple(_compile(p, where) for p in pattern)
    if not isinstance(pattern, str):
        raise CFError(f"{where}: a pattern is a regex or a non-empty list of regexes, not {pattern!r}")
    try:
        return re.compile(pattern.replace("<cmd>", COMMAND_START), re.M)
    except re.error as e:
        raise CFError(f"{where}: bad regex {pattern!r} ({e})") from None


def load_everyday(path: str | Path, lang: str | None = None) -> list[EverydayItem]:
    """The items of the file (of ``lang`` only, when given), in file order; a malformed file is a
    CFError naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise CFError(f"{path}: cannot read the everyday prompt file ({e.strerror})") from None
    items, ids, prompts = [], set(), set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            row = json.loads(line)
            item_id, item_lang, prompt, patterns = row["id"], row["lang"], row["prompt"], row["patterns"]
            example = row["example"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise CFError(f"{where}: not an everyday item (id, lang, prompt, example, patterns): {e}") from None
        if item_lang not in LANGS:
            raise CFError(f"{where}: lang must be one of {', '.join(LANGS)}, not {item_lang!r}")
        if not isinstance(patterns, list) or not patterns or not str(prompt).strip():
            raise CFError(f"{where}: needs a prompt and at least one pattern")
        if item_id in ids or (item_lang, prompt) in prompts:
            raise CFError(f"{where}: the id or the prompt is already in the file")
        ids.add(item_id)
        prompts.add((item_lang, prompt))
        reject = row.get("reject", [])
        if not isinstance(reject, list) or not all(isinstance(r, str) for r in reject):
            raise CFError(f"{where}: reject is a list of regexes")
        items.append(EverydayItem(item_id, item_lang, prompt, tuple(_compile(p, where) for p in patterns),
                                  tuple(_compile(r, where) for r in reject), str(example)))
    return [i for i in items if lang is None or i.lang == lang]
