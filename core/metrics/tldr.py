"""Scoring a candidate against a tldr-pages example (``cf eval --bench tldr``).

A page writes its command with placeholders: ``tar xf {{path/to/source.tar[.gz|.bz2]}}``, ``rm
{{[-r|--recursive]}} {{path/to/directory}}``. Four measures, each of one candidate:

- ``right_tool``: the candidate's first utility (core.metrics.bash's parse, wrappers such as
  ``sudo`` stripped; else its first word) is the example's.
- ``template_match``: NL2Bash's template cosine (core/metrics/bash.py) against the command as a
  user would type it (core.data.tldr.command: each placeholder's text).
- ``slot_match``, exact match with placeholders normalised. Both sides lose their quote characters
  and have their whitespace collapsed (a quoted string stays one word); then the candidate must equal the page's command where
  * a placeholder that spells one option (``{{[-r|--recursive]}}``, ``{{-v}}``) matches any of its
    spellings, and nothing else;
  * every other placeholder is a slot: it matches any value the candidate puts there, one word
    that does not start with ``-``, or several words when the placeholder's text has a space or
    ends in ``...`` or the page quotes it;
  * all other text must be equal.
  So ``rm -r build`` matches ``rm {{[-r|--recursive]}} {{path/to/directory}}``; ``rm -rf build``
  and ``rm build`` do not.
- ``token_f1``: F1 of the multisets of words (same normalisation) against the command as a user
  would type it.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import product

from core.metrics.bash import parse_simple_commands

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_ALTERNATIVES = re.compile(r"\[([^\[\]|]*(?:\|[^\[\]|]*)+)\]")
_QUOTES = re.compile(r"[\"']")
# A slot's value: one word not starting with "-", or (spaces allowed) any non-empty text.
_WORD_SLOT = r"(?!-)\S+"
_TEXT_SLOT = r".+?"


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_KEPT_SPACE = "\x00"  # a space inside quotes: part of one word


def normalize(code: str) -> str:
    """Quote characters removed, whitespace collapsed; a quoted string stays one word."""
    code = _QUOTED.sub(lambda m: re.sub(r"\s+", _KEPT_SPACE, m.group(0)), code)
    return " ".join(_QUOTES.sub("", code).split())


def first_utility(code: str) -> str:
    """The first utility a command line runs ('' for an empty line)."""
    try:
        commands = parse_simple_commands(code)
    except Exception:  # bashlex raises more than its own errors on odd input
        commands = None
    if commands:
        return commands[0].utility
    words = code.split()
    return words[0].rsplit("/", 1)[-1] if words else ""


def _spellings(text: str) -> list[str]:
    """Every spelling of a placeholder's text: ``[-r|--recursive]`` -> ``-r``, ``--recursive``."""
    parts = _ALTERNATIVES.split(text)  # literal, alternatives, literal, ...
    choices = [[p] if i % 2 == 0 else p.split("|") for i, p in enumerate(parts)]
    return ["".join(c) for c in product(*choices)]


def slot_pattern(page_command: str) -> re.Pattern:
    """The page's command as a pattern over a normalised candidate (the module's rules)."""
    page_command = _QUOTED.sub(lambda m: re.sub(r"\s+", _KEPT_SPACE, m.group(0)), page_command)
    page_command = " ".join(page_command.split())
    out, pos, quoted = [], 0, False
    for m in _PLACEHOLDER.finditer(page_command):
        literal = page_command[pos:m.start()]
        quoted ^= len(_QUOTES.findall(literal)) % 2 == 1  # inside a pair of quotes after this text
        out.append(_literal(literal))
        text = m.group(1).strip()
        spellings = [s.strip() for s in _spellings(text)]
        if spellings and all(s.startswith("-") and " " not in s for s in spellings):
            out.append("(?:" + "|".join(re.escape(s) for s in sorted(set(spellings), key=len, reverse=True)) + ")")
        elif quoted or " " in text or text.endswith("..."):
            out.append(_TEXT_SLOT)
        else:
            out.append(_WORD_SLOT)
        pos = m.end()
    out.append(_literal(page_command[pos:]))
    return re.compile("".join(out))


def _literal(text: str) -> str:
    return re.escape(re.sub(r"\s+", " ", _QUOTES.sub("", text)))


def slot_match(candidate: str, page_command: str) -> bool:
    return slot_pattern(page_command).fullmatch(normalize(candidate)) is not None


def token_f1(candidate: str, reference: str) -> float:
    cand, ref = Counter(normalize(candidate).split()), Counter(normalize(reference).split())
    common = sum((cand & ref).values())
    if not common:
        return 0.0
    precision, recall = common / sum(cand.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)
