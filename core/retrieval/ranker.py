"""One ranking over every source of Bash examples: the train split, tldr-pages, the tools'
documentation and the user's rows.

The pool (store.pool) holds bm25's nearest curated rows, tldr rows and documentation rows, and the
nearest row of each tool the matcher (core/retrieval/matcher.py) guesses or whose documentation is
near. Each row gets signals:

- the re-ranking tables' (core/retrieval/rerank.py: how well the prompt's words explain the
  command and back, the prompt's values in it, agreement with the other rows), with the bm25 rank
  counted within the row's own source;
- the tool matcher's log-probability of the row's tool, and whether it is among its first guesses;
- where the tool's documentation (its tldr page's description) stands among bm25's nearest: a
  page says what a tool is for in words its examples may lack ("Disk usage: ..." for `du`);
- how common the tool is among curated and tldr rows (`du` against `gdu`), whether the prompt
  names it ("use jq", "`tar`") or names another, or has it as a word ("zip a folder");
- the row's source, a tldr row's platform and place on its page, the command's length for the
  prompt's;
- how closely the row's own description says what the prompt says (Dice over content words), and
  for tldr and documentation rows how closely the best curated row does: a prompt in NL2Bash's
  own wording keeps NL2Bash's answer;
- how many flags of the row's first command do nothing the prompt says, by their man page entries
  (core/retrieval/options.py): `find . -type d -name pattern -exec rm -r {} \\;` filters by a
  name "remove directory tree" never gave.

A linear score of them, its weights learned on a development mix only (held-out NL2Bash train
prompts, tldr development pages, the everyday file's dev half: benchmarks/rank_sources.py). Among
the first five rows, the candidates a user is shown, a second row of one tool gives way to another
tool's that scores nearly as well (``varied``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import astuple, dataclass, replace
from typing import Sequence

from core.retrieval.tools import TOOL_WORD, file_kinds, named_tools, tool_of

CURATED = ("train", "user")  # store.CURATED (the store imports this module, not the reverse)

RANKED_LANGS = ("bash",)  # Python and CF: curated rows first (store.retrieve), no tldr or docs rows
# bm25's nearest rows of each source: as many curated rows as before this ranking (rerank.POOL),
# so that their order is the tables' as it was.
POOL_SIZES = {"curated": 40, "tldr": 20, "docs": 5}
GUESSES = 5  # the tool matcher's first guesses, each brought into the pool by its nearest row
LOG_FLOOR = -12.0  # a matcher log-probability below this counts as this
# Among the first FIRST rows (the five candidates shown), a row past SAME_TOOL of its tool waits
# for the next row of another tool that scores at most MARGIN below it: NL2Bash's thousands of
# `find` rows otherwise fill all five with one tool's variants ("remove directory tree": four `find
# ... -exec rm` and no `rm -r`). Chosen on the development mix (docs/results.md, "At most two rows
# of one tool among the first five", then "One row of a tool among the first five").
FIRST, SAME_TOOL, MARGIN = 5, 1, 1.0
_STOP = frozenset("a an the of in on to and or for with from by all any each this that these those it its is are "
                  "be as at into under current given named called which whose than".split())


@dataclass(frozen=True)
class RankWeights:
    forward: float = 0.5
    backward: float = 2.0
    rank: float = 0.5
    agreement: float = 2.0
    values: float = 1.0
    forward_words: float = 1.0
    backward_words: float = 1.5
    matcher: float = 0.0  # log p(the row's tool | prompt), floored at LOG_FLOOR
    guessed: float = 0.0  # the row's tool is among the matcher's GUESSES
    curated_count: float = 0.0  # log(1 + curated rows that run the tool)
    tldr_count: float = 0.0  # log(1 + tldr rows that run the tool)
    named_cued: float = 0.0  # the prompt names the tool with a cue
    named: float = 0.0  # the prompt names it by the word alone
    other_named: float = 0.0  # the prompt names (with a cue) a tool the row does not run
    tldr: float = 0.0
    docs: float = 0.0
    platform: float = 0.0  # a tldr row from pages/linux (against pages/common)
    position: float = 0.0  # -log(place on its page), tldr rows
    length: float = 0.0  # -log(command words per prompt word)
    dice: float = 0.0  # the row's description against the prompt
    curated_near: float = 0.0  # a tldr or docs row: the best curated row's dice
    mentions: float = 0.0  # log(1 + texts of the store that name the tool): mainstream against niche
    said: float = 0.0  # the tool is a word of the prompt, common English words too ("zip", "free")
    documented: float = 0.0  # 1 / (1 + the place of the tool's documentation among bm25's nearest)
    unasked_flags: float = 0.0  # its first command's flags whose man page entries say nothing the prompt says


# The tables' own weights and nothing else: the order before this ranking (curated rows only).
TABLES_ONLY = RankWeights()
_TLDR, _DOCS = 14, 15  # the places of the source signals in a row's features
# Learned on the development mix (2026-12-06: `python benchmarks/rank_sources.py --data
# ../shared/data/codefusion --limit 500`; docs/results.md, "One ranking over every source",
# "Documentation as evidence", refitted for the matcher that learns every tool a command runs,
# "The matcher learns every tool a command runs", and for the man pages' option entries, "Flags
# the prompt does not ask for").
WEIGHTS = RankWeights(forward=-0.04, backward=0.12, rank=0.38, agreement=0.58, values=1.51, forward_words=0.09,
                      backward_words=0.32, matcher=0.31, guessed=-0.32, curated_count=-0.11, tldr_count=0.02,
                      named_cued=2.48, named=0.24, other_named=-0.36, tldr=-0.29, docs=0.24, platform=-0.12,
                      position=-0.31, length=0.22, dice=1.48, curated_near=-1.73, mentions=0.06, said=1.29,
                      documented=1.61, unasked_flags=-0.8)


def prompt_words(prompt: str) -> set[str]:
    """The words of a prompt that could be a tool's name (`zip`, `docker-compose`, `g++`)."""
    return set(TOOL_WORD.findall(prompt.lower()))


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[^\W_]+", text.lower()) if w not in _STOP}


def dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


def _place(ref: str) -> int:
    """``tldr:common/tar#3`` -> 3."""
    tail = ref.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() and int(tail) > 0 else 1


def features(prompt: str, rows: Sequence, lexicon, counts: dict[str, tuple[int, int]],
             guesses: dict[str, float], mentions: dict[str, int] | None = None,
             documented: Sequence[str] = (), options=None) -> list[tuple[float, ...]]:
    """Each row's signals in RankWeights' order. ``rows``: the pool (Example-like: code, source,
    ref, nl); ``counts``: store.tool_counts; ``guesses``: the matcher's tool -> log-probability,
    best first (ToolMatcher.scores; a tool it lacks counts as LOG_FLOOR); ``mentions``: store.mentions;
    ``documented``: the tools of bm25's nearest documentation rows, nearest first; ``options``:
    store.options (core/retrieval/options.py), or None."""
    from core.retrieval.rerank import template_tokens

    # The tables' signals within each side: the curated rows' as they were before this ranking.
    curated_rows = [j for j, r in enumerate(rows) if r.source in CURATED]
    other_rows = [j for j, r in enumerate(rows) if r.source not in CURATED]
    tables: list = [(0.0,) * 7] * len(rows)
    read = lexicon.tables(prompt, codes=[r.code for r in rows]) if lexicon is not None else None
    for side in (curated_rows, other_rows):
        if lexicon is not None and side:
            for j, f in zip(side, lexicon.features(prompt, [rows[j].code for j in side], read)):
                tables[j] = f
    cued, plain = named_tools(prompt)
    words = prompt_words(prompt) - file_kinds(prompt)
    known_cued = {w for w in cued if w in counts}
    said = content_words(prompt)
    n_words = max(1, len(prompt.split()))
    nears = [dice(said, content_words(r.nl)) for r in rows]
    best_curated = max([d for d, r in zip(nears, rows) if r.source in CURATED], default=0.0)
    seen: dict[str, int] = {}
    top = set(list(guesses)[:GUESSES])
    out = []
    for r, t, near in zip(rows, tables, nears):
        group = "curated" if r.source in CURATED else r.source
        rank = seen.get(group, 0)
        seen[group] = rank + 1
        tool = tool_of(r.code)
        curated, tldr_rows = counts.get(tool, (0, 0))
        tldr, docs = r.source == "tldr", r.source == "docs"
        out.append((t[0], t[1], -math.log(1 + rank), t[3], t[4], t[5], t[6],
                    max(LOG_FLOOR, guesses.get(tool, LOG_FLOOR)), float(tool in top),
                    math.log1p(curated), math.log1p(tldr_rows),
                    float(tool in cued), float(tool in plain and tool not in cued),
                    float(bool(known_cued) and tool not in known_cued),
                    float(tldr), float(docs), float(tldr and r.ref.startswith("tldr:linux/")),
                    -math.log(_place(r.ref)) if tldr else 0.0,
                    -math.log(max(1, len(r.code.split())) / n_words),
                    near, best_curated if (tldr or docs) else 0.0, math.log1p((mentions or {}).get(tool, 0)),
                    float(tool in words), 1 / (1 + documented.index(tool)) if tool in documented else 0.0,
                    float(options.unasked(prompt, template_tokens(r.code))) if options is not None else 0.0))
    return out


def scores(feats: Sequence[Sequence[float]], weights: RankWeights = WEIGHTS) -> list[float]:
    w = astuple(weights)
    return [sum(a * b for a, b in zip(w, f)) for f in feats]


