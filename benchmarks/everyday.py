"""The README's everyday table, made from the everyday prompt file's reports (never typed):
the shipped model beside the lookup table, top-1 / top-5 accepted per language, and a few rows.

    python benchmarks/everyday.py            # rewrite the README's table
    python benchmarks/everyday.py --check    # exit 1 if the README's table and the reports disagree

The reports (listed in docs/results/README.md) come from
    cf eval --bench everyday [--baseline lookup] --out docs/results/FILE
over benchmarks/everyday.jsonl (prompts written for the project, from no data set; its schema is
in core/metrics/everyday.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "docs" / "results"
START, END = "<!-- everyday:start -->", "<!-- everyday:end -->"
LANGS = {"bash": "Bash", "python": "Python"}
COLUMNS = [("cf: `codefusion-small`", "codefusion-small-v4-everyday.json"),
           ("lookup table, no model", "lookup-everyday.json")]
SHOWN = ["bash-001", "bash-002", "bash-003", "bash-004", "bash-039", "bash-067", "python-001", "python-003",
         "python-024", "python-042"]


def cell(code: str) -> str:
    """A candidate in a table cell: a code span, its line breaks shown as ⏎ (a cell is one line)."""
    return "`" + code.replace("|", "\\|").replace("`", "'").replace("\n", " ⏎ ") + "`" if code else "—"


def _load(results: Path, name: str) -> dict | None:
    path = results / name
    return json.loads(path.read_text()) if path.exists() else None


def table(results: Path = RESULTS) -> str:
    from core.metrics.everyday import load_everyday

    items = {i.id: i for i in load_everyday(ROOT / "benchmarks" / "everyday.jsonl")}
    loaded = {title: _load(results, name) for title, name in COLUMNS}
    counts = {lang: sum(i.lang == lang for i in items.values()) for lang in LANGS}
    lines = ["| prompts accepted (%), top-1 / top-5 | " + " | ".join(f"{LANGS[l]} ({counts[l]} prompts)"
                                                                   for l in LANGS) + " |",
             "|---|" + "---|" * len(LANGS)]
    for title, _ in COLUMNS:
        cells = []
        for lang in LANGS:
            report = loaded[title]
            m = report["metrics"].get(lang) if report else None
            cells.append(f"{m['top1']:.1f} / {m['top5']:.1f}" if m else "—")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += ["", "| prompt | cf's first | lookup's first |", "|---|---|---|"]
    for item_id in SHOWN:
        item = items[item_id]
        row = [item.prompt]
        for title, _ in COLUMNS:
            first = ((loaded[title] or {}).get("first", {}).get(item_id) or {}).get("code", "")
            row.append(f"{'✓' if item.accepts(first) else '✗'} {cell(first)}" if first else "—")
        lines.append("| " + " | ".join(row) + " |")
    dates = sorted({r["date"] for r in loaded.values() if r})
    lines += ["", f"✓: the candidate matches the prompt's patterns (and, in Python, parses). Prompts written for "
              f"the project, from no data set: [benchmarks/everyday.jsonl](benchmarks/everyday.jsonl); seed 0, "
              f"cf's default sampling, the shipped example store; {', '.join(dates) or 'not measured yet'}. "
              "Made by `python benchmarks/everyday.py` from `cf eval --bench everyday` reports."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = args.readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"{args.readme} has no {START} … {END} section", file=sys.stderr)
        return 2
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: f"{START}\n{table()}{END}", text, flags=re.S)
    if args.check:
        if new != text:
            print("the README's everyday table disagrees with docs/results/; run benchmarks/everyday.py",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
