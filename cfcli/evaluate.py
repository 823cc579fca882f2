"""`cf eval`: generate candidates for a published split, score them with core.metrics, report.

Three parts, so that scoring is testable without a model:
- data and the model: ``load_items``, ``generate_candidates``, ``refinement_curve``;
- ``score(items, candidates_per_item, lang)``: pure; every metric of the paper per item
  (top-1/3/5 = the best over the first k ranked candidates), then averaged;
- the command around them: ``run_eval``, ``write_report``, ``print_report``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from statistics import mean
from typing import Callable, Sequence

from core.checkpoint import require_language
from core.registry import display_name
from core.data import load_pairs, load_records
from core.errors import CFError
from core.metrics import (
    MetricUnavailable,
    cf_execution_applies,
    codebertscore_f1,
    distinct_ngrams,
    exact_match,
    execution_match,
    normalize_ws,
    normalized_edit_distance,
    sentence_bleu,
    syntax_valid,
    template_accuracy,
    template_match,
)
from core.metrics.paper import paper_figures
from core.metrics.python import CODEBERTSCORE_LAYER, CODEBERTSCORE_MODEL

KS = (1, 3, 5)
DIVERSITY_K = 5  # Table 2 measures the top-5 generations
STEP_SWEEP = "1,2,5,10,20,50,100"  # Fig. 6: quality vs number of sampling steps (--plot-steps)
REFINEMENT_ITEMS = 8  # Fig. 2 previews every step of every candidate: a few prompts suffice

# The metrics of each language, in the order they are printed.
METRICS = {
    "bash": ("exact_match", "template_match", "template_accuracy"),
    "python": ("exact_match", "bleu", "codebertscore"),
    "cf": ("exact_match", "execution_match", "exact_match_rest", "execution_combined"),
}
MAIN_METRIC = {"bash": "template_match", "python": "codebertscore", "cf": "execution_combined"}  # Table 1's
MAIN_METRIC_FALLBACK = "bleu"  # Python, when CodeBERTScore's model cannot be loaded
LABELS = {
    "exact_match": "exact match",
    "template_match": "template match (cosine)",
    "template_accuracy": "template accuracy",
    "bleu": "BLEU-4 (per-item best, averaged)",
    "codebertscore": "CodeBERTScore F1",
    "execution_match": "execution match (real data)",
    "exact_match_rest": "exact match (the rest)",
    "execution_combined": "execution or exact match",
}
NOTES = {
    "bash": ["template_match: mean over items of the best NL2Bash template cosine among the first k candidates"],
    "python": ["bleu: smoothed sentence BLEU-4 (CoNaLa tokens) of the best of the first k candidates, averaged "
               "over items; not CoNaLa's corpus BLEU"],
    "cf": ["execution_match: items whose Data is a real table and whose reference runs on it; exact_match_rest: "
           "exact match on the other items; execution_combined: both, over all items"],
}
DIVERSITY_NOTE = ("diversity: over the distinct candidates of each prompt (generation merges duplicates), so a "
                  "prompt whose samples all agree has edit distance 0; CodeBERT embedding similarity is not measured")


@dataclass(frozen=True)
class EvalItem:
    id: str
    nl: str
    reference: str
    table: list | None = None  # CF: the item's Data (a header row, then the rows); None elsewhere


# ----------------------------------------------------------------------------- data and model


def load_items(lang: str, split: str, data: str | None = None) -> list[EvalItem]:
    return [EvalItem(str(r.get("ID", "")), r["NL Utterance"].strip(), r["Code"].strip(),
                     r.get("Data") if lang == "cf" else None)
            for r in load_records(lang, split, data)]


def first_items(items: list[EvalItem], limit: int | None, where: str) -> list[EvalItem]:
    if limit is not None and limit > len(items):
        raise CFError(f"--limit {limit} is more than the {len(items)} items of {where}")
    return items[:limit] if limit else items


def train_references(lang: str, data: str | None = None) -> frozenset[str]:
    """The train split's code, whitespace-normalised (to find test items seen in training)."""
    return frozenset(normalize_ws(p.code) for p in load_pairs(lang, "train", data))


