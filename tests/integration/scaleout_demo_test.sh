#!/usr/bin/env bash
# `scripts/scaleout-demo.sh --check` works on the built binaries: two collectors in one share
# group over one ClickHouse, the fleet with duplicated, late and offline messages, collector A
# killed (-9) twice; both collectors exact against the simulator's truth and identical.
#   scaleout_demo_test.sh <source dir> <build dir>
set -euo pipefail
SRC=$1
BUILD=$2
export ES_DEMO_PREBUILT=1 BUILD_DIR=$BUILD
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$SRC/scripts/scaleout-demo.sh" --check --devices 50 >"$out" 2>&1 || { cat "$out"; exit 1; }
grep -q "SCALE-OUT CHECK PASSED" "$out" || { cat "$out"; echo "no CHECK PASSED line"; exit 1; }
[[ $(grep -c "^CHECK PASSED" "$out") == 2 ]] || { cat "$out"; echo "not both collectors"; exit 1; }
[[ $(grep -c "kill -9 collector A" "$out") == 2 ]] || { cat "$out"; echo "no kills"; exit 1; }
echo "scale-out demo: check OK"
