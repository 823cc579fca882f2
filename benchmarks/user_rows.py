"""The user's own rows: copied as they stand, and pinned only when the prompt matches closely.

    python benchmarks/user_rows.py              # the 50 made-up user examples: verbatim and first?
    python benchmarks/user_rows.py --closeness  # the pinning threshold's pairs: closeness, errors

The 50 (tests/fixtures/user_examples_oov.jsonl) are commands a user might add, each with words no
train split's command has (tools, projects, hosts). They go into a fresh user store in a temporary
CODEFUSION_HOME; the shipped model then answers each one's own prompt (seed 0, cf's defaults), and
the same prompt with one of its words changed where the command holds that word.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXAMPLES = ROOT / "tests" / "fixtures" / "user_examples_oov.jsonl"
PAIRS = ROOT / "tests" / "fixtures" / "user_rows_closeness.jsonl"


def closeness_table() -> int:
    from core.retrieval.own import PIN_ADDED, closeness

    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    scored = sorted((closeness(r["prompt"], r["nl"]), r["same"], r["prompt"], r["nl"]) for r in rows)
    for s, same, prompt, nl in scored:
        print(f"{s:.3f}  {'same ' if same else 'other'}  {prompt!r} for the row {nl!r}")
    print("threshold  errors (pinned for another task + not pinned for the same)")
    for t in [x / 100 for x in range(50, 100, 2)] + [PIN_ADDED]:
        wrong = sum((s >= t) != same for s, same, _, _ in scored)
        print(f"{t:.2f}       {wrong}{'   <- PIN_ADDED' if t == PIN_ADDED else ''}")
    return 0


def swapped(nl: str, code: str) -> tuple[str, str] | None:
    """The prompt with its last word that the command holds as a word of its own changed (not the
    first, the action: another action is another task), and the command with it changed alike;
    None when no such word is in the command."""
    for word in reversed(nl.split()[1:]):
        pattern = re.compile(r"(?<![\w.-])" + re.escape(word) + r"(?![\w-])")
        if len(word) > 2 and pattern.search(code):
            new = word + "x"
            return nl.replace(word, new), pattern.sub(new, code)
    return None


def verbatim(limit: int | None) -> int:
    from core.data.literals import SLOT  # noqa: F401 (imports core before the home is set)

    home = tempfile.mkdtemp(prefix="cf-user-rows-")
    os.environ["CODEFUSION_HOME"] = home
    from cfcli.main import load_pipeline
    from core.retrieval.user import UserExamples, read_examples_file

    rows = read_examples_file(EXAMPLES)[:limit]
    UserExamples().add(rows)
    pipe = load_pipeline(None, lang="bash")
    first = sum(r.candidates[0].code == code
                for (_, _, code), r in zip(rows, pipe.generate_batch([nl for _, nl, _ in rows], seed=0)))
    swaps = [(s, row) for row in rows if (s := swapped(row[1], row[2]))]
    got = pipe.generate_batch([nl for (nl, _), _ in swaps], seed=0)
    swap_first = sum(r.candidates[0].code == code for ((_, code), _), r in zip(swaps, got))
    for ((nl, code), _), r in zip(swaps, got):
        if r.candidates[0].code != code:
            print(f"swapped: {nl!r}: {r.candidates[0].code!r}, expected {code!r}")
    print(json.dumps({"examples": len(rows), "verbatim_first": first,
                      "value_swapped": len(swaps), "value_swapped_first": swap_first}))
    return 0 if first == len(rows) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--closeness", action="store_true", help="the pinning threshold's pairs")
    ap.add_argument("--limit", type=int, help="only the first N examples")
    args = ap.parse_args()
    return closeness_table() if args.closeness else verbatim(args.limit)


if __name__ == "__main__":
    sys.exit(main())
