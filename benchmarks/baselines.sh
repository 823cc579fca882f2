#!/usr/bin/env bash
# CodeFusion beside the autoregressive baseline at a matched budget (docs/results.md, "Baselines"):
# both the `small` preset, from scratch, on the same three train splits, by the same trainer with the
# same steps, batch and learning-rate schedule; then `cf eval` of both on the published test splits,
# reports in docs/results/{codefusion,t5-ar}-STEPS-{bash,python,cf}-test.json.
#   STEPS=500 bash benchmarks/baselines.sh [DATA_DIR]
# An interrupted run continues where it stopped (--resume). BASH_LIMIT=N (default 500) scores the
# first N of the 2,522 Bash items. THREADS=N sets each run's torch threads (the measured runs: 1,
# the two trained side by side on 2 cores). The recipe and the rest of the settings: recipe.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-500}
DATA=${1:+--data $1}
source benchmarks/recipe.sh
for arch in codefusion t5-ar; do
  train_once "runs/$arch-$STEPS" --arch "$arch" --max-steps "$STEPS"
done
for arch in codefusion t5-ar; do
  eval_splits "runs/$arch-$STEPS" "$arch-$STEPS"
done
python benchmarks/results_tables.py --compare "$OUTDIR"/codefusion-"$STEPS"-*-test.json "$OUTDIR"/t5-ar-"$STEPS"-*-test.json
