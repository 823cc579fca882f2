#!/usr/bin/env bash
# The shipped retrieval model's reports on the whole published test splits (docs/results/), the
# lookup table's beside them, then the tables made from them (README, docs/results.md, model card).
#   bash benchmarks/retrieval_results.sh [MODEL] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-codefusion-small}
DATA=${2:+--data $2}
NAME=${NAME:-codefusion-small-v4}
OUT=docs/results
cf eval --lang bash --model "$MODEL" $DATA --out "$OUT/$NAME-bash-all.json" >/dev/null
for lang in python cf; do
  cf eval --lang "$lang" --model "$MODEL" $DATA --out "$OUT/$NAME-$lang-test.json" >/dev/null
done
for lang in bash python cf; do
  cf eval --baseline lookup --lang "$lang" $DATA --out "$OUT/lookup-$lang-all.json" >/dev/null
done
python benchmarks/headline.py
