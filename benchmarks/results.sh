#!/usr/bin/env bash
# Re-runs a model's measurements (the paper's tables, the ablation sampling settings) for a model
# (default: the shipped one) and writes the JSON reports (and per-item predictions) to docs/results/NAME-*.json;
# docs/results.md says which of them it keeps.
#   bash benchmarks/results.sh [MODEL] [DATA_DIR]
# LIMIT=N scores only the first N items of each language, BASH_LIMIT=N only of Bash (2,522 items).
set -euo pipefail
# cf's default sampling, length buckets included (v2's figures); LENGTH=--no-shrink measures at
# full length, as v0's figures (git history) were.
LENGTH=${LENGTH:---shrink}
cd "$(dirname "$0")/.."
MODEL=${1:-codefusion-small}
DATA=${2:+--data $2}
NAME=$(basename "$MODEL")
OUTDIR=docs/results
LIMIT_ARG=${LIMIT:+--limit $LIMIT}
BASH_LIMIT_ARG=${BASH_LIMIT:+--limit $BASH_LIMIT}
mkdir -p "$OUTDIR"
cf eval $LENGTH --lang bash --model "$MODEL" $DATA ${BASH_LIMIT_ARG:-$LIMIT_ARG} --out "$OUTDIR/$NAME-bash-test.json"
for lang in python cf; do
  cf eval $LENGTH --lang "$lang" --model "$MODEL" $DATA $LIMIT_ARG --out "$OUTDIR/$NAME-$lang-test.json"
done
# The paper's Table 4 inference ablations: rounding by nearest embedding instead of D + H
# ("grounding"), and nearest-embedding clamping at every step; on the first 200 Bash items and all CF.
cf eval $LENGTH --lang bash --model "$MODEL" $DATA --limit 200 --out "$OUTDIR/$NAME-bash-test200.json"  # M on those items
for lang in bash cf; do
  lim=$([ "$lang" = bash ] && echo "--limit 200" || true)
  cf eval $LENGTH --lang "$lang" --model "$MODEL" $DATA $lim --rounding nearest --out "$OUTDIR/$NAME-$lang-grounding.json"
  cf eval $LENGTH --lang "$lang" --model "$MODEL" $DATA $lim --clamp nearest --out "$OUTDIR/$NAME-$lang-nearest-clamp.json"
done
