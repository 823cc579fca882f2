"""What the benchmarks outside the published splits share (``cf eval --bench tldr|everyday``):
the request, the candidates (the model with cf's default sampling, or the lookup), the report's
header (its command, date and model) and its printed table."""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from statistics import mean
from typing import Callable, Sequence

from core.errors import CFError

KS = (1, 5)
LOOKUP_MODEL = "lookup (bm25 over the train split, no model)"


@dataclass(frozen=True)
class BenchRequest:
    lang: str = "bash"
    limit: int | None = None
    top_k: int = 5
    seed: int = 0
    batch: int = 16
    data: str | None = None
    baseline: str | None = None  # "lookup"


def command_line() -> str:
    """The command that made a report, as typed (``cf`` for the entry point's path)."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("/cf", "cf", "__main__.py")):
        argv[0] = "cf"
    return shlex.join(argv)


def header(bench: str, model: str, lang: str) -> dict:
    return {"bench": bench, "lang": lang, "command": command_line(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "model": model}


def first(items: list, limit: int | None, where: str) -> list:
    if limit is not None and limit > len(items):
        raise CFError(f"--limit {limit} is more than the {len(items)} items of {where}")
    return items[:limit] if limit else items


def check_baseline(baseline: str | None) -> None:
    if baseline not in (None, "lookup"):
        raise CFError(f"unknown baseline {baseline!r}; choose one of: lookup")


def candidates_for(request: BenchRequest, prompts: Sequence[str], open_pipeline: Callable[[], object],
                   store=None) -> tuple[list[list[str]], str, dict]:
    """(ranked candidates per prompt, the model's name, the sampling as reported). The model
    samples as `cf` does by default (seed ``request.seed``); ``store``: what it retrieves from
    (default: the shipped store). The lookup: the train rows nearest each prompt (bm25), as
    `cf eval --baseline lookup`."""
    from rich.console import Console
    from rich.progress import Progress

    from cfcli.evaluate import generate_candidates, lookup_candidates
    from core.checkpoint import require_language
    from core.generate import DEFAULT_SAMPLER, default_early_stop, default_shrink, default_steps
    from core.registry import display_name
    from core.retrieval.user import shipped_store

    if request.baseline == "lookup":
        return lookup_candidates(store or shipped_store(), prompts, request.lang, request.top_k), LOOKUP_MODEL, {}
    pipe = open_pipeline()
    require_language(pipe.cfg.langs, request.lang, pipe.name)
    if store is not None:
        pipe.examples = store
    steps = default_steps(pipe.cfg)
    sampling = dict(sampler=DEFAULT_SAMPLER, early_stop=default_early_stop(None, "decoder"), clamp="decoder",
                    rounding="decoder", shrink=default_shrink(None, "decoder"))
    with Progress(console=Console(file=sys.stderr)) as bar:
        task = bar.add_task(f"generating ({steps} steps)", total=len(prompts))
        found = generate_candidates(pipe, prompts, top_k=request.top_k, steps=steps, seed=request.seed,
                                    batch=request.batch, advance=lambda n: bar.advance(task, n), **sampling)
    return found, display_name(pipe.name), {"steps": steps, "seed": request.seed, "top_k": request.top_k,
                                            "batch": request.batch, "precision": pipe.precision, **sampling}


def best_over_k(values: Sequence[float]) -> dict[str, float]:
    return {f"top{k}": max(values[:k], default=0.0) for k in KS}


def summarize(records: Sequence[dict], names: Sequence[str], percent: Sequence[str]) -> dict:
    """Per metric, top-1 / top-5 over the records: in % for ``percent``'s metrics, else 0..1."""
    out = {}
    for name in names:
        scale, digits = (100, 2) if name in percent else (1, 4)
        out[name] = {f"top{k}": round(scale * mean(r["scores"][name][f"top{k}"] for r in records), digits)
                     if records else None for k in KS}
        out[name]["items"] = len(records)
    return out


def timed() -> Callable[[], float]:
    started = time.perf_counter()
    return lambda: round(time.perf_counter() - started, 1)


def print_bench(report: dict, labels: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    table = Table(title=f"{report['bench']} ({report['lang']}): {report['items']} items, {report['model']}, "
                        f"{report['date']}", title_justify="left")
    table.add_column("metric")
    for k in KS:
        table.add_column(f"top-{k}", justify="right")
    for name, figures in report["metrics"].items():
        table.add_row(labels.get(name, name), *("—" if figures[f"top{k}"] is None else str(figures[f"top{k}"])
                                                 for k in KS))
    for half, metrics in report.get("halves", {}).items():  # everyday: the dev half and the other
        for name, figures in metrics.items():
            table.add_row(f"  {half}, {figures['items']} items", *("—" if figures[f"top{k}"] is None
                                                                   else str(figures[f"top{k}"]) for k in KS))
    console.print(table)
    for note in report.get("notes", []):
        console.print(note, style="dim", markup=False, highlight=False)


BENCHES = ("tldr", "everyday")


def run_bench(bench: str, lang: str, limit, top_k: int, seed: int, batch: int, data: str | None, baseline,
              out, as_json: bool, open_pipeline: Callable[[], object]) -> None:
    """`cf eval --bench NAME`: run, write ``out`` (JSON + items JSONL) when given, print."""
    import json

    from cfcli.evaluate import write_report

    if bench not in BENCHES:
        raise CFError(f"unknown --bench {bench!r}; choose one of: {', '.join(BENCHES)}")
    request = BenchRequest(lang=lang, limit=limit, top_k=top_k, seed=seed, batch=batch, data=data, baseline=baseline)
    if bench == "tldr":
        from cfcli.bench_tldr import LABELS, run_tldr as run
    else:
        from cfcli.bench_everyday import LABELS, run_everyday as run
    report, records = run(request, open_pipeline)
    if out:
        print(f"wrote {out} and {write_report(report, records, out)}", file=sys.stderr)
    if as_json:
        print(json.dumps(report))
    else:
        print_bench(report, LABELS)
