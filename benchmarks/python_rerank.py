"""Choose the weights that order Python's examples (core/retrieval/rerank.py, LANG_WEIGHTS["python"])
on CoNaLa's train prompts, never on its test split:

- the 2,300 train prompts in 5 folds by a hash of the prompt; each fold's prompts are ordered by
  tables learned without them (the other folds' train rows and the standard library's docstring
  rows, core/retrieval/pydocs.py), each retrieving from the shipped store without its own rows;
  the figure is the sentence BLEU of the first row against the prompt's reference (0..100);
- the everyday file's Python prompts (benchmarks/everyday.jsonl), tables from every row: the
  first row accepted (%), each half apart. Printed, never chosen on.

The weights: coordinate ascent on the folds' BLEU from the better of bm25's order and the shipped
weights, over the signals the tables give (bm25's rank, the prompt's values in the code, the word tables both ways). Printed: each
set's figure for bm25's order, the shipped weights and the ascent's, then the ascent's weights.

    python benchmarks/python_rerank.py --data ../shared/data/codefusion
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from dataclasses import astuple, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FOLDS = 5
SIGNALS = ("rank", "values", "forward_words", "backward_words")  # the others need a template parser


def fold(nl: str) -> int:
    from core.data.dev import _bucket

    return _bucket(re.sub(r"\s+", " ", nl.strip().lower()), "conala") % FOLDS


def tables(pairs):
    from core.retrieval.rerank import SCHEMA_LEXICON, Lexicon, lexicon_rows

    con = sqlite3.connect(":memory:")
    con.executescript(SCHEMA_LEXICON)
    con.executemany("INSERT INTO lexicon VALUES (?, ?, ?, ?, ?)", lexicon_rows("python", pairs))
    return Lexicon(con, "python")


def read_sets(data: str, log) -> dict[str, list]:
    """name -> [(each pool row's signals (Weights' order), each row's gain)]."""
    from core.data import load_pairs
    from core.metrics.everyday import load_everyday
    from core.metrics.python import sentence_bleu
    from core.retrieval.pydocs import with_values
    from core.retrieval.rerank import POOL
    from core.retrieval.user import shipped_store

    store = shipped_store()
    train = load_pairs("python", "train", data)
    docs = [(e.nl, e.code) for e in store.all_rows() if e.lang == "python" and e.source == "docs"]

    def pool(lexicon, prompt, exclude, gain):
        rows = [with_values(e, prompt) for e in store.retrieve(prompt, "python", POOL, exclude_nl=exclude)]
        codes = [r.code for r in rows]
        return (lexicon.features(prompt, codes), [gain(c) for c in codes]) if rows else None

    sets: dict[str, list] = {"conala (5 folds)": [], "everyday, dev half": [], "everyday, check half": []}
    prompts = list({p.nl: p for p in train}.values())
    for k in range(FOLDS):
        log(f"fold {k + 1} of {FOLDS} ...")
        lexicon = tables([(p.nl, p.code) for p in train if fold(p.nl) != k] + docs)
        for p in prompts:
            if fold(p.nl) == k and (got := pool(lexicon, p.nl, p.nl, lambda c, ref=p.code: sentence_bleu(c, ref))):
                sets["conala (5 folds)"].append(got)
    lexicon = tables([(p.nl, p.code) for p in train] + docs)
    for it in load_everyday(ROOT / "benchmarks" / "everyday.jsonl", "python"):
        half = "dev" if int(it.id.rsplit("-", 1)[1]) % 2 == 0 else "check"  # core/data/dev.py's halves
        if got := pool(lexicon, it.prompt, None, lambda c, it=it: float(it.accepts(c))):
            sets[f"everyday, {half} half"].append(got)
    return sets


def main() -> int:
    import numpy as np

    from core.retrieval.rerank import LANG_WEIGHTS, Weights

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the published data folder")
    a = p.parse_args()
    sets = {name: [(np.asarray(f, dtype=float), np.asarray(g)) for f, g in items]
            for name, items in read_sets(a.data, lambda m: print(m, file=sys.stderr, flush=True)).items()}

    def figures(w: Weights) -> dict[str, float]:
        v = np.asarray(astuple(w))
        return {name: 100 * float(np.mean([g[int(np.argmax(f @ v))] for f, g in items])) for name, items in sets.items()}

    def objective(w: Weights) -> float:
        return figures(w)["conala (5 folds)"]

    bm25 = Weights(**{f.name: 0.0 for f in fields(Weights)} | {"rank": 1.0})
    found = max([bm25, LANG_WEIGHTS["python"]], key=objective)  # from the better of the two
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
    print("first row: " + ", ".join(f"{name} {len(items)}" for name, items in sets.items())
          + " (conala: sentence BLEU; everyday: accepted %)")
    for label, w in (("bm25's order", bm25), ("shipped weights", LANG_WEIGHTS["python"]), ("coordinate ascent", found)):
        print(f"  {label:18} " + "  ".join(f"{k} {v:.1f}" for k, v in figures(w).items()))
    print(repr(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
