#!/usr/bin/env bash
# Runs ON the lent GPU machine (device tool: `run` with carry [".gpu"], command
# `STEPS=6000 bash benchmarks/gpu/run.sh`): trains the multi-language small model (or resumes
# /tmp/run while the machine stays warm: RESUME=1), then evaluates and benchmarks it on the GPU
# and returns the fp16 weights in 15 MB parts (the device returns files of at most 16 MiB).
# Here, put the parts back together:  cat $FILES/model.part-* > model.safetensors
# and check it against $FILES/model.sha256.
# A failing step ends the run: a failed training must not go on to evaluate an older checkpoint.
#
# Before spending device time, a dry run does the same steps on this machine's CPU in a few minutes
# (tiny preset, 4 steps, 4 items, bench without its settings; data from DATA, default cf's data dir;
# files in OUT, default a temporary folder removed at the end):
#   DRY_RUN=1 bash benchmarks/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
if [ -n "${DRY_RUN:-}" ]; then
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  OUT=${OUT:-$TMP/out}
  mkdir -p "$OUT"
  export PYTHONPATH=$PWD CODEFUSION_HOME=$TMP/cfhome PYTHONUNBUFFERED=1
  DEVICE=cpu PRESET=${PRESET:-tiny} STEPS=${STEPS:-4} RUN=${RUN:-$TMP/run} EXPORT=$TMP/export
  DATA=${DATA:-$("$PYTHON" -c 'from core.data.fetch import data_dir; print(data_dir())')}
  EVAL=(--limit 4)
  BENCH=(--cold-only)  # the settings themselves: tests/test_bench.py (the 1,200-step one takes minutes here)
  echo "dry run on the CPU: preset $PRESET, $STEPS steps" | tee "$OUT/device.txt"
else
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD CODEFUSION_HOME=/tmp/cfhome PYTHONUNBUFFERED=1
  DEVICE=cuda PRESET=${PRESET:-small} STEPS=${STEPS:-6000} RUN=${RUN:-/tmp/run} EXPORT=/tmp/export DATA=.gpu/data
  EVAL=()
  BENCH=(--compile)
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/device.txt"
fi
date -u +%FT%TZ >> "$OUT/device.txt"
"$PYTHON" -m cfcli train --lang bash,python,cf --preset "$PRESET" --device "$DEVICE" --out "$RUN" --max-steps "$STEPS" \
  --data "$DATA" --save-every 500 --no-progress ${RESUME:+--resume} ${INIT:+--init-from "$INIT"} 2>&1 | tee "$OUT/train.log"
cp "$RUN/metrics.jsonl" "$OUT/"
if [ -n "${TRAIN_ONLY:-}" ]; then exit 0; fi
rm -rf "$EXPORT"
"$PYTHON" -m cfcli model add "$RUN" --name export --dtype fp16 --into "$EXPORT"
( cd "$EXPORT/export" && split -b 15M -d model.safetensors "$OUT/model.part-" && sha256sum model.safetensors > "$OUT/model.sha256"
  tar cf "$OUT/model-meta.tar" config.json tokenizer )
for lang in bash python cf; do
  "$PYTHON" -m cfcli eval --lang "$lang" --model "$RUN" --device "$DEVICE" --data "$DATA" "${EVAL[@]}" --json \
    --out "$OUT/eval-$lang.json" > /dev/null
done
"$PYTHON" -m cfcli bench --model "$RUN" --lang bash --device "$DEVICE" --data "$DATA" --cold-runs 0 "${BENCH[@]}" \
  --out "$OUT/bench-$DEVICE.json" > /dev/null
ls -la "$OUT"
