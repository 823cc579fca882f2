"""Ordering examples (Bash, Python, CF) and Bash candidates by what the prompt says, not only by bm25.

bm25 ranks train prompts by shared words, so "display all directories in /myfiles" finds "find
all symlinks in the /myfiles directory tree" first. These signals put the right command first:

- lexical translation models (IBM Model 1, Brown et al. 1993) between the prompt's words and a
  command, learned from the train split in both directions when the store is built: how well the
  prompt explains the command and the command the prompt. One reads the command's template
  (core.metrics.bash: utilities, flags, argument kinds; `-type d` from "directories"), one its
  words and symbols as written (`*.pl` from "perl", `/` from "file system", `~` from "home"),
  which is what tells apart the neighbours that share a template;
- the prompt's values found in the command (`/myfiles`, `60` for `-mmin -60`);
- agreement between the commands (a minimum-Bayes-risk choice: the template most of the nearest
  agree on) and the bm25 rank.

`order` ranks the pool a retrieval model edits from (POOL nearest by bm25) and then its
candidates (CANDIDATE_WEIGHTS); the user's own examples keep bm25's place (`keeping`). The weights
were chosen on 800 train prompts held out of the tables, each retrieving without its own rows
(`python benchmarks/bash_rerank.py --lexicon` and `--candidates`, docs/results.md "Retrieval").

Python and CF have the word tables only (no template parser) and weights of their own, chosen on
their train prompts, each fold's tables learned without it (`python benchmarks/word_rerank.py`):
"replace a substring in a string" finds `string.find('substring')` first by bm25, the tables
`line.replace(';', ':')`. Their candidates keep their examples' order.
"""

from __future__ import annotations

import math
import re
from dataclasses import astuple, dataclass
from functools import lru_cache
from typing import Iterable, Sequence

# Languages with a lexicon, the rows each learns from (Python: the standard library's docstrings
# say what a call does in a user's words; with them the everyday file's check half went 50.0 ->
# 63.6, CoNaLa held no lower), and those with template tables too (a parser of the code's
# template: core.metrics.bash).
TABLE_SOURCES = {"bash": ("train",), "python": ("train", "docs"), "cf": ("train",)}
TEMPLATE_LANGS = ("bash",)
# Examples read by bm25 before re-ordering: a retrieval model edits the first k of them. 40: on
# the held-out prompts 20, 40, 60 and 100 scored 137.1, 138.0, 138.0 and 137.6 by the weights'
# objective (benchmarks/bash_rerank.py --lexicon --pool N): 40, the cheaper of the tie.
POOL = 40
NULL = "<null>"  # IBM Model 1's empty word: a token no word of the other side explains
FLOOR = 1e-6  # a pair the tables do not hold
KEEP = 1e-3  # pairs below this are not stored (they count as FLOOR)
EM_ROUNDS = 8
SCHEMA_LEXICON = """
CREATE TABLE IF NOT EXISTS lexicon(
  lang TEXT NOT NULL, direction TEXT NOT NULL, src TEXT NOT NULL, tgt TEXT NOT NULL, p REAL NOT NULL,
  PRIMARY KEY(lang, direction, src, tgt)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Weights:
    """Chosen on the held-out prompts by coordinate ascent on top-1 template match + 3 x exact
    match + template accuracy (benchmarks/bash_rerank.py --lexicon): exact match, the figure the
    lookup table led on, counts three times."""
    forward: float = 0.5  # mean log p(command's template tokens | prompt's words)
    backward: float = 2.0  # mean log p(prompt's words | command's template tokens)
    rank: float = 0.5  # -log(1 + bm25 rank)
    agreement: float = 2.0  # rank-weighted template cosine with the other commands
    values: float = 1.0  # prompt values the command has
    forward_words: float = 1.0  # mean log p(command's words | prompt's words)
    backward_words: float = 1.5  # mean log p(prompt's words | command's words)


WEIGHTS = Weights()
# Python and CF: the word tables, bm25's rank and the prompt's values (2026-12-07, `python
# benchmarks/word_rerank.py --data ../shared/data/codefusion --lang L`; the first row over the
# train prompts in 5 folds: Python's BLEU 26.6 -> 30.1, CF's rules right but for their values
# 45.9 -> 52.1 %).
LANG_WEIGHTS = {"bash": WEIGHTS,
                "python": Weights(forward=0.0, backward=0.0, rank=0.3, agreement=0.0, values=1.7, forward_words=0.3,
                                  backward_words=1.2),
                "cf": Weights(forward=0.0, backward=0.0, rank=0.3, agreement=0.0, values=1.2, forward_words=0.4,
                              backward_words=1.8)}
# The model's candidates, each an edit of one of those examples (or the example kept): the same
# score with more weight on the place of the example edited. 1.5 was the best of 0.5 (the
# examples' own), 1, 1.5, 2 and 3 on the held-out prompts with pools of 20, and ties with the
# examples' order with pools of 40 (benchmarks/bash_rerank.py --candidates). Bash only.
CANDIDATE_WEIGHTS = Weights(rank=1.5)
_NUMBER = re.compile(r"[+-]?(\d+(?:\.\d+)?)[a-zA-Z]{0,2}")
_VALUE = re.compile(r"[./*~0-9]")


def prompt_words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def code_words(code: str) -> list[str]:
    """A command as written, in words and single symbols: `find ~ -name *.pl` ->
    find ~ - name * . pl."""
    return re.findall(r"[^\W_]+|[^\w\s]", code.lower())


# Templates a store parsed when it was built (ExampleStore.read_templates), so a prompt's pool is not
# parsed again; bounded, for a server that answers for days.
_KNOWN: dict[str, tuple[str, ...]] = {}
_KNOWN_MAX = 200_000


def known_templates(templates: dict[str, tuple[str, ...]]) -> None:
    if len(_KNOWN) + len(templates) > _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN.update(templates)


def template_tokens(code: str) -> tuple[str, ...]:
    """A command's template tokens: as its store parsed them, else parsed (and cached)."""
    known = _KNOWN.get(code)
    return known if known is not None else _parsed_template(code)


