"""`cf eval --bench intercode`: InterCode-ALFA's 300 tasks, each candidate run in a sandbox and
judged by what it does (core/intercode.py, core/sandbox.py), beside the published figures.

18 of the task prompts are NL2Bash train prompts (the same words, case aside): for those, the
train rows with that prompt leave the store (the store's ``exclude_nl``), for the model's
retrieval and for the lookup alike. The model's weights and the store's re-ranking tables were
learned with them; nothing here can take that back, so the report also gives the 282 others.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from statistics import mean
from typing import Callable, Sequence

from core.errors import CFError

BENCH = "intercode"
FOLDER = "intercode-alfa"  # in `cf data fetch`'s data folder, or --data itself
# Commands run in parallel across tasks (a task's own runs stay in sequence, for `date`): most of
# a run is waiting on bwrap, the file system, or a command's time limit.
WORKERS = 6
# Westenfelder et al., NAACL 2025 (InterCode-ALFA), top-1 accuracy with the execution and
# embedding judge: the model alone, and the best method the paper tried with it.
PUBLISHED = [
    ("qwen2.5-coder-0.5b-instruct", 10, 36),
    ("qwen2.5-coder-1.5b-instruct", 21, 50),
    ("qwen2.5-coder-3b-instruct", 26, 58),
    ("qwen2.5-coder-7b-instruct", 61, 62),
    ("gpt-4o", 74, None),
]
PUBLISHED_NOTE = ("published: Westenfelder et al., NAACL 2025, top-1 %; their output judge differs (an embedding "
                  "model, mxbai-embed-large, cosine > 0.75, against gold alone), so the figures are near, not equal")


@dataclass(frozen=True)
class IntercodeRequest:
    model: str | None = None
    baseline: str | None = None  # "lookup"
    limit: int | None = None
    top_k: int = 5
    steps: int | None = None
    seed: int = 0
    batch: int = 16
    data: str | None = None


def find_folder(data: str | None) -> Path:
    """--data: the benchmark's folder itself, or a folder holding ``intercode-alfa/``; default:
    ``intercode-alfa/`` in `cf data fetch`'s folder."""
    from core.data.fetch import data_dir

    base = data_dir(data)
    for folder in (base, base / FOLDER):
        if (folder / "nl2bash_fs_1.json").is_file():
            return folder
    raise CFError(f"InterCode-ALFA not found in {base}: pass --data DIR, the folder with nl2bash_fs_1..5.json and "
                  f"setup_nl2b_fs_1..5.sh (github.com/westenfelder/InterCode-ALFA, src/icalfa/assets/)")


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def train_prompts(store, queries: Sequence[str]) -> dict[str, str]:
    """query -> the nl of the store's Bash train rows that say the same (case and spacing aside)."""
    wanted = {_words(q): q for q in queries}
    found = {}
    for row in store.all_rows():
        if row.lang == "bash" and row.source == "train" and _words(row.nl) in wanted:
            found[wanted[_words(row.nl)]] = row.nl
    return found


class WithoutTrainRow:
    """The store as a retrieval model sees it, less each task's own train rows."""

    def __init__(self, store, left_out: dict[str, str]):
        self.store, self.left_out = store, left_out

    def retrieve(self, prompt: str, lang: str, k: int):
        return self.store.retrieve(prompt, lang, k, exclude_nl=self.left_out.get(prompt))

    def ranked(self, prompt: str, lang: str):
        return self.store.ranked(prompt, lang, exclude_nl=self.left_out.get(prompt))

    def lexicon(self, lang: str):
        return self.store.lexicon(lang)


def _percent(values: Sequence[float]) -> float | None:
    return round(100 * mean(values), 1) if values else None


def summarize(records: Sequence[dict]) -> dict:
    return {name: {**{f"top{k}": _percent([r["scores"][name][f"top{k}"] for r in records]) for k in (1, 5)},
                   "items": len(records)}
            for name in ("execution", "execution_strict")}


