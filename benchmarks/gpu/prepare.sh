#!/usr/bin/env bash
# Run on this (CPU) machine before using a lent GPU: puts what a device run needs into .gpu/
# (git-ignored through .git/info/exclude): the published data and the wheels the device's image
# lacks (bashlex for the metrics; textual, pygls and platformdirs are not needed there).
#   bash benchmarks/gpu/prepare.sh [DATA_DIR]     (default ../shared/data/codefusion)
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
mkdir -p .gpu/data .gpu/whl
cf data fetch --from "${1:-../shared/data/codefusion}" --dest .gpu/data
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  -d .gpu/whl bashlex==0.18
du -sh .gpu