def generate_candidates(pipe, prompts: Sequence[str], *, top_k: int, steps: int, seed: int, batch: int,
                        advance: Callable[[int], None] = lambda n: None, retrieved: list | None = None,
                        **sampling) -> list[list[str]]:
    """Ranked candidate codes per prompt; ``batch`` prompts are denoised together (seeded by
    seed + the index of the batch's first prompt, so a run is repeatable at the same --batch).
    ``sampling``: Pipeline.stream's sampler, early_stop, clamp. ``retrieved``: a list that gets
    each prompt's retrieved example codes (a retrieval model's)."""
    candidates: list[list[str]] = []
    for start in range(0, len(prompts), batch):
        chunk = list(prompts[start:start + batch])
        for result in pipe.generate_batch(chunk, k=top_k, steps=steps, seed=seed + start, **sampling):
            candidates.append([c.code for c in result.candidates])
            if retrieved is not None:
                retrieved.append([e["code"] for e in result.examples])
        advance(len(chunk))
    return candidates


def lookup_candidates(store, prompts: Sequence[str], lang: str, top_k: int) -> list[list[str]]:
    """The lookup table, no model: the codes of the top_k train rows nearest each prompt (bm25)."""
    return [[e.code for e in store.search(p, lang, top_k, sources=["train"])] for p in prompts]


def copy_rate(candidates: Sequence[Sequence[str]], retrieved: Sequence[Sequence[str]]) -> float | None:
    """The share (%) of top-1 candidates identical (whitespace-normalised) to a code the model
    retrieved: how often it passed an example through unedited."""
    pairs = [(c[0], r) for c, r in zip(candidates, retrieved) if c]
    if not pairs:
        return None
    return _percent([float(normalize_ws(top) in {normalize_ws(x) for x in codes}) for top, codes in pairs])


def refinement_curve(pipe, prompts: Sequence[str], *, top_k: int, steps: int, seed: int, **sampling) -> list[float]:
    """Paper Fig. 2: after each denoising step, the mean normalised edit distance between the code
    predicted from that step's x̂0 and the final code, over every candidate of every prompt.
    ``sampling``: the report's sampler, early_stop, clamp, rounding."""
    from core.generate import Step

    previews = [event.texts for event in pipe.stream(list(prompts), k=top_k, steps=steps, seed=seed,
                                                     preview_every=1, **sampling) if isinstance(event, Step)]
    final = previews[-1]  # the last step's preview is the final rounding (same x̂0, same argmax)
    return [mean(normalized_edit_distance(text.strip(), end.strip())
                 for texts, ends in zip(step, final) for text, end in zip(texts, ends))
            for step in previews]


# ----------------------------------------------------------------------------- scoring (pure)


def best_over_first_k(values: Sequence[float]) -> dict[str, float]:
    """{"top1", "top3", "top5"}: the best value among the first k ranked candidates (0 if none)."""
    return {f"top{k}": max(values[:k], default=0.0) for k in KS}


def candidate_scores(item: EvalItem, candidates: Sequence[str], lang: str) -> dict[str, list[float] | None]:
    """Each metric's value for each candidate; None where a metric does not apply to the item."""
    ref = item.reference
    exact = [float(exact_match(c, ref)) for c in candidates]
    if lang == "bash":
        return {"exact_match": exact,
                "template_match": [template_match(c, ref) for c in candidates],
                "template_accuracy": [float(template_accuracy(c, ref)) for c in candidates]}
    if lang == "python":
        return {"exact_match": exact, "bleu": [sentence_bleu(c, ref) for c in candidates]}
    if lang == "cf":
        # The test Labels are placeholders: execute the reference instead, where there is a table.
        if cf_execution_applies({"Code": ref, "Data": item.table}):
            execution = [float(execution_match(c, ref, item.table)) for c in candidates]
            return {"exact_match": exact, "execution_match": execution, "exact_match_rest": None,
                    "execution_combined": execution}
        return {"exact_match": exact, "execution_match": None, "exact_match_rest": exact,
                "execution_combined": exact}
    raise CFError(f"unknown language {lang!r}")