@lru_cache(maxsize=32768)
def _parsed_template(code: str) -> tuple[str, ...]:
    """Cached: a prompt's candidates are mostly its examples unchanged, parsed once already; and a
    store's build parses each train command once for its tables and its templates table."""
    from core.metrics.bash import bash_template
    from core.metrics.python import MetricUnavailable

    try:
        return tuple(bash_template(code))
    except MetricUnavailable:
        return ()


def _value(word: str) -> str:
    """A value as both sides write it: a number without its sign or unit (`+10k`, "10KB")."""
    m = _NUMBER.fullmatch(word)
    return "#" + m.group(1) if m else word


def prompt_values(prompt: str) -> set[str]:
    return {_value(w.strip("\"'`.,;:?!()")) for w in prompt.split()}


def shared_values(said: set[str], code: str) -> int:
    """How many of the command's values (paths, globs, numbers) the prompt names (``said``:
    prompt_values of the prompt)."""
    words = {_value(w) for w in re.split(r"[\s'\"=|;&()<>`$,]+", code)
             if w and (not w.startswith("-") or _NUMBER.fullmatch(w))}  # flags are not values; -60 is
    return len({w for w in words if _VALUE.search(w) and w not in (".", "/", "{}", "\\;")} & said)


def ibm1(pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
         rounds: int = EM_ROUNDS) -> dict[tuple[str, str], float]:
    """p(target token | source word) by expectation-maximisation over (source, target) pairs.
    Each round over every (pair, target, source) triple at once (numpy's bincount): pair by
    pair in Python it was most of a store build's minute."""
    import numpy as np

    keys: dict[tuple[str, str], int] = {}  # (target, source) -> its index in p
    key_of, group_of = [], []  # per triple: its (target, source) and its (pair, target position)
    groups = 0
    for sources, ts in pairs:
        sources = [*sources, NULL]
        for t in ts:
            for s in sources:
                key_of.append(keys.setdefault((t, s), len(keys)))
                group_of.append(groups)
            groups += 1
    if not keys:
        return {}
    key_of, group_of = np.asarray(key_of), np.asarray(group_of)
    names = list(keys)
    source_ids: dict[str, int] = {}
    source_of = np.asarray([source_ids.setdefault(s, len(source_ids)) for _, s in names])
    targets = {t for _, ts in pairs for t in ts}
    p = np.full(len(names), 1.0 / max(1, len(targets)))
    for _ in range(rounds):
        share = p[key_of]
        c = share / np.bincount(group_of, weights=share, minlength=groups)[group_of]
        count = np.bincount(key_of, weights=c, minlength=len(names))
        p = count / np.bincount(source_of, weights=count, minlength=len(source_ids))[source_of]
    return dict(zip(names, p.tolist()))


