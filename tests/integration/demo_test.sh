#!/usr/bin/env bash
# The README's demo command works: `scripts/demo.sh --check` (fast-forward, every answer against
# the simulator's truth, non-zero exit on a mismatch) and a short live run whose view shows
# closed windows reaching the collector.
#   demo_test.sh <source dir> <build dir>
set -euo pipefail
SRC=$1
BUILD=$2
export ES_DEMO_PREBUILT=1 BUILD_DIR=$BUILD
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$SRC/scripts/demo.sh" --check --devices 50 >"$out" 2>&1 || { cat "$out"; exit 1; }
grep -q "CHECK PASSED" "$out" || { cat "$out"; echo "no CHECK PASSED line"; exit 1; }

"$SRC/scripts/demo.sh" --duration 35s --devices 20 >"$out" 2>&1 || { cat "$out"; exit 1; }
grep -q "agent      readings/s" "$out" || { cat "$out"; echo "no live view"; exit 1; }
grep -Eq "site-0[0-9] +[0-9,]+ +[0-9.]+ +[0-9.]+" "$out" ||
  { cat "$out"; echo "no per-site row in the live view"; exit 1; }
grep -q "Authorization: Bearer" "$out" || { cat "$out"; echo "no Grafana hint"; exit 1; }
grep -q "live page  http://127.0.0.1:[0-9]*/#token=" "$out" ||
  { cat "$out"; echo "no live page URL in the live view"; exit 1; }
echo "demo: check and live view OK"
