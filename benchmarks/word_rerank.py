"""Choose the weights that order Python's or CF's examples by the word tables
(core/retrieval/rerank.py, LANG_WEIGHTS) on the language's train split, never on its test split:

- the train prompts in 5 folds by a hash of the prompt; each fold's prompts are ordered by tables
  learned without them (the other folds' rows of the language's TABLE_SOURCES: for Python the
  train split and the standard library's docstring rows, core/retrieval/pydocs.py), each
  retrieving from the shipped store without its own rows. The figure, of the first row against
  the prompt's reference: Python, sentence BLEU (0..100); CF, exact match with numbers and
  quoted strings aside (%: the rule's structure; the model puts the prompt's values in through
  its slots);
- Python only: the everyday file's Python prompts (benchmarks/everyday.jsonl; its dev half with
  benchmarks/everyday-dev.jsonl's 73 Python prompts), tables from every row: the first row
  accepted (%), each half apart. Printed, never chosen on.

The weights: coordinate ascent on the folds' figure from the better of bm25's order and the
shipped weights, over the signals the word tables give (bm25's rank, the prompt's values in the
code, the word tables both ways). Printed: each set's figure for bm25's order, the shipped
weights and the ascent's, then the ascent's weights.

    python benchmarks/word_rerank.py --data ../shared/data/codefusion [--lang python|cf] [--pool N]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import astuple, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FOLDS = 5
SIGNALS = ("rank", "values", "forward_words", "backward_words")  # the others need a template parser
FOLDS_SET = "train, 5 folds"


def fold(nl: str, lang: str) -> int:
    from core.data.dev import _bucket

    return _bucket(re.sub(r"\s+", " ", nl.strip().lower()), {"python": "conala"}.get(lang, lang)) % FOLDS


def rule_shape(code: str) -> str:
    """A CF rule without its values: numbers and quoted strings as N and S, no spaces, any case."""
    code = re.sub(r"\s+", "", code.lower())
    return re.sub(r"\d+(?:\.\d+)?", "N", re.sub(r'"[^"]*"', "S", code))


def read_sets(data: str, lang: str, log, size: int | None = None) -> dict[str, list]:
    """name -> [(each pool row's signals (Weights' order), each row's gain)]."""
    from core.data import load_pairs
    from core.data.dev import dev_everyday
    from core.metrics.everyday import load_everyday
    from core.metrics.python import sentence_bleu
    from core.retrieval.pydocs import with_values
    from core.retrieval.rerank import POOL, TABLE_SOURCES, Lexicon
    from core.retrieval.user import shipped_store

    store = shipped_store()
    train = load_pairs(lang, "train", data)
    more = [(e.nl, e.code) for e in store.all_rows() if e.lang == lang and e.source in TABLE_SOURCES[lang]
            and e.source != "train"]

    def gain_of(reference: str):
        if lang == "python":
            return lambda code: sentence_bleu(code, reference)
        return lambda code: float(rule_shape(code) == rule_shape(reference))

    def pool(lexicon, prompt, exclude, gain):
        rows = store.retrieve(prompt, lang, size or POOL, exclude_nl=exclude)
        if lang == "python":  # a documentation row's call takes the prompt's values, as cf reads it
            rows = [with_values(e, prompt) for e in rows]
        codes = [r.code for r in rows]
        return (lexicon.features(prompt, codes), [gain(c) for c in codes]) if rows else None

    sets: dict[str, list] = {FOLDS_SET: []}
    prompts = list({p.nl: p for p in train}.values())
    for k in range(FOLDS):
        log(f"fold {k + 1} of {FOLDS} ...")
        lexicon = Lexicon.learned(lang, [(p.nl, p.code) for p in train if fold(p.nl, lang) != k] + more)
        for p in prompts:
            if fold(p.nl, lang) == k and (got := pool(lexicon, p.nl, p.nl, gain_of(p.code))):
                sets[FOLDS_SET].append(got)
    if lang == "python":
        lexicon = Lexicon.learned(lang, [(p.nl, p.code) for p in train] + more)
        halves = [(it, "dev" if dev_everyday(it.id) else "check")
                  for it in load_everyday(ROOT / "benchmarks" / "everyday.jsonl", "python")]
        halves += [(it, "dev") for it in load_everyday(ROOT / "benchmarks" / "everyday-dev.jsonl", "python")]
        for it, half in halves:
            if got := pool(lexicon, it.prompt, None, lambda c, it=it: float(it.accepts(c))):
                sets.setdefault(f"everyday, {half} half", []).append(got)
    return sets


def main() -> int:
    import numpy as np

    from core.retrieval.rerank import LANG_WEIGHTS, Weights

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the published data folder")
    p.add_argument("--lang", default="python", choices=("python", "cf"))
    p.add_argument("--pool", type=int, help="re-order this many of bm25's nearest (default: rerank.POOL, as cf does)")
    a = p.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    sets = {name: [(np.asarray(f, dtype=float), np.asarray(g)) for f, g in items]
            for name, items in read_sets(a.data, a.lang, log, a.pool).items()}

    def figures(w: Weights) -> dict[str, float]:
        v = np.asarray(astuple(w))
        return {name: 100 * float(np.mean([g[int(np.argmax(f @ v))] for f, g in items])) for name, items in sets.items()}

    def objective(w: Weights) -> float:
        return figures(w)[FOLDS_SET]

    bm25 = Weights(**{f.name: 0.0 for f in fields(Weights)} | {"rank": 1.0})
    found = max([bm25, LANG_WEIGHTS.get(a.lang, bm25)], key=objective)  # from the better of the two
    value = objective(found)
    for _ in range(8):
        moved = False
        for name in SIGNALS:
            for step in (-1.0, -0.5, -0.2, -0.1, 0.1, 0.2, 0.5, 1.0):
                trial = replace(found, **{name: round(getattr(found, name) + step, 2)})
                v = objective(trial)
                if v > value + 0.05:
                    found, value, moved = trial, v, True
        if not moved:
            break
    what = "sentence BLEU" if a.lang == "python" else "exact match, values aside (%)"
    print(f"{a.lang}, first row: " + ", ".join(f"{name} {len(items)}" for name, items in sets.items())
          + f" (train: {what}; everyday: accepted %)")
    for label, w in (("bm25's order", bm25), ("shipped weights", LANG_WEIGHTS.get(a.lang, bm25)),
                     ("coordinate ascent", found)):
        print(f"  {label:18} " + "  ".join(f"{k} {v:.1f}" for k, v in figures(w).items()))
    print(repr(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
