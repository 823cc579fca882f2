"""`cf eval --bench everyday --lang bash|python`: the project's own prompts
(benchmarks/everyday.jsonl, schema in core/metrics/everyday.py), top-1 / top-5 accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from cfcli.bench_report import BenchRequest, best_over_k, candidates_for, check_baseline, first, header, \
    summarize, timed
from core.errors import CFError

ROOT = Path(__file__).resolve().parent.parent
LABELS = {"accepted": "accepted (matches the prompt's patterns) %"}
NOTES = ["accepted: the candidate matches every pattern of the prompt and no reject pattern; Python candidates "
         "must also parse (benchmarks/everyday.jsonl, core/metrics/everyday.py)",
         "halves: the Bash ranking's weights were chosen on the even-numbered ids (dev, with NL2Bash held-out train "
         "prompts and tldr development pages: benchmarks/rank_sources.py); the odd-numbered ids were not used"]


def dev_half(item_id: str) -> bool:
    """The file's development half: even-numbered ids (bash-002, ...); the odd ones are only reported."""
    tail = item_id.rsplit("-", 1)[-1]
    return tail.isdigit() and int(tail) % 2 == 0


def everyday_file() -> Path:
    return ROOT / "benchmarks" / "everyday.jsonl"


def run_everyday(request: BenchRequest, open_pipeline: Callable[[], object]) -> tuple[dict, list[dict]]:
    from core.metrics.everyday import LANGS, load_everyday

    if request.lang not in LANGS:
        raise CFError(f"--bench everyday has Bash and Python prompts; --lang {request.lang} has none")
    check_baseline(request.baseline)
    path = everyday_file()
    items = first(load_everyday(path, request.lang), request.limit, f"{path.name} ({request.lang})")
    elapsed = timed()
    candidates, model, sampling = candidates_for(request, [i.prompt for i in items], open_pipeline)
    records = [{"id": i.id, "nl": i.prompt, "candidates": c,
                "scores": {"accepted": best_over_k([float(i.accepts(x)) for x in c[:5]])}}
               for i, c in zip(items, candidates)]
    report = {**header("everyday", model, request.lang), "items": len(items), "file": "benchmarks/everyday.jsonl",
              "sampling": sampling, "metrics": summarize(records, ["accepted"], ["accepted"]),
              "halves": {half: summarize([r for r in records if dev_half(r["id"]) == is_dev], ["accepted"], ["accepted"])
                         for half, is_dev in (("dev (even ids)", True), ("held out (odd ids)", False))},
              "notes": NOTES,
              "seconds": elapsed()}
    return report, records
