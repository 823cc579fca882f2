"""Markdown tables from `cf eval --out` and `cf bench --out` reports, so the figures in the docs
are printed by a command rather than copied by hand.

    python benchmarks/results_tables.py docs/results/codefusion-small-*-test.json
    python benchmarks/results_tables.py --bench docs/results/codefusion-small-v4-bench-cpu.json
    python benchmarks/results_tables.py --compare docs/results/codefusion-500-*-test.json docs/results/t5-ar-500-*-test.json
    python benchmarks/results_tables.py --paired docs/results/ablation-*-bash-test.json docs/results/codefusion-500-bash-test.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cell(v, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def eval_table(report: dict) -> str:
    paper = report.get("paper", {})
    early = f"early stop {report['early_stop']}, " if report.get("early_stop") else ""
    lines = [f"**{report['lang']}**, {report['split']} split, {report['items']} items "
             f"({report.get('sampler', 'ddim')}, {report['steps']} steps, {early}"
             f"{report.get('precision', 'fp32')}{', length buckets' if report.get('shrink') else ''}; "
             f"{report.get('seconds', 0):.0f} s)", "",
             "| metric (%) | top-1 | top-3 | top-5 | paper top-1 / top-5 |", "|---|---|---|---|---|"]
    for name, m in report["metrics"].items():
        if "skipped" in m:
            lines.append(f"| {name} | {m['skipped']} | | | |")
            continue
        p = paper.get("metrics", {}).get(name)
        ref = f"{p['top1']} / {p['top5']} ({p['table']})" if p else "—"
        lines.append(f"| {name} ({m['items']} items) | {cell(m['top1'])} | {cell(m['top3'])} | {cell(m['top5'])} | {ref} |")
    pv = paper.get("validity")
    pv_ref = f"{pv['top1']} ({pv['table']})" if pv else "—"
    lines.append(f"| syntax valid, top-1 | {cell(report['validity']['top1'])} | | | {pv_ref} |")
    for sub_name, sub in report.get("subsets", {}).items():
        for name, m in sub["metrics"].items():
            if "skipped" not in m and name == "template_match":
                lines.append(f"| {name}, {sub_name.replace('_', ' ')} ({m['items']} items) | {cell(m['top1'])} | "
                             f"{cell(m['top3'])} | {cell(m['top5'])} | — |")
    d, pd = report["diversity"], paper.get("diversity", {})
    lines += ["", "| top-5 diversity | distinct 1/2/3/4-grams | edit distance min / mean / max |", "|---|---|---|",
              f"| ours | {' / '.join(cell(d['distinct_ngrams'][n], 2) for n in '1234')} | "
              f"{' / '.join(cell(d['edit_distance'][s], 2) for s in ('min', 'mean', 'max'))} |"]
    if pd:
        lines.append(f"| paper ({pd.get('table', 'Table 2')}) | {' / '.join(cell(pd['distinct_ngrams'][n], 2) for n in '1234')} | "
                     f"{' / '.join(cell(pd['edit_distance'][s], 2) for s in ('min', 'mean', 'max'))} |")
    return "\n".join(lines)


def bench_table(report: dict) -> str:
    lines = [f"`{report['model']}`, {report['lang']}, {report['device']} ({report['cpu_count']} cores, "
             f"{report['torch_threads']} threads), top-{report['top_k']}, {report['date']}", "",
             f"| setting | p50 ms | p95 ms | speed-up | steps run | prompts/s (batch {report['batch']}) | "
             f"{report['settings'][0]['metric']} top-1 / top-5 | Δ top-5 vs paper | valid % |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["settings"] + ([report["autoregressive_baseline"]] if report.get("autoregressive_baseline") else []):
        lines.append(f"| {r['name']} | {r['latency_ms_p50']:.0f} | {r['latency_ms_p95']:.0f} | {r['speedup_vs_paper']}× | "
                     f"{r['mean_steps_run']:g} | {r['throughput_prompts_per_s']:.2f} | {cell(r['top1'])} / {cell(r['top5'])} "
                     f"({r['quality_items']} items) | {cell(r['top5_minus_paper'])} (first {r['common_items']}) | "
                     f"{cell(r['valid_top1'])} |")
    lines.append("")
    lines.append(f"Model load {report['load_s_p50']:.2f} s (p50 of 3); process peak RSS {report['process_peak_rss_mb']:.0f} MB.")
    if "cold_start" in report:
        c = report["cold_start"]
        lines.append(f"Cold `cf PROMPT --json` (new process): {c['wall_s_p50']:.2f} s p50 of {c['runs']}, "
                     f"peak RSS {c['peak_rss_mb']:.0f} MB.")
    return "\n".join(lines)


def compare_table(reports: list[dict]) -> str:
    """One row per model, top-1 / top-3 / top-5 of each language's main metric and exact match,
    and top-1 syntax validity: models side by side on the same items."""
    from cfcli.evaluate import main_metric  # the metric cf eval and cf bench report for the language

    langs = [lang for lang in ("bash", "python", "cf") if any(r["lang"] == lang for r in reports)]
    models = list(dict.fromkeys(r["model"] for r in reports))
    by = {(r["model"], r["lang"]): r for r in reports}
    metric = {lang: main_metric(next(r for r in reports if r["lang"] == lang), lang) for lang in langs}
    head = ["model"]
    for lang in langs:
        items = {by[m, lang]["items"] for m in models if (m, lang) in by}
        head += [f"{lang} {metric[lang]} ({'/'.join(map(str, sorted(items)))} items)", f"{lang} exact match",
                 f"{lang} valid"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in models:
        row = [f"`{Path(m).name}`"]
        for lang in langs:
            r = by.get((m, lang))
            if r is None:
                row += ["—", "—", "—"]
                continue
            for name in (metric[lang], "exact_match"):
                x = r["metrics"][name]
                row.append(" / ".join(cell(x[k]) for k in ("top1", "top3", "top5")))
            row.append(cell(r["validity"]["top1"]))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: how likely a split at least this uneven is when neither side is better."""
    from math import comb

    n = wins + losses
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(comb(n, i) for i in range(min(wins, losses) + 1)) / 2 ** n)