def candidate_diversity(candidates: Sequence[str]) -> dict:
    """Table 2 for one prompt: distinct n-grams and pairwise normalised edit distances of the top-5."""
    top = list(candidates[:DIVERSITY_K])
    distances = [normalized_edit_distance(a, b) for a, b in combinations(top, 2)] or [0.0]
    return {"distinct_ngrams": {str(n): ratio for n, ratio in distinct_ngrams(top).items()},
            "edit_distance": {"min": min(distances), "max": max(distances), "mean": mean(distances)},
            "distinct_candidates": len(top)}


def score_item(item: EvalItem, candidates: Sequence[str], lang: str) -> dict:
    """The per-item record written to the predictions JSONL (scores on 0..1)."""
    scored = list(candidates[:max(KS)])
    per_candidate = candidate_scores(item, scored, lang)
    record = {
        "id": item.id, "nl": item.nl, "reference": item.reference, "candidates": list(candidates),
        "valid_top1": bool(candidates) and syntax_valid(candidates[0], lang),
        "scores": {name: None if values is None else best_over_first_k(values)
                   for name, values in per_candidate.items()},
        "diversity": candidate_diversity(candidates),
    }
    if lang == "cf":
        record["execution_applies"] = per_candidate["execution_match"] is not None
    return record


def _add_codebertscore(records: list[dict], candidates_per_item: Sequence[Sequence[str]],
                       items: Sequence[EvalItem], model: str, layer: int) -> str | None:
    """Fill records' "codebertscore" in one model pass; the reason it was skipped, else None."""
    owners, candidates, references = [], [], []
    for i, (item, cands) in enumerate(zip(items, candidates_per_item)):
        for code in cands[:max(KS)]:
            owners.append(i)
            candidates.append(code)
            references.append(item.reference)
    try:
        f1 = codebertscore_f1(candidates, references, model=model, layer=layer)
    except MetricUnavailable:
        return f"model not available ({model})"
    except ValueError as error:  # e.g. a model with fewer hidden layers than CodeBERTScore reads
        return str(error)
    per_item: list[list[float]] = [[] for _ in items]
    for owner, value in zip(owners, f1):
        per_item[owner].append(value)
    for record, values in zip(records, per_item):
        record["scores"]["codebertscore"] = best_over_first_k(values)
    return None


def _percent(values: Sequence[float]) -> float | None:
    return round(100 * mean(values), 2) if values else None


def _average(values: Sequence[float]) -> float | None:
    return round(mean(values), 3) if values else None


def summarize(records: Sequence[dict], lang: str, skipped: dict[str, str] | None = None) -> dict:
    """Averages over items: metrics in % (each with the number of items it applies to), top-1
    syntax validity in %, diversity on 0..1. None where no item counts."""
    skipped = skipped or {}
    metrics: dict[str, dict] = {}
    for name in METRICS[lang]:
        if name in skipped:
            metrics[name] = {"skipped": skipped[name]}
            continue
        scored = [r["scores"][name] for r in records if r["scores"].get(name) is not None]
        metrics[name] = {**{f"top{k}": _percent([s[f"top{k}"] for s in scored]) for k in KS}, "items": len(scored)}
    diversity = [r["diversity"] for r in records]
    return {
        "items": len(records),
        "metrics": metrics,
        "validity": {"top1": _percent([float(r["valid_top1"]) for r in records]), "items": len(records)},
        "diversity": {
            "distinct_ngrams": {n: _average([d["distinct_ngrams"][n] for d in diversity]) for n in "1234"},
            "edit_distance": {s: _average([d["edit_distance"][s] for d in diversity]) for s in ("min", "max", "mean")},
            "distinct_candidates": _average([d["distinct_candidates"] for d in diversity]),
        },
    }


