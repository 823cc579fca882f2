"""What ranking reading candidates first for "show" prompts (core/effects.py) does to the Bash
scores, from a `cf eval --out` items file of the model's candidates before it.

    python benchmarks/reads_first.py docs/results/codefusion-small-v4-bash-all.items.jsonl --limit 500

Pipeline._order applies, after validity, exactly this to each prompt's candidates: those that
delete, kill or format go after the others when the prompt asks to show something, and when all
of them would, the read-only part of the first one goes first. It is a function of the prompt
and the candidates' codes, so the items file's candidates (made without it, seed 0) give the
candidates with it. Prints top-1/3/5 exact match, template match and template accuracy before
and after, and the prompts whose candidates changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reordered(prompt: str, codes: list[str], k: int = 5) -> list[str]:
    from core.effects import DEMOTED, asks_to_show, code_effects, destructive, read_only_version, reads_first

    effects = [code_effects(c, "bash") for c in codes]
    order = reads_first(prompt, effects)
    out = [codes[i] for i in order]
    if out and asks_to_show(prompt) and all(destructive(effects[i], DEMOTED) for i in order):
        reading = read_only_version(out[0])
        if reading and reading not in out:
            out = [reading] + out[: k - 1]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("items")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()

    from cfcli.evaluate import EvalItem, score_item, summarize

    rows = [json.loads(line) for line in open(a.items)][: a.limit]
    before, after, changed = [], [], []
    for r in rows:
        item = EvalItem(r["id"], r["nl"], r["reference"])
        new = reordered(r["nl"], r["candidates"])
        before.append(score_item(item, r["candidates"], "bash"))
        after.append(score_item(item, new, "bash"))
        if new != r["candidates"]:
            changed.append((r["nl"], r["candidates"][0], new[0]))
    for name, records in (("before", before), ("after", after)):
        metrics = summarize(records, "bash")["metrics"]
        print(name, {m: {k: v for k, v in metrics[m].items() if k != "items"} for m in metrics})
    print(f"{len(changed)} of {len(rows)} prompts' candidates changed:")
    for nl, old, new in changed:
        print(f"  {nl[:80]!r}: {old!r} -> {new!r}")


if __name__ == "__main__":
    main()