def curated_first(feats: Sequence[Sequence[float]]) -> list[int]:
    """The curated rows (neither tldr nor docs), in the tables' own order (rerank.WEIGHTS): the
    order they had before this ranking, which NL2Bash's own wording is best served by."""
    from core.retrieval.rerank import WEIGHTS as TABLES

    t = astuple(TABLES)
    curated = [j for j, f in enumerate(feats) if not f[_TLDR] and not f[_DOCS]]
    return sorted(curated, key=lambda j: (-sum(a * b for a, b in zip(t, feats[j][:len(t)])), j))


def order(feats: Sequence[Sequence[float]], weights: RankWeights = WEIGHTS,
          s: Sequence[float] | None = None) -> list[int]:
    """Indices best first: the curated rows keep the tables' order among themselves, the tldr and
    docs rows the learned score's, and the two lists merge by the learned score (a tldr row comes
    before a curated one only where it scores higher than it and every curated row before it).
    ``s``: ``scores(feats, weights)`` where the caller has them already."""
    s = scores(feats, weights) if s is None else s
    curated = curated_first(feats)
    taken = set(curated)
    others = sorted((j for j in range(len(feats)) if j not in taken), key=lambda j: (-s[j], j))
    out, i, k = [], 0, 0
    while i < len(curated) or k < len(others):
        if k == len(others) or (i < len(curated) and s[curated[i]] >= s[others[k]]):
            out.append(curated[i])
            i += 1
        else:
            out.append(others[k])
            k += 1
    return out


def varied(best: Sequence[int], tools: Sequence[str], score: Sequence[float], first: int = FIRST,
           most: int = SAME_TOOL, margin: float = MARGIN) -> list[int]:
    """``best`` (indices, best first) where, among the first ``first``, a row past ``most`` of its
    tool gives its place to the next row of a tool not yet shown ``most`` times, if that row's
    ``score`` is at most ``margin`` below its own."""
    rest, head, shown = list(best), [], Counter()
    while rest and len(head) < first:
        j = rest[0]
        if shown[tools[j]] >= most:
            other = next((i for i in rest if shown[tools[i]] < most), None)
            if other is not None and score[other] >= score[j] - margin:
                j = other
        rest.remove(j)
        head.append(j)
        shown[tools[j]] += 1
    return head + rest


@dataclass(frozen=True)
class Clues:
    """What the ranking reads of a prompt besides its pool's rows."""
    guesses: dict[str, float]  # the tool matcher's tool -> log-probability, best first
    documented: tuple[str, ...] = ()  # the tools of the nearest documentation rows, nearest first


class Ranker:
    """The ranking of one store's Bash rows: its tables, tool counts and matcher."""

    def __init__(self, store, lang: str = "bash", weights: RankWeights = WEIGHTS):
        self.store, self.lang, self.weights = store, lang, weights
        self.lexicon = store.lexicon(lang)
        self.matcher = store.matcher()

    def guesses(self, prompt: str) -> dict[str, float]:
        """tool -> the matcher's log-probability, every tool it knows, best first ({} without a matcher)."""
        return self.matcher.scores(prompt) if self.matcher is not None else {}

    def pool(self, prompt: str, exclude_nl: str | None = None) -> tuple[list, Clues]:
        """The rows to rank, and what the ranking reads of the prompt besides them."""
        guesses = self.guesses(prompt)
        first = list(guesses)[:GUESSES]
        counts = self.store.tool_counts(self.lang)
        found = self.store.nearest(prompt, self.lang, POOL_SIZES, exclude_nl)
        # A tool's documentation names what it is for in words its examples may lack ("Disk usage"
        # for du): a tool whose page description is near brings its nearest example in.
        documented = tuple(dict.fromkeys(tool_of(e.code) for e in found["docs"]))
        tools = list(dict.fromkeys(first + [t for t in documented if t in counts]))
        rows = self.store.pool(prompt, self.lang, POOL_SIZES, tools=tools, exclude_nl=exclude_nl, found=found)
        return rows, Clues(guesses, documented)

    def features(self, prompt: str, rows: Sequence, clues: Clues) -> list[tuple[float, ...]]:
        self.store.read_templates(r.code for r in rows)
        return features(prompt, rows, self.lexicon, self.store.tool_counts(self.lang), clues.guesses,
                        self.store.mentions(self.lang), clues.documented, self.store.options())

    def rank(self, prompt: str, exclude_nl: str | None = None) -> list:
        """The pool, best first."""
        rows, clues = self.pool(prompt, exclude_nl)
        feats = self.features(prompt, rows, clues)
        s = scores(feats, self.weights)
        best = varied(order(feats, self.weights, s), [tool_of(r.code) for r in rows], s)
        return [self._with_placeholders(rows[j]) for j in best]

    def _with_placeholders(self, row):
        """A tldr row with its value placeholders (core/retrieval/values.py fills them)."""
        found = self.store.placeholders(row.ref) if row.source == "tldr" else ()
        return replace(row, placeholders=found) if found else row