def score(items: Sequence[EvalItem], candidates_per_item: Sequence[Sequence[str]], lang: str, *,
          seen_in_train: frozenset[str] | None = None, codebertscore_model: str = CODEBERTSCORE_MODEL,
          codebertscore_layer: int = CODEBERTSCORE_LAYER,
          advance: Callable[[int], None] = lambda n: None) -> tuple[dict, list[dict]]:
    """Score ranked candidates against the items' references: (summary, per-item records).

    The summary holds ``metrics``, ``validity``, ``diversity`` and ``subsets``; for Bash, given
    the train split's normalised code (``seen_in_train``), the subset ``unseen_in_train``."""
    if len(items) != len(candidates_per_item):
        raise ValueError(f"{len(items)} items but {len(candidates_per_item)} candidate lists")
    records = []
    for item, candidates in zip(items, candidates_per_item):
        records.append(score_item(item, candidates, lang))
        advance(1)
    skipped = {}
    if lang == "python":
        reason = _add_codebertscore(records, candidates_per_item, items, codebertscore_model, codebertscore_layer)
        if reason:
            skipped["codebertscore"] = reason
    summary = summarize(records, lang, skipped)
    subsets = {}
    if lang == "bash" and seen_in_train is not None:
        for record, item in zip(records, items):
            record["seen_in_train"] = normalize_ws(item.reference) in seen_in_train
        unseen = [r for r in records if not r["seen_in_train"]]
        subsets["unseen_in_train"] = {
            "description": "items whose command does not appear verbatim (whitespace-normalised) in train",
            **summarize(unseen, lang, skipped)}
    return {**summary, "subsets": subsets}, records


def main_metric(summary: dict, lang: str) -> str:
    """Table 1's metric for the language, or BLEU where CodeBERTScore was skipped."""
    name = MAIN_METRIC[lang]
    return MAIN_METRIC_FALLBACK if "skipped" in summary["metrics"][name] else name


# ----------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class EvalRequest:
    lang: str
    split: str = "test"
    limit: int | None = None
    top_k: int = 5
    steps: int | None = None
    seed: int = 0
    batch: int = 16
    data: str | None = None
    plot_dir: str | None = None
    plot_steps: str = STEP_SWEEP
    codebertscore_model: str = CODEBERTSCORE_MODEL
    sampler: str | None = None  # Pipeline's default
    early_stop: int | None = None  # None: the default sampling's when --steps is not given
    clamp: str = "decoder"  # or "nearest" / "none" (the paper's Table 4 ablations)
    rounding: str = "decoder"  # or "nearest" (grounding)
    shrink: bool | None = None  # length buckets; None: the default sampling's when --steps is not given
    baseline: str | None = None  # "lookup": the example store's bm25 top-k over the train split, no model
    strength: float | None = None  # a retrieval model's start (None: its config's retrieval_strength)


BASELINES = ("lookup",)


def parse_step_counts(text: str) -> list[int]:
    """--plot-steps "1,2,5" -> [1, 2, 5] (sorted, without repeats)."""
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise CFError(f"--plot-steps takes comma-separated step counts such as 1,2,5, not {text!r}") from None
    if not counts or counts[0] < 1:
        raise CFError(f"--plot-steps takes step counts of at least 1, not {text!r}")
    return counts


