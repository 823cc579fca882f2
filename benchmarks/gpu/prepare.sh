#!/usr/bin/env bash
# Run on this (CPU) machine before using a lent GPU: puts what a device run needs into .gpu/
# (git-ignored through the repository's info/exclude): the published data and the wheels the
# device's image lacks (bashlex for the metrics, snowballstemmer for the ranking; textual, pygls and
# platformdirs are not needed there).
#   bash benchmarks/gpu/prepare.sh [DATA_DIR]
# DATA_DIR: a folder with the published files; default: cf's own data dir ($CODEFUSION_DATA, else
# where `cf data fetch` put them), and when that has none, they are downloaded.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
exclude=$(git rev-parse --git-path info/exclude)  # (a worktree's .git is a file)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
mkdir -p .gpu/data .gpu/whl
src=${1:-$("$PYTHON" -c 'from core.data.fetch import data_dir; print(data_dir())')}
if [ -n "${1:-}" ] || [ -e "$src/BashBenchmarks.json" ]; then
  "$PYTHON" -m cfcli data fetch --from "$src" --dest .gpu/data
else
  "$PYTHON" -m cfcli data fetch --dest .gpu/data
fi
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  -d .gpu/whl bashlex==0.18 snowballstemmer==3.1.1
du -sh .gpu
