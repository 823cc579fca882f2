# Sourced by baselines.sh and ablations.sh: the one training recipe and evaluation of the docs'
# matched-budget comparisons, so the runs they compare cannot drift apart.
#   train_once RUN_DIR ARGS...  `cf train` of the recipe (the small preset, the three languages,
#                               --vocab data, lr 5e-4, 50 warm-up steps), resumed if it was
#                               interrupted, skipped once done
#   eval_splits RUN_DIR NAME    `cf eval` on the three test splits (the first BASH_LIMIT Bash items):
#                               docs/results/NAME-{bash,python,cf}-test.json
# Environment: THREADS=N (torch threads per run), LENGTH (default --no-shrink: the docs' figures were
# measured at full length, before length buckets joined cf's default; --shrink measures with
# them), BASH_LIMIT (default 500 of the 2,522 Bash items), and for a lent GPU, whose image has no
# `cf` script: CF="python3 -m cfcli" DEVICE=cuda, with benchmarks/gpu/run.sh's PYTHONPATH.
LENGTH=${LENGTH:---no-shrink}
BASH_LIMIT=${BASH_LIMIT:-500}
OUTDIR=docs/results
CF=${CF:-cf}
device=${DEVICE:+--device $DEVICE}  # unset: each command's own default
threads=${THREADS:+env OMP_NUM_THREADS=$THREADS}
mkdir -p "$OUTDIR" runs

train_once() {
  local run=$1; shift
  [ -f "$run/.done" ] && return
  local resume=$([ -d "$run/train_state" ] && echo --resume || true)
  $threads $CF train --lang bash,python,cf --preset small --vocab data --warmup 50 --lr 5e-4 \
    --save-every 50 --log-every 10 $device --out "$run" $DATA $resume "$@"
  touch "$run/.done"
}

eval_splits() {
  local run=$1 name=$OUTDIR/$2
  $threads $CF eval $LENGTH $device --lang bash --model "$run" $DATA --limit "$BASH_LIMIT" \
    --out "$name-bash-test.json"
  for lang in python cf; do
    $threads $CF eval $LENGTH $device --lang "$lang" --model "$run" $DATA --out "$name-$lang-test.json"
  done
}