def run_eval(request: EvalRequest, open_pipeline: Callable[[], object]) -> tuple[dict, list[dict]]:
    """Everything `cf eval` computes: (report, per-item records). Bad input fails before the
    model loads (data, split, --limit, matplotlib)."""
    from rich.console import Console
    from rich.progress import Progress

    lang, split = request.lang, request.split
    all_items = load_items(lang, split, request.data)
    items = first_items(all_items, request.limit, f"the {lang} {split} split")
    sweep = parse_step_counts(request.plot_steps)
    if request.plot_dir:
        from cfcli.eval_plots import require_matplotlib

        require_matplotlib()
    seen = train_references(lang, request.data) if lang == "bash" else None
    if request.baseline is not None:
        return _run_baseline(request, items, all_items, seen)
    from core.generate import DEFAULT_SAMPLER, default_early_stop, default_shrink, default_steps  # torch: 1-2 s

    pipe = open_pipeline()
    # The references hold concrete values: shown as placeholders, the examples' leftover values cost
    # 1.6 points of Bash top-1 exact match on the first 500 test items, template match unchanged
    # (docs/results.md, "The user's own rows"); eval scores the values as the model wrote them.
    pipe.placeholders = False
    require_language(pipe.cfg.langs, lang, pipe.name)
    T = pipe.cfg.diffusion_steps
    steps = request.steps or default_steps(pipe.cfg)
    early_stop = request.early_stop
    if early_stop is None:
        early_stop = default_early_stop(request.steps, request.clamp)
    shrink = default_shrink(request.steps, request.clamp) if request.shrink is None else request.shrink
    if max([steps, *sweep]) > T:
        raise CFError(f"--steps and --plot-steps must be between 1 and {T}, the model's diffusion steps")
    sampler = request.sampler or DEFAULT_SAMPLER
    generate = dict(top_k=request.top_k, seed=request.seed, batch=request.batch, sampler=sampler,
                    early_stop=early_stop, clamp=request.clamp, rounding=request.rounding, shrink=shrink)
    if pipe.cfg.retrieval and request.strength is not None:
        generate["strength"] = request.strength
    retrieved: list | None = [] if pipe.cfg.retrieval else None
    scoring = dict(codebertscore_model=request.codebertscore_model)

    started = time.perf_counter()
    with Progress(console=Console(file=sys.stderr)) as bar:
        task = bar.add_task(f"generating ({steps} steps)", total=len(items))
        candidates = generate_candidates(pipe, [i.nl for i in items], steps=steps, retrieved=retrieved,
                                         advance=lambda n: bar.advance(task, n), **generate)
        generated = time.perf_counter()
        task = bar.add_task("scoring", total=len(items))
        summary, records = score(items, candidates, lang, seen_in_train=seen, advance=lambda n: bar.advance(task, n),
                                 **scoring)
        plots = _make_plots(pipe, items, lang, summary, candidates, steps, sweep, Path(request.plot_dir), bar,
                            generate, scoring) if request.plot_dir else None

    report = {
        "lang": lang, "split": split, "items": len(items), "model": display_name(pipe.name), "steps": steps,
        "sampler": sampler, "early_stop": early_stop, "precision": pipe.precision, "compiled": pipe.compiled,
        "clamp": request.clamp, "rounding": request.rounding, "shrink": shrink,
        "seed": request.seed, "top_k": request.top_k, "batch": request.batch,
        "metrics": summary["metrics"], "subsets": summary["subsets"], "validity": summary["validity"],
        "diversity": summary["diversity"], "paper": paper_figures(lang),
        "notes": NOTES[lang] + [DIVERSITY_NOTE],
        "seconds": round(time.perf_counter() - started, 1),
        "generation_seconds": round(generated - started, 1),
    }
    if pipe.cfg.retrieval:
        report["retrieval"] = {"strength": request.strength or pipe.cfg.retrieval_strength,
                               "copy_rate": copy_rate(candidates, retrieved),
                               # examples and candidates re-ordered by the store's lexicon (core/retrieval/rerank.py)
                               "reordered": pipe.lexicon(lang) is not None}
        for record, codes in zip(records, retrieved):
            record["retrieved"] = codes
    _finish_report(report, request, all_items, seen)
    if plots:
        report["plots"] = plots
    return report, records


def _finish_report(report: dict, request: EvalRequest, all_items: Sequence[EvalItem], seen) -> None:
    if request.lang == "python":
        report["codebertscore_model"] = request.codebertscore_model
    if request.lang == "bash":
        report["subsets"]["unseen_in_train"]["split"] = {
            "items": len(all_items), "seen_in_train": sum(normalize_ws(i.reference) in seen for i in all_items)}


