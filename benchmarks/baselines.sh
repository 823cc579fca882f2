#!/usr/bin/env bash
# CodeFusion beside the autoregressive baseline at a matched budget (docs/results.md, "Baselines"):
# both the `small` preset, from scratch, on the same three train splits, by the same trainer with the
# same steps, batch and learning-rate schedule; then `cf eval` of both on the published test splits,
# reports in docs/results/{codefusion,t5-ar}-STEPS-{bash,python,cf}-test.json.
#   STEPS=500 bash benchmarks/baselines.sh [DATA_DIR]
# An interrupted run continues where it stopped (--resume). BASH_LIMIT=N (default 500) scores the
# first N of the 2,522 Bash items. THREADS=N sets each run's torch threads (the measured runs: 1,
# the two trained side by side on 2 cores).
set -euo pipefail
# The docs' figures were measured at full length, before length buckets joined cf's default:
# LENGTH=--shrink measures with them.
LENGTH=${LENGTH:---no-shrink}
cd "$(dirname "$0")/.."
STEPS=${STEPS:-500}
DATA=${1:+--data $1}
BASH_LIMIT=${BASH_LIMIT:-500}
OUTDIR=docs/results
mkdir -p "$OUTDIR" runs
for arch in codefusion t5-ar; do
  run="runs/$arch-$STEPS"
  if [ ! -f "$run/.done" ]; then
    resume=$([ -d "$run/train_state" ] && echo --resume || true)
    ${THREADS:+env OMP_NUM_THREADS=$THREADS} cf train --arch "$arch" --lang bash,python,cf --preset small --vocab data \
      --out "$run" --max-steps "$STEPS" --warmup 50 --lr 5e-4 --save-every 50 --log-every 10 $DATA $resume
    touch "$run/.done"
  fi
done
for arch in codefusion t5-ar; do
  run="runs/$arch-$STEPS"
  cf eval $LENGTH --lang bash --model "$run" $DATA --limit "$BASH_LIMIT" --out "$OUTDIR/$arch-$STEPS-bash-test.json"
  for lang in python cf; do
    cf eval $LENGTH --lang "$lang" --model "$run" $DATA --out "$OUTDIR/$arch-$STEPS-$lang-test.json"
  done
done
python benchmarks/results_tables.py --compare "$OUTDIR"/codefusion-"$STEPS"-*-test.json "$OUTDIR"/t5-ar-"$STEPS"-*-test.json
