"""`cf eval --bench tldr`: tldr-pages held out by page.

The held-out 10% of pages (core/data/tldr.py ``held_out``: by a hash of the page's name) give the
items: each example's description is the prompt, its command (placeholders kept) the reference.
Their example rows leave the example store for this benchmark: the model retrieves from a copy
of the shipped store without them (core/retrieval/holdout.py). Scores (core/metrics/tldr.py):
the right tool, template match, exact match with placeholders as slots, token F1; top-1 / top-5.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

from cfcli.benches.common import BenchRequest, best_over_k, candidates_for, check_baseline, first, header, \
    summarize, timed
from core.errors import CFError

TARBALL = "tldr-pages-common-linux.tar.gz"
METRICS = ("right_tool", "template_match", "slot_match", "token_f1")
PERCENT = ("right_tool", "template_match", "slot_match")
LABELS = {"right_tool": "right tool (first utility) %", "template_match": "template match (cosine) %",
          "slot_match": "exact match, placeholders as slots %", "token_f1": "token F1 (0..1)"}
NOTES = [
    "held out: the tldr pages whose name hashes into 10% (core/data/tldr.py); their examples are the items and "
    "leave the store the model retrieves from, and the store's tool matcher never learned from them; their tools' "
    "documentation stays (the page's own description, and in a store built with --man the man page's NAME line: "
    "'docs' rows, core/retrieval/build.py), so a tool is known only from its docs",
    "template_match and token_f1 against the command as a user types it (each placeholder's text); slot_match "
    "against the page's command, placeholders as slots (core/metrics/tldr.py)",
]


def find_tarball(data: str | None) -> Path:
    """The tldr-pages tarball: in --data's folder or beside it (``../tldr/``), as ../shared/data has it."""
    from core.data.fetch import data_dir

    root = data_dir(data)
    for path in (root / TARBALL, root.parent / "tldr" / TARBALL):
        if path.exists():
            return path
    raise CFError(f"the tldr-pages tarball ({TARBALL}) is not in {root} or {root.parent / 'tldr'}; "
                  "pass --data DIR with the folder that holds it or the published data beside it")


def score_candidates(reference: str, candidates: list[str]) -> dict:
    from core.data.tldr import command
    from core.metrics import template_match
    from core.metrics.tldr import first_utility, slot_match, token_f1

    typed = command(reference)
    tool = first_utility(typed)
    top = candidates[:5]
    values = {"right_tool": [float(bool(tool) and first_utility(c) == tool) for c in top],
              "template_match": [template_match(c, typed) for c in top],
              "slot_match": [float(slot_match(c, reference)) for c in top],
              "token_f1": [token_f1(c, typed) for c in top]}
    return {name: best_over_k(v) for name, v in values.items()}


def run_tldr(request: BenchRequest, open_pipeline: Callable[[], object]) -> tuple[dict, list[dict]]:
    from core.data.tldr import held_out_examples, page_name
    from core.retrieval.holdout import without_tldr_held_out
    from core.retrieval.user import shipped_store

    if request.lang not in ("", "bash"):
        raise CFError("--bench tldr is Bash only")
    check_baseline(request.baseline)
    request = replace(request, lang="bash")
    examples = held_out_examples(find_tarball(request.data))
    pages = {page_name(e.id) for e in examples}
    items = first(examples, request.limit, f"the {len(pages)} held-out tldr pages")
    elapsed = timed()
    with tempfile.TemporaryDirectory(prefix="cf-tldr-") as tmp:
        store, removed = without_tldr_held_out(shipped_store(), Path(tmp) / "examples.sqlite")
        try:
            candidates, model, sampling = candidates_for(request, [e.nl for e in items], open_pipeline, store)
        finally:
            store.close()
    records = [{"id": e.id, "nl": e.nl, "reference": e.code, "candidates": c, "scores": score_candidates(e.code, c)}
               for e, c in zip(items, candidates)]
    report = {**header("tldr", model, "bash"), "items": len(items),
              "split": {"pages": len(pages), "examples": len(examples), "store_rows_removed": removed},
              "sampling": sampling, "metrics": summarize(records, METRICS, PERCENT), "notes": NOTES,
              "seconds": elapsed()}
    return report, records