def _run_baseline(request: EvalRequest, items, all_items, seen) -> tuple[dict, list[dict]]:
    """`cf eval --baseline lookup`: the floor every model is shown beside."""
    from core.retrieval.user import shipped_store

    if request.baseline not in BASELINES:
        raise CFError(f"unknown baseline {request.baseline!r}; choose one of: {', '.join(BASELINES)}")
    started = time.perf_counter()
    store = shipped_store()
    candidates = lookup_candidates(store, [i.nl for i in items], request.lang, request.top_k)
    generated = time.perf_counter()
    summary, records = score(items, candidates, request.lang, seen_in_train=seen,
                             codebertscore_model=request.codebertscore_model)
    report = {
        "lang": request.lang, "split": request.split, "items": len(items),
        "model": "lookup (bm25 over the train split, no model)", "baseline": request.baseline,
        "steps": 0, "top_k": request.top_k, "seed": request.seed,
        "metrics": summary["metrics"], "subsets": summary["subsets"], "validity": summary["validity"],
        "diversity": summary["diversity"], "paper": paper_figures(request.lang),
        "notes": NOTES[request.lang] + [DIVERSITY_NOTE, "lookup: the codes of the train rows whose nl is nearest "
                                        "the prompt by FTS5 bm25 (core/retrieval/store.py), distinct codes"],
        "seconds": round(time.perf_counter() - started, 1), "generation_seconds": round(generated - started, 1),
    }
    _finish_report(report, request, all_items, seen)
    return report, records


def _make_plots(pipe, items, lang, summary, candidates, steps, sweep: list[int], plot_dir: Path, bar,
                generate: dict, scoring: dict) -> dict:
    """Fig. 2 (refinement over the denoising steps) and Fig. 6 (quality vs number of steps)."""
    from cfcli.eval_plots import plot_quality_vs_steps, plot_refinement

    subset = items[:REFINEMENT_ITEMS]
    task = bar.add_task("plot: refinement", total=1)
    sampling = {k: v for k, v in generate.items() if k not in ("top_k", "seed", "batch")}
    curve = refinement_curve(pipe, [i.nl for i in subset], top_k=generate["top_k"], steps=steps,
                             seed=generate["seed"], **sampling)
    bar.advance(task)

    metric = main_metric(summary, lang)
    task = bar.add_task("plot: quality vs steps", total=len(sweep) * len(items))
    points = []
    for count in sweep:
        if count == steps:  # same seeds, same batches: the main run's candidates
            ranked = candidates
            bar.advance(task, len(items))
        else:
            ranked = generate_candidates(pipe, [i.nl for i in items], steps=count,
                                         advance=lambda n: bar.advance(task, n), **generate)
        at_count, _ = score(items, ranked, lang, **scoring)
        figures = at_count["metrics"][metric]
        points.append({"steps": count, "top1": figures["top1"], "top5": figures["top5"]})

    plot_dir.mkdir(parents=True, exist_ok=True)
    title = f"{Path(pipe.name).name} ({lang})"
    refinement_png = plot_dir / f"refinement-{lang}.png"
    quality_png = plot_dir / f"quality-vs-steps-{lang}.png"
    plot_refinement(curve, refinement_png, f"{title}: {len(subset)} prompts, {steps} steps")
    plot_quality_vs_steps(points, LABELS[metric], quality_png, f"{title}: {len(items)} items")
    return {"refinement": {"items": len(subset), "steps": steps, "edit_distance": [round(d, 4) for d in curve],
                           "file": str(refinement_png)},
            "quality_vs_steps": {"metric": metric, "points": points, "file": str(quality_png)}}


def items_path(out: Path) -> Path:
    """report.json -> report.items.jsonl (the per-item predictions beside the report)."""
    return out.with_name(out.stem + ".items.jsonl") if out.suffix else out.with_name(out.name + ".items.jsonl")


