"""Everyday prompts, not from any data set: the shipped model's actual top-3 for ten per language,
beside the lookup table's first answer, written into README.md between its "everyday" markers.

    python benchmarks/everyday.py            # rewrite the README's table
    python benchmarks/everyday.py --check    # exit 1 if the README's table is not what the model gives now

The model retrieves from the shipped example store only (not your own examples) and samples
with seed 0 and cf's default settings, so the table is the same on every machine and run.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = {
    "bash": [
        "remove directory tree",
        "find all python files modified in the last 7 days",
        "count the lines of every txt file",
        "show disk usage of the current directory",
        "compress the logs folder into a tar.gz archive",
        "list the 10 largest files in this directory",
        "kill the process listening on port 8080",
        "replace foo with bar in all .js files",
        "show the last 100 lines of /var/log/syslog",
        "download https://example.com/a.zip with curl",
    ],
    "python": [
        "read a json file into a dict",
        "sort a list of dicts by the key 'age'",
        "remove duplicates from a list",
        "reverse a string",
        "get the current date and time",
        "write a list of lines to a file",
        "check if a file exists",
        "convert a string to an integer",
        "merge two dictionaries",
        "count occurrences of each word in a string",
    ],
    "cf": [
        "highlight cells greater than 10",
        'highlight cells that contain "error"',
        "cells between 5 and 50",
        "highlight duplicate values",
        "cells below average",
        "highlight blank cells",
        'cells that begin with "A"',
        "values equal to 100",
        'cells that are not "done"',
        "top 10 values",
    ],
}
START, END = "<!-- everyday:start -->", "<!-- everyday:end -->"
LABELS = {"bash": "Bash", "python": "Python", "cf": "Excel conditional formatting"}


SAME = "= cf's first"  # the lookup's first is cf's first: said, not printed twice


def cell(code: str) -> str:
    """A candidate in a table cell: a code span, its line breaks shown as ⏎ (a cell is one line)."""
    return "`" + code.replace("|", "\\|").replace("`", "'").replace("\n", " ⏎ ") + "`" if code else "—"


def table(model: str | None = None) -> str:
    from core.generate import Pipeline
    from core.registry import resolve_model
    from core.retrieval.user import shipped_store

    store = shipped_store()
    directory = resolve_model(model)
    pipe = Pipeline.from_pretrained(directory, "cpu", examples=store)
    lines = [f"Model `{directory.name}`, seed 0, cf's default sampling; lookup: the first of the train rows "
             f"nearest the prompt (bm25), \"{SAME}\" where that is cf's first candidate too. "
             "Made by `python benchmarks/everyday.py`.", ""]
    for lang, prompts in PROMPTS.items():
        lines += [f"**{LABELS[lang]}**", "", "| prompt | cf's top 3 | lookup table's first |", "|---|---|---|"]
        for prompt in prompts:
            result = pipe.generate(prompt, k=5, seed=0, lang=lang)
            top3 = "<br>".join(cell(c.code) for c in result.candidates[:3])
            lookup = store.search(prompt, lang, 1, sources=["train"])
            first = lookup[0].code if lookup else ""
            same = bool(first) and bool(result.candidates) and first == result.candidates[0].code
            lines.append(f"| {prompt} | {top3} | {SAME if same else cell(first)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model name or directory (default: the shipped default)")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = args.readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"{args.readme} has no {START} … {END} section", file=sys.stderr)
        return 2
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: f"{START}\n{table(args.model)}{END}", text,
                 flags=re.S)
    if args.check:
        if new != text:
            print("the README's everyday table is not what the model gives now; run benchmarks/everyday.py",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
