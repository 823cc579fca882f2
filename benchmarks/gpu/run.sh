#!/usr/bin/env bash
# Runs ON the lent GPU machine (device tool: `run` with carry [".gpu"], command
# `STEPS=6000 bash benchmarks/gpu/run.sh`): trains the multi-language small model (or resumes
# /tmp/run while the machine stays warm: RESUME=1), then evaluates and benchmarks it on the GPU
# and returns the fp16 weights in 15 MB parts (the device returns files of at most 16 MiB).
# Here, put the parts back together:  cat $FILES/model.part-* > model.safetensors
# and check it against $FILES/model.sha256.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD CODEFUSION_HOME=/tmp/cfhome PYTHONUNBUFFERED=1
STEPS=${STEPS:-6000}
PRESET=${PRESET:-small}
RUN=${RUN:-/tmp/run}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/device.txt"
date -u +%FT%TZ >> "$OUT/device.txt"
python3 -m cfcli train --lang bash,python,cf --preset "$PRESET" --device cuda --out "$RUN" --max-steps "$STEPS" \
  --data .gpu/data --save-every 500 --no-progress ${RESUME:+--resume} ${INIT:+--init-from "$INIT"} 2>&1 | tee "$OUT/train.log"
cp "$RUN/metrics.jsonl" "$OUT/" 2>/dev/null
[ -n "${TRAIN_ONLY:-}" ] && exit 0
rm -rf /tmp/export
python3 -m cfcli model add "$RUN" --name export --dtype fp16 --into /tmp/export || exit 1
( cd /tmp/export/export && split -b 15M -d model.safetensors "$OUT/model.part-" && sha256sum model.safetensors > "$OUT/model.sha256"
  tar cf "$OUT/model-meta.tar" config.json tokenizer )
for lang in bash python cf; do
  python3 -m cfcli eval --lang "$lang" --model "$RUN" --device cuda --data .gpu/data --json --out "$OUT/eval-$lang.json" > /dev/null
done
python3 -m cfcli bench --model "$RUN" --lang bash --device cuda --data .gpu/data --cold-runs 0 --compile --out "$OUT/bench-cuda.json" > /dev/null
ls -la "$OUT"
