"""`cf eval`: batched generation over a published split, scored with core.metrics."""

from __future__ import annotations

import sys
import time

from core.data import load_pairs
from core.metrics import top_k_hits

KS = (1, 3, 5)


def run_eval(pipe, lang: str, split: str, limit: int | None, top_k: int, steps: int | None, seed: int,
             batch: int, data: str | None) -> dict:
    from rich.console import Console
    from rich.progress import Progress

    pairs = load_pairs(lang, split, data)
    if limit:
        pairs = pairs[:limit]
    hits = {k: 0 for k in KS}
    started = time.perf_counter()
    with Progress(console=Console(file=sys.stderr)) as bar:
        task = bar.add_task("eval", total=len(pairs))
        for i in range(0, len(pairs), batch):
            chunk = pairs[i:i + batch]
            results = pipe.generate_batch([p.nl for p in chunk], k=top_k, steps=steps, seed=seed + i)
            for pair, res in zip(chunk, results):
                for k, hit in top_k_hits([c.code for c in res.candidates], pair.code, KS).items():
                    hits[k] += hit
            bar.advance(task, len(chunk))
    n = max(1, len(pairs))
    return {
        "lang": lang, "split": split, "items": len(pairs), "model": pipe.name, "top_k": top_k,
        "steps": steps or min(pipe.cfg.diffusion_steps, 50), "seed": seed,
        "exact_match": {f"top{k}": round(100 * hits[k] / n, 2) for k in KS},
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['lang']} {report['split']} ({report['items']} items, "
                        f"{report['steps']} steps, seed {report['seed']})")
    table.add_column("metric")
    for k in KS:
        table.add_column(f"top-{k}", justify="right")
    table.add_row("exact match %", *(f"{report['exact_match'][f'top{k}']:.1f}" for k in KS))
    Console().print(table)