def item_scores(path: Path, metric: str) -> dict[tuple[str, int], float]:
    """Top-1 ``metric`` per item, keyed by (id, its n-th occurrence): CoNaLa ids repeat."""
    seen: dict[str, int] = {}
    scores = {}
    for row in map(json.loads, path.read_text().splitlines()):
        n = seen[row["id"]] = seen.get(row["id"], -1) + 1
        scores[row["id"], n] = row["scores"][metric]["top1"]
    return scores


def paired_table(paths: list[Path], skip: int = 0) -> str:
    """Every two reports of a language, item by item (each report's .items.jsonl): each one's mean
    top-1 main metric on the items both scored, on how many items each one's is higher, and the
    sign test's p on those counts (ties left out). ``skip``: leave out each split's first N items
    (those a choice was made on)."""
    from cfcli.evaluate import main_metric

    reports = [(json.loads(p.read_text()), p) for p in paths]
    lines = ["| language, top-1 metric | A | B | items | mean A / B | A higher | B higher | sign test p |",
             "|" + "---|" * 8]
    for i, (a, pa) in enumerate(reports):
        for b, pb in reports[i + 1:]:
            if a["lang"] != b["lang"]:
                continue
            metric = main_metric(a, a["lang"])
            top1 = [item_scores(p.with_suffix(".items.jsonl"), metric) for p in (pa, pb)]
            order = list(top1[0])  # the split's order
            ids = [k for k in order[skip:] if k in top1[1]]
            wins = sum(top1[0][k] > top1[1][k] for k in ids)
            losses = sum(top1[0][k] < top1[1][k] for k in ids)
            means = " / ".join(f"{100 * sum(t[k] for k in ids) / max(len(ids), 1):.1f}" for t in top1)
            lines.append(f"| {a['lang']}, {metric} | `{pa.stem}` | `{pb.stem}` | {len(ids)} | {means} | "
                         f"{wins} | {losses} | {sign_test(wins, losses):.2g} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--bench", action="store_true", help="the reports are cf bench reports")
    ap.add_argument("--compare", action="store_true", help="one table: the eval reports' models side by side")
    ap.add_argument("--paired", action="store_true", help="every two models of a language compared item by item")
    ap.add_argument("--skip", type=int, default=0, help="--paired: leave out the first N items of each split")
    a = ap.parse_args()
    if a.paired:
        print(paired_table([Path(p) for p in a.reports], a.skip))
        return
    if a.compare:
        print(compare_table([json.loads(Path(p).read_text()) for p in a.reports]))
        return
    for path in a.reports:
        report = json.loads(Path(path).read_text())
        print(bench_table(report) if a.bench else eval_table(report))
        print()


if __name__ == "__main__":
    main()
