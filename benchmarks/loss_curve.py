"""Plot a run's loss curve (total and each term) from its metrics.jsonl, and below it the held-out
top-1 scores when the run was trained with --holdout.

    python benchmarks/loss_curve.py runs/bash-small-cpu/metrics.jsonl --out docs/img/bash-small-cpu-loss.png
"""

from __future__ import annotations

import argparse
import json
import statistics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("metrics")
    ap.add_argument("--out", required=True)
    ap.add_argument("--every", type=int, default=100, help="also print a row every N steps")
    a = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from core.train.validate import HEADLINE, headline

    every = [json.loads(line) for line in open(a.metrics, encoding="utf-8") if line.strip()]

    def last_per_step(kind: str) -> list[dict]:
        # A resumed run may repeat steps after its last save: keep the last row written for each.
        by_step = {(r["stage"], r["step"]): r for r in every if kind in r}
        return [by_step[k] for k in sorted(by_step, key=lambda k: (k[0] != "pretrain", k[1]))]

    rows, checks = last_per_step("loss"), last_per_step("validation")
    fig, axes = plt.subplots(2 if checks else 1, 1, figsize=(7, 6.5 if checks else 4), sharex=True, squeeze=False)
    ax = axes[0][0]
    # Each stage counts its steps from 0: fine-tuning is drawn after pre-training's last step.
    pretrain_end = max((r["step"] for r in rows if r["stage"] == "pretrain"), default=0)

    def along(rs: list[dict]) -> list[int]:
        return [r["step"] + (pretrain_end if r["stage"] == "finetune" else 0) for r in rs]

    x = along(rows)
    for key in ("loss", "nll", "decoder", "denoise"):
        ax.plot(x, [r[key] for r in rows], label=key)
    ax.set_yscale("log")
    if not checks:
        ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (log scale)")
    ax.legend()
    ax.grid(alpha=0.3)
    if checks:
        held = axes[1][0]
        for lang in checks[-1]["validation"]:
            name = HEADLINE[lang]
            held.plot(along(checks), [c["validation"][lang][name] for c in checks], marker="o",
                      label=f"{lang}: {name.replace('_', ' ')}")
        held.set_ylabel("held-out top-1 (%)")
        held.set_xlabel("optimizer step")
        held.legend()
        held.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    rates = [r["examples_per_s"] for r in rows]
    # Each row covers the examples since the previous row, at that row's rate (a file of two runs,
    # pre-training then a fine-tuning started from it, counts examples from 0 again).
    seconds = sum((r["examples"] - prev["examples"] if r["examples"] > prev["examples"] else r["examples"])
                  / r["examples_per_s"] for prev, r in zip([{"examples": 0}] + rows, rows))
    print(f"{len(rows)} rows, steps {rows[0]['step']}..{rows[-1]['step']}; examples/s median "
          f"{statistics.median(rates):.1f}, max {max(rates):.1f}; training time {seconds / 60:.0f} min")
    first = rows[0]
    print(f"first row (step {first['step']}): loss {first['loss']:.2f}, nll {first['nll']:.2f}")
    print(f"{'step':>6} {'loss':>7} {'nll':>7} {'decoder':>8} {'denoise':>8} {'ex/s':>6}")
    for r in rows:
        if r["step"] % a.every == 0:
            print(f"{r['step']:>6} {r['loss']:7.3f} {r['nll']:7.3f} {r['decoder']:8.3f} {r['denoise']:8.3f} "
                  f"{r['examples_per_s']:6.1f}")
    for c in checks:
        print(f"held-out top-1 at {c['stage']} step {c['step']}: {headline(c['validation'])}")


if __name__ == "__main__":
    main()
