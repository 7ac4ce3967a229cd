#!/usr/bin/env bash
# The demo. Today edgesketch has its foundation (sketches, wire format) but no agent or collector
# yet, so this sets up, builds, and shows the sketch library's speed, size and accuracy figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"${JOBS:-2}"
echo
echo "edgesketch sketch library figures (medians; targets in docs/architecture.md):"
"$BUILD_DIR"/bin/edgesketch-bench sketch "$@"
echo
echo "No end-to-end demo yet: the agent and collector are not built. See README.md, Status."
