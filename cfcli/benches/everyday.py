"""`cf eval --bench everyday [--lang bash|python]`: the project's own prompts
(benchmarks/everyday.jsonl, schema in core/metrics/everyday.py), top-1 / top-5 accepted, per
language (both when --lang is not given)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from cfcli.benches.common import BenchRequest, best_over_k, candidates_for, check_baseline, first, header, \
    summarize, timed
from core.errors import CFError

ROOT = Path(__file__).resolve().parents[2]  # the checkout: benchmarks/ is not in the package
LABELS = {"bash": "Bash prompts accepted %", "python": "Python prompts accepted %"}
NOTES = ["accepted: the candidate matches every pattern of the prompt and no reject pattern; Python candidates "
         "must also parse (benchmarks/everyday.jsonl, core/metrics/everyday.py)"]


def everyday_file() -> Path:
    return ROOT / "benchmarks" / "everyday.jsonl"


def run_everyday(request: BenchRequest, open_pipeline: Callable[[], object]) -> tuple[dict, list[dict]]:
    """``request.lang``: bash, python, or "" for both."""
    from core.metrics.everyday import LANGS, load_everyday

    if request.lang and request.lang not in LANGS:
        raise CFError(f"--bench everyday has Bash and Python prompts; --lang {request.lang} has none")
    check_baseline(request.baseline)
    path = everyday_file()
    langs = [request.lang] if request.lang else list(LANGS)
    items = {lang: first(load_everyday(path, lang), request.limit, f"{path.name} ({lang})") for lang in langs}
    elapsed = timed()
    opened: list = []

    def pipeline_for(lang: str):
        def open_once():
            if not opened:
                opened.append(open_pipeline())
            return opened[0].with_lang(lang)
        return open_once

    records, metrics, model, sampling = [], {}, "", {}
    for lang in langs:
        candidates, model, sampling = candidates_for(replace(request, lang=lang), [i.prompt for i in items[lang]],
                                                     pipeline_for(lang))
        mine = [{"id": i.id, "lang": lang, "nl": i.prompt, "candidates": c,
                 "scores": {lang: best_over_k([float(i.accepts(x)) for x in c[:5]])}}
                for i, c in zip(items[lang], candidates)]
        metrics.update(summarize(mine, [lang], [lang]))
        records += mine
    report = {**header("everyday", model, ",".join(langs)), "items": len(records),
              "file": "benchmarks/everyday.jsonl", "sampling": sampling, "metrics": metrics, "notes": NOTES,
              # each prompt's first candidate and whether it, or one of the first 5, is accepted
              "first": {r["id"]: {"code": (r["candidates"] or [""])[0], **r["scores"][r["lang"]]} for r in records},
              "seconds": elapsed()}
    return report, records