def lexicon_rows(lang: str, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str, str, str, float]]:
    """The stored tables of (nl, code) pairs: (lang, direction, source, target, p), both ways,
    for template tokens (w2t, t2w; TEMPLATE_LANGS) and the code's words (w2c, c2w)."""
    pairs = list(pairs)
    rows = []
    sides = (("w2t", "t2w", template_tokens),) if lang in TEMPLATE_LANGS else ()
    for forward, backward, side in (*sides, ("w2c", "c2w", code_words)):
        both = [(prompt_words(nl), side(code)) for nl, code in pairs]
        both = [(w, t) for w, t in both if w and t]
        for direction, table in ((forward, ibm1(both)), (backward, ibm1([(t, w) for w, t in both]))):
            rows += [(lang, direction, s, t, p) for (t, s), p in table.items() if p >= KEEP]
    return rows


class Lexicon:
    """The tables of one language, read from a store as each prompt needs them."""

    def __init__(self, con, lang: str) -> None:
        self._con, self.lang = con, lang

    @classmethod
    def learned(cls, lang: str, pairs: Iterable[tuple[str, str]]) -> "Lexicon":
        """Tables learned from (nl, code) pairs and kept in memory, not in a store: the benchmarks'
        held-out tables (any thread may read them)."""
        import sqlite3

        con = sqlite3.connect(":memory:", check_same_thread=False)
        con.executescript(SCHEMA_LEXICON)
        con.executemany("INSERT INTO lexicon VALUES (?, ?, ?, ?, ?)", lexicon_rows(lang, pairs))
        return cls(con, lang)

    def _table(self, direction: str, sources: set[str], targets: set[str] | None = None) -> dict:
        sources = sorted(sources | {NULL})
        sql = (f"SELECT src, tgt, p FROM lexicon WHERE lang = ? AND direction = ? "
               f"AND src IN ({','.join('?' * len(sources))})")
        args: list = [self.lang, direction, *sources]
        if targets is not None:
            sql += f" AND tgt IN ({','.join('?' * len(targets))})"
            args += sorted(targets)
        return {(t, s): p for s, t, p in self._con.execute(sql, args)}

    def tables(self, prompt: str, codes: Sequence[str]) -> tuple[dict, dict, dict, dict]:
        """The four tables' entries ``features`` reads for the prompt and any of ``codes``."""
        words = set(prompt_words(prompt))
        templates: tuple[dict, dict] = ({}, {})
        if self.lang in TEMPLATE_LANGS:
            templates = (self._table("w2t", words),
                         self._table("t2w", {t for c in codes for t in template_tokens(c)}, words))
        return (*templates, self._table("w2c", words),
                self._table("c2w", {t for c in codes for t in code_words(c)}, words))

    def _tokens(self, code: str) -> tuple[str, ...]:
        return template_tokens(code) if self.lang in TEMPLATE_LANGS else ()

    def features(self, prompt: str, codes: Sequence[str], tables: tuple | None = None) -> list[tuple[float, ...]]:
        """Each code's signals for the prompt, in Weights' order; ``codes`` in bm25 (or example)
        order. ``tables``: ``self.tables`` of these codes or more (read once for several lists)."""
        words = prompt_words(prompt)
        tokens = [self._tokens(c) for c in codes]
        written = [code_words(c) for c in codes]
        forward, backward, forward_words, backward_words = tables or self.tables(prompt, codes)
        agreement = _agreement(tokens)
        said = prompt_values(prompt)
        prompt_side, each_prompt = [[*words, NULL]] * len(codes), [words] * len(codes)
        columns = (_mean_logs(tokens, prompt_side, forward),
                   _mean_logs(each_prompt, [[*ts, NULL] for ts in tokens], backward),
                   _mean_logs(written, prompt_side, forward_words),
                   _mean_logs(each_prompt, [[*cs, NULL] for cs in written], backward_words))
        return [(columns[0][j], columns[1][j], -math.log(1 + j), agreement[j], float(shared_values(said, code)),
                 columns[2][j], columns[3][j]) for j, code in enumerate(codes)]

    def order(self, prompt: str, codes: Sequence[str], weights: Weights | None = None,
              pinned: Iterable[int] = ()) -> list[int]:
        """Indices of ``codes``, best first (ties keep their order); each ``pinned`` index keeps
        its own place (``keeping``). ``weights``: the language's (LANG_WEIGHTS) by default."""
        return keeping(ranked(self.features(prompt, codes), weights or LANG_WEIGHTS[self.lang]), pinned)


