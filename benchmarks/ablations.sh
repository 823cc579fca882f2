#!/usr/bin/env bash
# The training ablations of the paper's Table 4 at the baselines' budget (docs/results.md,
# "Ablations"): a pre-training stage of PRE_STEPS on the three snippet corpora, then exactly the
# fine-tuning of benchmarks/baselines.sh (same data, vocabulary, seed, steps and lr schedule)
# started from the pre-trained weights. baselines.sh's runs/codefusion-STEPS, which fine-tunes
# from scratch, is "M without pre-training". Variants (VARIANTS, space-separated):
#   full        pre-training mixes CPD and unconditional generation half and half (cf's default)
#   no-cpd      unconditional generation only   (paper: "M - CPD Objective", --cpd-rate 0)
#   no-codegen  CPD only                        (paper: "M - Code Generation", --cpd-rate 1)
#   STEPS=500 PRE_STEPS=250 VARIANTS="full no-cpd" bash benchmarks/ablations.sh [DATA_DIR]
# Reports: docs/results/ablation-VARIANT-PRE_STEPS-STEPS-{bash,python,cf}-test.json. Interrupted
# runs continue (--resume). THREADS=N sets torch threads (the measured runs: 1 each, two variants
# side by side on 2 cores, one instance of this script per variant). On a lent GPU (the device's
# image has no `cf` script): CF="python3 -m cfcli" DEVICE=cuda, with benchmarks/gpu/run.sh's PYTHONPATH.
set -euo pipefail
LENGTH=${LENGTH:---no-shrink}  # as baselines.sh: full length, the setting of the docs' figures
cd "$(dirname "$0")/.."
STEPS=${STEPS:-500}
PRE_STEPS=${PRE_STEPS:-250}
VARIANTS=${VARIANTS:-full no-cpd}
DATA=${1:+--data $1}
BASH_LIMIT=${BASH_LIMIT:-500}
OUTDIR=docs/results
mkdir -p "$OUTDIR" runs
threads=${THREADS:+env OMP_NUM_THREADS=$THREADS}
CF=${CF:-cf}
DEVICE=${DEVICE:-auto}

train() {  # train RUN_DIR ARGS...: one stage, resumed if it was interrupted, skipped once done
  local run=$1; shift
  [ -f "$run/.done" ] && return
  local resume=$([ -d "$run/train_state" ] && echo --resume || true)
  $threads $CF train --lang bash,python,cf --preset small --vocab data --warmup 50 --lr 5e-4 \
    --save-every 50 --log-every 10 --device "$DEVICE" --no-progress --out "$run" $DATA $resume "$@"
  touch "$run/.done"
}

for variant in $VARIANTS; do
  case $variant in
    full) rate=0.5 ;; no-cpd) rate=0 ;; no-codegen) rate=1 ;;
    *) echo "unknown variant $variant (full, no-cpd, no-codegen)" >&2; exit 2 ;;
  esac
  pre="runs/ablation-$variant-pre$PRE_STEPS"
  run="runs/ablation-$variant-$PRE_STEPS-$STEPS"
  train "$pre" --stage pretrain --cpd-rate "$rate" --max-steps "$PRE_STEPS"
  train "$run" --stage finetune --init-from "$pre" --max-steps "$STEPS"
  name="$OUTDIR/ablation-$variant-$PRE_STEPS-$STEPS"
  $threads $CF eval $LENGTH --device "$DEVICE" --lang bash --model "$run" $DATA --limit "$BASH_LIMIT" --out "$name-bash-test.json"
  for lang in python cf; do
    $threads $CF eval $LENGTH --device "$DEVICE" --lang "$lang" --model "$run" $DATA --out "$name-$lang-test.json"
  done
done
