"""The user's own rows in retrieval: when one is pinned first, and when it is copied as it stands.

A user row (``cf examples add``, or a pick accepted in the picker, ref "pick") used to keep bm25's
place whatever it said, so one accepted extraction command for "extract a tar.gz archive into /opt"
came first for "compress the logs folder into a tar.gz archive". Now a row is pinned only when its
prompt matches the user's closely (``closeness`` at least PIN_ADDED, PIN_PICK for a pick); the
others are ranked like any row. A pinned row whose prompt differs from the user's only in values
that its code holds ("deploy the staging environment" for "deploy the production environment") is
copied as it stands, those values swapped (``value_swaps``): the model does not edit it.
"""

from __future__ import annotations

import difflib
import re
from typing import Sequence

# The closeness a user row needs to be pinned first (``closeness``). Chosen on 43 everyday-like
# pairs (tests/fixtures/user_rows_closeness.jsonl: rows a user would add, each with rewordings and
# value changes of the same task, and prompts for another task sharing most words: "stop" for
# "start", "extract" for "compress"); `python benchmarks/user_rows.py --closeness` prints them.
# Plain Dice left 5 errors at best (0.67-0.75): an opposite action shares all the other words.
# With the first word at 3 times the weight, 2 errors from 0.76 to 0.80 ("download the video" for
# "... as audio only" pinned; "list the pods" for "show pods" not): 0.78, the band's middle.
ACTION_WEIGHT = 3.0
PIN_ADDED = 0.78
# An accepted pick was written by the model and only chosen by the user: it is pinned for near
# repeats of its prompt only (in the fixture, a word added or dropped scores 0.9 and up; another
# value 0.80-0.89), and after the rows added on purpose.
PIN_PICK = 0.9
PICK_REF = "pick"
STOPWORDS = frozenset("""a an the of in into to for from on onto with within and or all any every my me i
this that these those it its please by at as under over some each using via""".split())
_STRIP = "\"'`,;:!?()[]{}"


def content_words(text: str) -> list[str]:
    """The words that say what is asked, lower-cased, a plural's "s" dropped; values such as
    `tar.gz`, `/opt` and `*.log` stay one word each."""
    out = []
    for w in text.lower().split():
        w = w.strip(_STRIP).rstrip(".")
        if not w or w in STOPWORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss") and w.isalpha():
            w = w[:-1]
        out.append(w)
    return out


def _weights(text: str) -> dict[str, float]:
    words = content_words(text)
    out: dict[str, float] = {}
    for i, w in enumerate(words):
        out[w] = max(out.get(w, 0.0), ACTION_WEIGHT if i == 0 else 1.0)
    return out


def closeness(prompt: str, nl: str) -> float:
    """Weighted Dice overlap of the two texts' content words (1.0 for the same words); the first,
    which names the action ("extract", "compress", "stop"), weighs ACTION_WEIGHT."""
    a, b = _weights(prompt), _weights(nl)
    if not a or not b:
        return 1.0 if prompt.strip().lower() == nl.strip().lower() else 0.0
    shared = sum(min(a[w], b[w]) for w in a.keys() & b.keys())
    return 2 * shared / (sum(a.values()) + sum(b.values()))


def is_pick(example) -> bool:
    return getattr(example, "ref", "") == PICK_REF


def pinned(prompt: str, examples: Sequence) -> list[int]:
    """Indices of the user's rows that match ``prompt`` closely enough to come first, in the order
    they should: rows added on purpose before accepted picks, then the closer first, then bm25's."""
    close = []
    for j, e in enumerate(examples):
        if e.source != "user":
            continue
        c = closeness(prompt, e.nl)
        if c >= (PIN_PICK if is_pick(e) else PIN_ADDED):
            close.append((is_pick(e), -c, j))
    return [j for _, _, j in sorted(close)]


def _words(text: str) -> list[str]:
    return [w.strip(_STRIP).rstrip(".") for w in text.split() if w.strip(_STRIP).rstrip(".")]


def value_swaps(prompt: str, nl: str, code: str) -> list[tuple[str, str]] | None:
    """When ``prompt`` is ``nl`` with some of its words replaced one for one, each replaced word
    written in ``code`` as a word of its own: the (nl word, prompt word) pairs ([] for the same
    prompt). None when the two say more than values apart (a word added, dropped, or replaced
    where the code does not hold it: "extract" for "compress" is another task, not a value)."""
    a, b = _words(nl), _words(prompt)
    swaps = []
    matcher = difflib.SequenceMatcher(a=[w.lower() for w in a], b=[w.lower() for w in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op != "replace" or i2 - i1 != j2 - j1:
            return None
        for old, new in zip(a[i1:i2], b[j1:j2]):
            if not re.search(r"(?<![\w.-])" + re.escape(old) + r"(?![\w-])", code):
                return None
            swaps.append((old, new))
    return swaps


class Found(list):
    """The examples one prompt's candidates edit, best first. ``pinned``: how many at the front
    are the user's close rows; ``swaps``: for each of those copied as it stands (its prompt differs
    from the user's in values at most), its value swaps."""

    pinned: int = 0
    swaps: dict[int, list[tuple[str, str]]]
    ranked: bool = False  # ordered by the ranking over every source (core/retrieval/ranker.py)

    @classmethod
    def of(cls, prompt: str, examples: Sequence, pinned: int = 0, ranked: bool = False) -> "Found":
        found = cls(examples)
        found.pinned, found.swaps, found.ranked = pinned, {}, ranked
        for j in range(pinned):
            swaps = value_swaps(prompt, examples[j].nl, examples[j].code)
            if swaps is not None:
                found.swaps[j] = swaps
        return found
