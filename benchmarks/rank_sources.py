"""Choose the weights of the tool signals (core/retrieval/tools.py) that rank every source's rows
together, on a development mix, never on a test split:

- 800 NL2Bash train prompts held out of the re-ranking tables, each retrieving without its own
  rows (benchmarks/bash_rerank.py's ``held_out``): top-1 template match + 3 x exact match +
  template accuracy, over 5 (the tables' objective, on a 0..100 scale);
- the tldr-pages development pages (core/data/tldr.py ``dev_page``: the hash bucket after the
  benchmark's held-out one, disjoint from it): their rows leave the store (so do the held-out
  test pages'), each example's description retrieves; top-1 right tool (%; the tool as tools.tool_of reads it, a cheap stand-in for the benchmark's
  first utility);
- the development half of benchmarks/everyday.jsonl's Bash prompts (cfcli/bench_everyday.py ``dev_half``: even-numbered
  ids, bash-002, bash-004, ...): top-1 accepted (%).

The objective is the mean of the three. Lookup figures (no model): each prompt's pool (rerank.POOL
rows from store.retrieve: half curated, half tldr), ordered by the re-ranking with the tool
signals; the first row's code is the answer. Weights by coordinate ascent from zero (the old
order: tables only), printed beside the shipped TOOL_WEIGHTS.

    python benchmarks/rank_sources.py --data ../shared/data/codefusion [--tldr-limit N]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from dataclasses import astuple
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def dev_store(dest: Path):
    """A copy of the shipped store without the tldr test pages' and development pages' rows."""
    import sqlite3

    from core.data.tldr import dev_page, held_out
    from core.retrieval.store import ExampleStore
    from core.retrieval.user import shipped_store

    con = sqlite3.connect(dest)
    shipped_store()._con.backup(con)
    con.create_function("gone", 1, lambda ref: held_out(ref) or dev_page(ref), deterministic=True)
    con.execute("DELETE FROM examples WHERE source = 'tldr' AND gone(ref)")
    con.commit()
    con.close()
    return ExampleStore(dest)


def main() -> int:
    from bash_rerank import ascend, held_out, scores
    from cfcli.bench_everyday import dev_half
    from cfcli.bench_tldr import find_tarball
    from core.data.tldr import command, dev_page, load_tldr
    from core.metrics.everyday import load_everyday
    from core.retrieval.rerank import POOL, WEIGHTS
    from core.retrieval.tools import TOOL_WEIGHTS, ToolStats, ToolWeights, tool_of

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="the published data folder")
    p.add_argument("--tldr-limit", type=int, help="the first N development tldr examples only")
    p.add_argument("--nl2bash-limit", type=int, help="the first N held-out NL2Bash prompts only")
    p.add_argument("--shipped-tables", action="store_true",
                   help="a quick look: the shipped tables (which saw the NL2Bash prompts) instead of learning "
                        "tables without them (about 40 s of CPU)")
    a = p.parse_args()

    if a.shipped_tables:
        import random

        from cfcli.evaluate import load_items
        from core.retrieval.user import shipped_store

        train = load_items("bash", "train", a.data)
        held = set(random.Random(1).sample(sorted({it.nl for it in train}), 800))
        nl2bash = list({it.nl: it for it in reversed(train) if it.nl in held}.values())
        lexicon = shipped_store().lexicon("bash")
    else:
        nl2bash, lexicon = held_out(a.data)
    nl2bash = nl2bash[: a.nl2bash_limit]
    tldr = [e for e in load_tldr(find_tarball(a.data), raw=True) if dev_page(e.id)][: a.tldr_limit]
    everyday = [i for i in load_everyday(ROOT / "benchmarks" / "everyday.jsonl", "bash") if dev_half(i.id)]
    with tempfile.TemporaryDirectory() as tmp:
        store = dev_store(Path(tmp) / "dev.sqlite")
        lexicon.tools = ToolStats(store._con, "bash")

        def pool(prompt: str, exclude: str | None = None):
            rows = store.retrieve(prompt, "bash", POOL, exclude_nl=exclude)
            codes = [e.code for e in rows]
            lex = lexicon.features(prompt, codes)
            tools = lexicon.tools.features(prompt, codes, [e.source for e in rows], [e.ref for e in rows])
            return codes, [f + t for f, t in zip(lex, tools)]

        sets = {
            "nl2bash": [(it.reference, *pool(it.nl, it.nl)) for it in nl2bash],
            "tldr": [(tool_of(command(e.code)), *pool(e.nl)) for e in tldr],
            "everyday": [(i, *pool(i.prompt)) for i in everyday],
        }
        store.close()

    import numpy as np

    print({k: len(v) for k, v in sets.items()}, "pools read", file=sys.stderr, flush=True)
    arrays = {k: [np.array(f) for _, _, f in v] for k, v in sets.items()}
    memo: dict = {}

    def first_rows(name: str, w) -> list[int]:
        return [int(np.argmax(a @ w)) if len(a) else -1 for a in arrays[name]]  # argmax: the first of ties

    def metric(name: str, i: int, j: int):
        key = (name, i, j)
        if key not in memo:
            ref, codes, _ = sets[name][i]
            top = codes[j] if j >= 0 else ""
            if name == "nl2bash":
                memo[key] = scores([top], ref)[:3]
            elif name == "tldr":
                memo[key] = float(tool_of(command(top)) == ref)
            else:
                memo[key] = float(ref.accepts(top))
        return memo[key]

    def figures(tw: ToolWeights) -> dict[str, float]:
        w = np.array(astuple(WEIGHTS) + astuple(tw))
        out = {}
        nl = [metric("nl2bash", i, j) for i, j in enumerate(first_rows("nl2bash", w))]
        out["nl2bash TM@1"], out["nl2bash EM@1"], out["nl2bash TA@1"] = (100 * sum(r[i] for r in nl) / len(nl)
                                                                        for i in range(3))
        for name, label in (("tldr", "tldr tool@1"), ("everyday", "everyday @1")):
            got = [metric(name, i, j) for i, j in enumerate(first_rows(name, w))]
            out[label] = 100 * sum(got) / len(got)
        return out

    def objective(tw: ToolWeights) -> float:
        m = figures(tw)
        nl = (m["nl2bash TM@1"] + 3 * m["nl2bash EM@1"] + m["nl2bash TA@1"]) / 5
        return (nl + m["tldr tool@1"] + m["everyday @1"]) / 3

    found = ascend(objective, ToolWeights())
    print(f"development mix: {len(sets['nl2bash'])} NL2Bash held-out train prompts, {len(sets['tldr'])} tldr "
          f"development-page examples, {len(sets['everyday'])} everyday Bash prompts (even ids); pools of {POOL}")
    for name, tw in (("tables only (tool weights 0)", ToolWeights()), (f"shipped {astuple(TOOL_WEIGHTS)}",
                     TOOL_WEIGHTS), (f"found {astuple(found)}", found)):
        m = figures(tw)
        print(f"{name}\n  objective {objective(tw):.2f}  " + "  ".join(f"{k} {v:.1f}" for k, v in m.items()))
    for field in dataclasses.fields(found):  # each signal's share: the found weights less that one
        tw = dataclasses.replace(found, **{field.name: 0.0})
        print(f"  without {field.name:12} objective {objective(tw):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
