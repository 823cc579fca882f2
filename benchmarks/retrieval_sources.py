"""Which sources help the lookup table on the published test splits (no model): the train split
alone, with tldr-pages (Bash), with the Django lines (Python). The shipped store's contents were
chosen with it (docs/results.md, "Retrieval").

    python benchmarks/retrieval_sources.py --data ../shared/data/codefusion \
        --tldr ../shared/data/tldr/tldr-pages-common-linux.tar.gz --django ../shared/data/django \
        --out docs/results/retrieval-sources.json

Django's code is space-tokenised (`self . x = True`): a line is kept when it parses, written as
`ast.unparse` writes it (one line); its pseudo-code line is the nl.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def django_rows(folder: Path) -> list[tuple[str, str, str, str, str]]:
    codes = (folder / "all.code").read_text(encoding="utf-8").splitlines()
    annos = (folder / "all.anno").read_text(encoding="utf-8").splitlines()
    rows = []
    for i, (code, nl) in enumerate(zip(codes, annos), 1):
        try:
            line = ast.unparse(ast.parse(code.strip()))
        except (SyntaxError, ValueError):
            continue
        if "\n" not in line:
            rows.append(("python", nl.strip(), line, "django", f"django:{i}"))
    return rows


def main() -> int:
    from cfcli.evaluate import load_items, score
    from core.retrieval.build import train_rows, tldr_rows
    from core.retrieval.store import ExampleStore, create

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--tldr", type=Path, required=True)
    p.add_argument("--django", type=Path, required=True)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.sqlite"
        django = django_rows(a.django)
        create(path, list(train_rows(a.data)) + list(tldr_rows(a.tldr)) + django)
        store = ExampleStore(path)
        runs = {"bash": [["train"], ["train", "tldr"]], "python": [["train"], ["train", "django"]], "cf": [["train"]]}
        rows = []
        for lang, choices in runs.items():
            items = load_items(lang, "test", a.data)
            for sources in choices:
                candidates = [[e.code for e in store.search(i.nl, lang, 5, sources=sources)] for i in items]
                summary, _ = score(items, candidates, lang, codebertscore_model="none")
                metrics = {k: {"top1": v["top1"], "top5": v["top5"]} for k, v in summary["metrics"].items()
                           if "skipped" not in v}
                row = {"lang": lang, "sources": sources, "items": len(items), "metrics": metrics,
                       "valid_top1": summary["validity"]["top1"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
        store.close()
    if a.out:
        a.out.write_text(json.dumps({"django_rows_kept": len(django), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