def command_line() -> str:
    return "cf " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def run_intercode(request: IntercodeRequest, open_pipeline: Callable[[], object]) -> tuple[dict, list[dict]]:
    """(report, per-task records). Bad input (data, --limit, no bwrap) fails before the model loads."""
    from rich.console import Console
    from rich.progress import Progress

    from core.intercode import (HIDDEN, LIMITS, OUTPUT_COSINE, SOURCE, STRICT_COSINE, Environments, load_tasks,
                                score_task)
    from core.retrieval.user import shipped_store
    from core.sandbox import Sandbox

    folder = find_folder(request.data)
    tasks = load_tasks(folder)
    if request.limit is not None and request.limit > len(tasks):
        raise CFError(f"--limit {request.limit} is more than InterCode-ALFA's {len(tasks)} tasks")
    tasks = tasks[: request.limit] if request.limit else tasks
    if request.baseline not in (None, "lookup"):
        raise CFError(f"unknown baseline {request.baseline!r}; choose one of: lookup")
    sandbox = Sandbox(LIMITS, hidden=HIDDEN)
    sandbox.check()
    store = shipped_store()
    left_out = train_prompts(store, [t.query for t in tasks])
    prompts = [t.query for t in tasks]

    started = time.perf_counter()
    report: dict = {"bench": BENCH, "lang": "bash", "items": len(tasks), "top_k": request.top_k,
                    "seed": request.seed, "command": command_line(),
                    "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    with Progress(console=Console(file=sys.stderr)) as bar:
        if request.baseline == "lookup":
            report.update(model="lookup (bm25 over the train split, no model)", baseline="lookup", steps=0)
            candidates = [[e.code for e in store.search(p, "bash", request.top_k, exclude_nl=left_out.get(p),
                                                        sources=["train"])] for p in prompts]
        else:
            candidates, settings = _generate(request, open_pipeline, store, left_out, prompts, bar)
            report.update(settings)
        generated = time.perf_counter()
        task_bar = bar.add_task("running in the sandbox", total=len(tasks))
        with Environments(folder, sandbox) as envs, ThreadPoolExecutor(WORKERS) as pool:
            def one(pair):
                scored = score_task(envs, *pair)
                bar.advance(task_bar)
                return scored

            scores = list(pool.map(one, zip(tasks, [c[: request.top_k] for c in candidates])))
    records = [s.record() for s in scores]
    for record in records:
        record["train_row_left_out"] = record["nl"] in left_out
    unseen = [r for r in records if not r["train_row_left_out"]]
    report.update({
        "metrics": summarize(records),
        "subsets": {"not_in_nl2bash_train": {
            "description": "tasks whose prompt is no NL2Bash train prompt (the model and the re-ranking tables "
                           "never saw them)", **summarize(unseen)}},
        "gold2_passes": _percent([float(r["gold2_passes"]) for r in records]),
        "train_rows_left_out": len(left_out),
        "judge": {"output_cosine": OUTPUT_COSINE, "strict_cosine": STRICT_COSINE, "seconds": LIMITS.seconds,
                  "output_bytes": LIMITS.output_bytes, "processes": LIMITS.processes, "hidden": list(HIDDEN),
                  "workers": WORKERS},
        "published": [{"model": m, "top1": a, "best_method_top1": b} for m, a, b in PUBLISHED],
        "source": SOURCE,
        "notes": [
            "execution: the candidate makes the same file-system change as gold or gold2 (paths added, deleted, "
            "modified; contents and modes of the changed paths) and prints the same output, or output whose "
            f"TF-IDF cosine is >= {OUTPUT_COSINE} (InterCode's tfidf judge, the 0.75 threshold of the benchmark's "
            "embedding judge); top-k: any of the first k candidates passes",
            f"execution_strict: the same with cosine >= {STRICT_COSINE}, the full output credit of icalfa's "
            "tfidf mode (round(0.33 * cosine, 2) == 0.33)",
            "gold2_passes: the share of tasks where the benchmark's second gold command passes against the first",
            "train_rows_left_out: prompts that are NL2Bash train prompts; their train rows left the store for "
            "that task (the model was trained with them)",
            PUBLISHED_NOTE,
        ],
        "seconds": round(time.perf_counter() - started, 1),
        "generation_seconds": round(generated - started, 1),
    })
    return report, records


def _generate(request: IntercodeRequest, open_pipeline, store, left_out, prompts, bar) -> tuple[list, dict]:
    from cfcli.evaluate import generate_candidates
    from core.checkpoint import require_language
    from core.generate import DEFAULT_SAMPLER, default_early_stop, default_shrink, default_steps
    from core.registry import display_name

    pipe = open_pipeline()
    require_language(pipe.cfg.langs, "bash", pipe.name)
    if pipe.cfg.retrieval:
        pipe.examples = WithoutTrainRow(store, left_out)
    steps = request.steps or default_steps(pipe.cfg)
    if steps > pipe.cfg.diffusion_steps:
        raise CFError(f"--steps must be between 1 and {pipe.cfg.diffusion_steps}, the model's diffusion steps")
    sampling = dict(sampler=DEFAULT_SAMPLER, early_stop=default_early_stop(request.steps, "decoder"),
                    clamp="decoder", rounding="decoder", shrink=default_shrink(request.steps, "decoder"))
    task = bar.add_task(f"generating ({steps} steps)", total=len(prompts))
    candidates = generate_candidates(pipe, prompts, top_k=request.top_k, steps=steps, seed=request.seed,
                                     batch=request.batch, advance=lambda n: bar.advance(task, n), **sampling)
    return candidates, {"model": display_name(pipe.name), "steps": steps, "precision": pipe.precision,
                        "batch": request.batch, **sampling}


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    table = Table(title=f"InterCode-ALFA: {report['items']} tasks, {report['model']}, top-{report['top_k']}, "
                        f"{report['date']}, {report['seconds']} s", title_justify="left")
    table.add_column("execution accuracy (%)")
    table.add_column("items", justify="right")
    table.add_column("top-1", justify="right")
    table.add_column("top-5", justify="right")

    def cell(v):
        return "—" if v is None else f"{v:.1f}"

    subset = report["subsets"]["not_in_nl2bash_train"]
    for label, section, name in (("output cosine >= 0.75 (both golds)", report["metrics"], "execution"),
                                 ("strict: cosine >= 0.985 (icalfa tfidf)", report["metrics"], "execution_strict"),
                                 ("prompts not in NL2Bash train, >= 0.75", subset, "execution")):
        figures = section[name]
        table.add_row(label, str(figures["items"]), cell(figures["top1"]), cell(figures["top5"]))
    console.print(table)
    published = Table(title="published (their judge differs: an embedding model)", title_justify="left")
    published.add_column("model")
    published.add_column("top-1", justify="right", style="dim")
    published.add_column("best method, top-1", justify="right", style="dim")
    for row in report["published"]:
        published.add_row(row["model"], cell(row["top1"]), cell(row["best_method_top1"]))
    console.print(published)
    console.print(f"gold2 passes against gold on {cell(report['gold2_passes'])}% of tasks; "
                  f"{report['train_rows_left_out']} prompts' NL2Bash train rows left the store", style="dim",
                  markup=False, highlight=False)
    for note in [f"command: {report['command']}", *report["notes"]]:
        console.print(note, style="dim", markup=False, highlight=False)
