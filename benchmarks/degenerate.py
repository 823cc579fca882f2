"""How many Bash top-1 candidates are skeletons rather than commands, from `cf eval --out` items.

Template match (the paper's Bash metric, a cosine of template token bags) gives a skeleton such
as ``find . - - - -`` partial credit against ``find . -type f -mtime +7``: this prints, beside it,
the share of top-1 candidates with two or more lone "-" words (flags whose name the model never
wrote) and the stricter template accuracy (the candidate's template equals a reference's).

    python benchmarks/degenerate.py docs/results/codefusion-small-v4-bash-all.items.jsonl [MORE ...] [--limit 500]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

LONE_DASH = re.compile(r"(?<!\S)-(?!\S)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("items", nargs="+", type=Path, help="*.items.jsonl files written by cf eval --out")
    ap.add_argument("--limit", type=int, default=None, help="only the first N items of each file")
    a = ap.parse_args()
    print("| items file | items | top-1 with 2+ lone '-' | template match top-1 | template accuracy top-1 / top-5 |")
    print("|---|---|---|---|---|")
    for path in a.items:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = rows[: a.limit or None]
        if not rows or "template_match" not in rows[0]["scores"]:
            raise SystemExit(f"{path}: not the items of a Bash `cf eval --out` report")
        n = len(rows)
        skeletons = sum(len(LONE_DASH.findall(r["candidates"][0])) >= 2 for r in rows if r["candidates"])

        def pct(metric: str, k: str) -> float:
            return 100 * sum(r["scores"][metric][k] for r in rows) / n

        print(f"| `{path.name}` | {n} | {100 * skeletons / n:.1f}% | {pct('template_match', 'top1'):.1f} | "
              f"{pct('template_accuracy', 'top1'):.1f} / {pct('template_accuracy', 'top5'):.1f} |")


if __name__ == "__main__":
    main()