def keeping(order: Sequence[int], pinned: Iterable[int]) -> list[int]:
    """``order`` with each pinned index back at its own place: the user's examples stay where bm25
    put them (the tables never saw them, and a user's own example should win), the train rows
    around them take the re-ordered places."""
    pinned = set(pinned)
    rest = iter([j for j in order if j not in pinned])
    return [j if j in pinned else next(rest) for j in range(len(order))]


def ranked(features: Sequence[Sequence[float]], weights: Weights = WEIGHTS) -> list[int]:
    w = astuple(weights)
    s = [sum(a * b for a, b in zip(w, f)) for f in features]
    return sorted(range(len(s)), key=lambda j: (-s[j], j))


def _agreement(tokens: Sequence[Sequence[str]]) -> list[float]:
    """Each code's agreement with the others: the cosine of their template-token bags (core.metrics.
    bash._cosine's), weighted by the other's rank 1/(1 + i). As one matrix product: a pool's pairs
    were a fifth of the ranking's time."""
    import numpy as np

    index: dict[str, int] = {}
    for ts in tokens:
        for t in ts:
            index.setdefault(t, len(index))
    bags = np.zeros((len(tokens), max(1, len(index))))
    for j, ts in enumerate(tokens):
        for t in ts:
            bags[j, index[t]] += 1
    norms = np.sqrt((bags * bags).sum(1))
    both = np.outer(norms, norms)
    cos = np.divide(bags @ bags.T, both, out=np.zeros_like(both), where=both > 0)
    np.fill_diagonal(cos, 0.0)
    return (cos @ (1.0 / (1 + np.arange(len(tokens))))).tolist()


def _mean_logs(targets: Sequence[Sequence[str]], sources: Sequence[Sequence[str]], table: dict) -> list[float]:
    """For each row j, the mean over ``targets[j]`` of log of the mean over ``sources[j]`` of
    p(target | source), FLOOR where the table holds no pair (IBM Model 1's likelihood, per token).
    As one matrix product over the pool's words and tokens (pair by pair it was most of the
    ranking's Python time)."""
    import numpy as np

    t_index = {t: i for i, t in enumerate(dict.fromkeys(t for ts in targets for t in ts))}
    s_index = {s: i for i, s in enumerate(dict.fromkeys(s for ss in sources for s in ss))}
    p = np.full((max(1, len(t_index)), max(1, len(s_index))), FLOOR)
    for (t, s), value in table.items():
        if t in t_index and s in s_index:
            p[t_index[t], s_index[s]] = value
    counts = np.zeros((p.shape[1], len(sources)))
    for j, ss in enumerate(sources):
        for s in ss:
            counts[s_index[s], j] += 1
    mass = np.log((p @ counts) / np.maximum(counts.sum(0), 1))
    return [float(mass[[t_index[t] for t in ts], j].mean()) if ts else math.log(FLOOR)
            for j, ts in enumerate(targets)]
