"""`cf eval --bench NAME`: benchmarks beside the published splits, each in its own module (common.py:
what they share). intercode: InterCode-ALFA's tasks, each command run in a sandbox; tldr: held-out
tldr pages; everyday: benchmarks/everyday.jsonl, prompts written here."""

from __future__ import annotations

import json
import sys
from typing import Callable

from core.errors import CFError

BENCHES = ("intercode", "tldr", "everyday")


def run_bench(bench: str, lang: str, model: str | None, limit: int | None, top_k: int, steps: int | None, seed: int,
              batch: int, data: str | None, baseline: str | None, out, as_json: bool,
              open_pipeline: Callable[[], object]) -> None:
    """Run ``bench`` (``lang`` "": every language it has), write ``out`` (JSON + items JSONL) when
    given, and print the report."""
    from cfcli.evaluate import write_report

    if bench not in BENCHES:
        raise CFError(f"unknown --bench {bench!r}; choose one of: {', '.join(BENCHES)}")
    if bench == "intercode":
        if lang not in ("", "bash"):
            raise CFError(f"--bench {bench} is a Bash benchmark; leave out --lang or give --lang bash")
        from cfcli.benches.intercode import IntercodeRequest, print_report, run_intercode

        request = IntercodeRequest(model=model, baseline=baseline, limit=limit, top_k=top_k, steps=steps, seed=seed,
                                   batch=batch, data=data)
        report, records = run_intercode(request, open_pipeline)
        show = print_report
    else:
        from cfcli.benches.common import BenchRequest, print_bench

        if bench == "tldr":
            from cfcli.benches.tldr import LABELS, run_tldr as run
        else:
            from cfcli.benches.everyday import LABELS, run_everyday as run
        request = BenchRequest(lang=lang, limit=limit, top_k=top_k, seed=seed, batch=batch, data=data,
                               baseline=baseline)
        report, records = run(request, open_pipeline)
        show = lambda r: print_bench(r, LABELS)  # noqa: E731
    if out:
        print(f"wrote {out} and {write_report(report, records, out)}", file=sys.stderr)
    if as_json:
        print(json.dumps(report))
    else:
        show(report)