def write_report(report: dict, records: Sequence[dict], out: Path) -> Path:
    """The JSON report and its per-item JSONL, each written atomically; returns the JSONL path."""
    from core.atomic import atomic_write_bytes, atomic_write_json

    jsonl = items_path(out)
    lines = "".join(json.dumps(_rounded(r), ensure_ascii=False) + "\n" for r in records)
    atomic_write_bytes(jsonl, lambda p: p.write_text(lines, encoding="utf-8"))
    atomic_write_json(out, report)
    return jsonl


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _cell(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _metrics_table(title: str, section: dict, paper: dict | None):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("metric (%)")
    table.add_column("items", justify="right")
    for k in KS:
        table.add_column(f"top-{k}", justify="right")
    if paper:
        for k in KS:
            table.add_column(f"paper top-{k}", justify="right", style="dim")
        table.add_column("source", style="dim")
    for name, figures in section["metrics"].items():
        ours = ["—", "skipped", "", ""] if "skipped" in figures else \
            [str(figures["items"]), *(_cell(figures[f"top{k}"]) for k in KS)]
        row = [LABELS[name], *ours]
        if paper:
            theirs = paper["metrics"].get(name)
            row += [_cell(theirs[f"top{k}"]) for k in KS] + [theirs["table"]] if theirs else ["", "", "", ""]
        table.add_row(*row)
    validity = section["validity"]
    row = ["syntax valid (top-1)", str(validity["items"]), _cell(validity["top1"]), "", ""]
    if paper:
        row += [_cell(paper["validity"]["top1"]), "", "", paper["validity"]["table"]]
    table.add_row(*row)
    return table


def _diversity_table(title: str, diversity: dict, paper: dict | None):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("diversity of the top-5 (0..1)")
    table.add_column("ours", justify="right")
    if paper:
        table.add_column("paper", justify="right", style="dim")
    rows = [(f"distinct {n}-grams / tokens", diversity["distinct_ngrams"][n],
             paper and paper["distinct_ngrams"][n]) for n in "1234"]
    rows += [(f"pairwise edit distance, {s}", diversity["edit_distance"][s], paper and paper["edit_distance"][s])
             for s in ("min", "max", "mean")]
    rows.append(("distinct candidates per prompt", diversity["distinct_candidates"], None))
    for label, ours, theirs in rows:
        table.add_row(label, _cell(ours, 2), *([_cell(theirs, 2)] if paper else []))
    if paper:
        table.add_row("CodeBERT embedding similarity, mean", "not measured",
                      _cell(paper["embedding_similarity"]["mean"], 2))
        table.caption = paper["table"]
    return table


def print_report(report: dict) -> None:
    from rich.console import Console

    # A wide console when piped: rich would otherwise squeeze the table into 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 150)
    paper = report["paper"]
    console.print(_metrics_table(
        f"{report['lang']} {report['split']}: {report['items']} items, {report['model']}, {report['steps']} steps, "
        f"top-{report['top_k']}, seed {report['seed']}, {report['seconds']} s", report, paper))
    console.print(_diversity_table("", report["diversity"], paper["diversity"]))
    unseen = report["subsets"].get("unseen_in_train")
    if unseen:
        split = unseen["split"]
        console.print(_metrics_table(
            f"bash, {unseen['items']} of the {report['items']} items not in train ({split['seen_in_train']} of the "
            f"split's {split['items']} commands appear in train, whitespace-normalised)", unseen, None))
        console.print(_diversity_table("", unseen["diversity"], None))
    for name, figures in report["metrics"].items():
        if "skipped" in figures:
            console.print(f"{name} skipped: {figures['skipped']}", markup=False, highlight=False)
    for note in [f"paper: CodeFusion's rows in {paper['source']}", *report["notes"]]:
        console.print(note, style="dim", markup=False, highlight=False)
    if "plots" in report:
        for plot in report["plots"].values():
            console.print(f"wrote {plot['file']}")
