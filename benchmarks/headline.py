"""The README's quality table, made from the reports in docs/results/ (never typed): the shipped
model beside the lookup table (no model), CodeFusion without retrieval, the autoregressive
baseline and the paper, top-1 / top-5 on the published test splits.

    python benchmarks/headline.py           # rewrite the table between the "quality" markers of DOCS
    python benchmarks/headline.py --check   # exit 1 when a document's table and the reports disagree
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
SPEED_START, SPEED_END = "<!-- speed:start -->", "<!-- speed:end -->"
BENCH = "codefusion-small-v4-bench-cpu.json"  # cf bench --out …; the README's speed line

# (column title, the report of each language). Each command that remakes a report is in
# docs/results.md ("Retrieval"); lookup-*: `cf eval --baseline lookup --lang L --out …`.
COLUMNS = [
    ("cf: `codefusion-small` (retrieval)", {"bash": "codefusion-small-v4-bash-all.json",
                                             "python": "codefusion-small-v4-python-test.json",
                                             "cf": "codefusion-small-v4-cf-test.json",
                                             "tldr": "codefusion-small-v4-tldr-heldout.json",
                                             "everyday": "codefusion-small-v4-everyday.json",
                                             "intercode": "codefusion-small-v4-intercode.json"}),
    ("lookup table, no model", {"bash": "lookup-bash-all.json", "python": "lookup-python-all.json",
                                "cf": "lookup-cf-all.json", "tldr": "lookup-tldr-heldout.json",
                                "everyday": "lookup-everyday.json", "intercode": "lookup-intercode.json"}),
    ("CodeFusion without retrieval (v3)", {"bash": "codefusion-small-bash-all.json",
                                           "python": "codefusion-small-python-test.json",
                                           "cf": "codefusion-small-cf-test.json"}),
    ("autoregressive T5, same size (Bash: first 500)", {"bash": "t5-ar-500-bash-test.json",
                                                        "python": "t5-ar-500-python-test.json",
                                                        "cf": "t5-ar-500-cf-test.json"}),
]
ROWS = [  # (language, metric or "valid", label)
    ("bash", "template_match", "Bash template match"),
    ("bash", "exact_match", "Bash exact match"),
    ("bash", "template_accuracy", "Bash template accuracy"),
    ("bash", "valid", "Bash: top-1 parses (%)"),
    ("python", "bleu", "Python BLEU-4"),
    ("python", "exact_match", "Python exact match"),
    ("python", "valid", "Python: top-1 parses (%)"),
    ("cf", "execution_match", "CF execution match"),
    ("cf", "valid", "CF: top-1 parses (%)"),
    ("intercode", "execution", "InterCode-ALFA runs right (`--bench intercode`)"),
    ("all", "copy", "top-1 identical to a retrieved example (%): Bash / Python / CF"),
    # Outside the published splits (cf eval --bench tldr / everyday; docs/results.md, "Everyday benchmarks")
    ("tldr", "right_tool", "tldr, held-out pages: right tool"),
    ("tldr", "slot_match", "tldr, held-out pages: exact match, placeholders as slots"),
    ("everyday", "bash", "Everyday Bash prompts accepted"),
    ("everyday", "python", "Everyday Python prompts accepted"),
]


def _copy(reports: dict) -> str:
    rates = [reports.get(lang, {}).get("retrieval", {}).get("copy_rate") for lang in ("bash", "python", "cf")]
    return "—" if all(r is None for r in rates) else " / ".join("—" if r is None else f"{r:.0f}" for r in rates)


def _cell(report: dict | None, metric: str) -> str:
    if report is None:
        return "—"
    if metric == "valid":
        return f"{report['validity']['top1']:.1f}"
    m = report["metrics"].get(metric)
    if m is None or "skipped" in m:
        return "—"
    return f"{m['top1']:.1f} / {m['top5']:.1f}"


def _paper(report: dict, metric: str) -> str:
    if "published" in report:  # InterCode-ALFA: its paper's top-1, with another output judge
        names = [r["model"].replace("qwen2.5-coder-", "").replace("-instruct", "").upper().replace("GPT-4O", "GPT-4o")
                 for r in report["published"]]
        models = " · ".join(f"{n} {r['top1']:.0f}" + (f" ({r['best_method_top1']:.0f})" if r["best_method_top1"] else "")
                            for n, r in zip(names, report["published"]))
        return f"published top-1 (best method), another judge: Qwen2.5-Coder {models}"
    if "paper" not in report:  # a benchmark the paper did not run
        return "—"
    if metric == "valid":
        return f"{report['paper']['validity']['top1']:.1f}"
    # The paper's CF figure is over all its items, execution or exact match (Table 1).
    p = report["paper"]["metrics"].get("execution_combined" if metric == "execution_match" else metric)
    return f"{p['top1']:.1f} / {p['top5']:.1f}" if p else "—"


def table(results: Path = RESULTS) -> str:
    reports = {title: {lang: json.loads((results / name).read_text()) for lang, name in files.items()
                       if (results / name).exists()} for title, files in COLUMNS}
    head = ["metric: top-1 / top-5", *(t for t, _ in COLUMNS), "paper"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lang, metric, label in ROWS:
        if metric == "copy":
            lines.append("| " + " | ".join([label, *(_copy(reports[t]) for t, _ in COLUMNS), "—"]) + " |")
            continue
        any_report = next((r[lang] for r in reports.values() if lang in r), None)
        if any_report is None:  # not measured yet
            continue
        n = any_report["items"] if metric == "valid" else any_report["metrics"][metric]["items"]
        lines.append("| " + " | ".join([f"{label} ({n} items)",
                                         *(_cell(reports[t].get(lang), metric) for t, _ in COLUMNS),
                                         _paper(any_report, metric)]) + " |")
    return "\n".join(lines) + "\n"


def speed(results: Path = RESULTS) -> str:
    """The README's one speed line, from the shipped model's `cf bench` report."""
    path = results / BENCH
    if not path.exists():
        return "not measured yet"
    r = json.loads(path.read_text())
    default = next(s for s in r["settings"] if "cf's default" in s["name"])
    paper = r["settings"][0]
    cold = r.get("cold_start") or {}
    cold_text = (f"; a new `cf \"…\" --json` process: {cold['wall_s_p50']:.2f} s p50, peak RSS "
                 f"{cold['peak_rss_mb']:.0f} MB" if cold.get("wall_s_p50") else "")
    return (f"5 candidates in {default['latency_ms_p50']:.0f} ms p50 ({default['latency_ms_p95']:.0f} ms p95), "
            f"retrieval included, {default['speedup_vs_paper']:.0f}× faster than the {paper['name']} "
            f"in the same run{cold_text} ({r['cpu_count']} CPU cores, {r['date']}; `cf bench --out "
            f"docs/results/{BENCH}`, [benchmarks/README.md](benchmarks/README.md)).")


# Every document that shows the table, between the markers.
DOCS = [ROOT / "README.md", ROOT / "docs" / "results.md", ROOT / "docs" / "models" / "codefusion-small.md"]


def rewritten(text: str, made: str, speed_line: str | None = None) -> str:
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: f"{START}\n{made}{END}", text, flags=re.S)
    if speed_line is not None and SPEED_START in text:
        text = re.sub(re.escape(SPEED_START) + ".*?" + re.escape(SPEED_END),
                      lambda m: f"{SPEED_START}{speed_line}{SPEED_END}", text, flags=re.S)
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true")
    a = p.parse_args()
    made, line, stale = table(), speed(), []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        if START not in text or END not in text:
            print(f"{doc} has no {START} … {END} section", file=sys.stderr)
            return 2
        new = rewritten(text, made, line)
        if new != text:
            stale.append(doc.relative_to(ROOT).as_posix())
            if not a.check:
                doc.write_text(new, encoding="utf-8")
    if a.check and stale:
        print(f"the quality table in {', '.join(stale)} disagrees with docs/results/; run benchmarks/headline.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
