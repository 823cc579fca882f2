#!/usr/bin/env bash
# The training ablations of the paper's Table 4 at the baselines' budget (docs/results.md,
# "Ablations"): a pre-training stage of PRE_STEPS on the three snippet corpora, then exactly the
# fine-tuning of benchmarks/baselines.sh (the same recipe.sh: data, vocabulary, seed, steps and lr
# schedule) started from the pre-trained weights. baselines.sh's runs/codefusion-STEPS, which
# fine-tunes from scratch, is "M without pre-training". Variants (VARIANTS, space-separated):
#   full        pre-training mixes CPD and unconditional generation half and half (cf's default)
#   no-cpd      unconditional generation only   (paper: "M - CPD Objective", --cpd-rate 0)
#   no-codegen  CPD only                        (paper: "M - Code Generation", --cpd-rate 1)
#   STEPS=500 PRE_STEPS=250 VARIANTS="full no-cpd" bash benchmarks/ablations.sh [DATA_DIR]
# Reports: docs/results/ablation-VARIANT-PRE_STEPS-STEPS-{bash,python,cf}-test.json. Interrupted
# runs continue (--resume). THREADS=N sets torch threads (the measured runs: 1 each, two variants
# side by side on 2 cores, one instance of this script per variant). The rest of the settings,
# a lent GPU's among them: recipe.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-500}
PRE_STEPS=${PRE_STEPS:-250}
VARIANTS=${VARIANTS:-full no-cpd}
DATA=${1:+--data $1}
source benchmarks/recipe.sh
for variant in $VARIANTS; do
  case $variant in
    full) rate=0.5 ;; no-cpd) rate=0 ;; no-codegen) rate=1 ;;
    *) echo "unknown variant $variant (full, no-cpd, no-codegen)" >&2; exit 2 ;;
  esac
  pre="runs/ablation-$variant-pre$PRE_STEPS"
  run="runs/ablation-$variant-$PRE_STEPS-$STEPS"
  train_once "$pre" --no-progress --stage pretrain --cpd-rate "$rate" --max-steps "$PRE_STEPS"
  train_once "$run" --no-progress --stage finetune --init-from "$pre" --max-steps "$STEPS"
  eval_splits "$run" "ablation-$variant-$PRE_STEPS-$STEPS"
done
