#!/usr/bin/env bash
# edgesketch and VictoriaMetrics on the same generated readings: load time, bytes per reading on
# disk, RSS, and the median latency and error (against edgesketch-sim's exact truth) of the same
# five questions on both. A benchmark, not a test; the figures belong in docs/benchmarks.md.
#
#   bench/peers/run.sh                        # both fleets: low-rate (1 h), standard (5 min)
#   bench/peers/run.sh --fleet lowrate        # one fleet
#   bench/peers/run.sh --duration 600         # seconds of readings per fleet
#   bench/peers/run.sh --json results.json    # also write every figure as JSON
#
# Installs what it needs (scripts/setup.sh, Debian's victoria-metrics) and builds the binaries
# unless ES_DEMO_PREBUILT=1 (then it uses $BUILD_DIR/bin as it is). Everything runs on
# 127.0.0.1 on free ports, in temporary directories it removes afterwards (--keep keeps them).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
if [[ "${ES_DEMO_PREBUILT:-0}" != 1 ]]; then
  scripts/setup.sh
  if ! command -v victoria-metrics >/dev/null; then
    SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
    $SUDO apt-get install -y -qq --no-install-recommends victoria-metrics >/dev/null
  fi
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target edgesketch-agent edgesketch-collector \
    edgesketch-sim >/dev/null
fi
exec python3 bench/peers/peers.py --bin "$(cd "$BUILD_DIR" && pwd)/bin" "$@"
