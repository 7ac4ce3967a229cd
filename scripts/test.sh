#!/usr/bin/env bash
# Sets up, builds (Release) and runs the whole test suite with CTest.
#   scripts/test.sh            everything: unit, integration and a short fuzz run
#   ES_SKIP_FUZZ=1 scripts/test.sh    without the clang/libFuzzer build
# Environment: BUILD_DIR (default build), ES_FUZZ_SECONDS (default 15), JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"
ctest --test-dir "$BUILD_DIR" --no-tests=error --output-on-failure -j"$JOBS" --timeout 900

if [[ "${ES_SKIP_FUZZ:-0}" != 1 ]] && command -v clang++ >/dev/null; then
  FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
  CC=clang CXX=clang++ cmake -S . -B "$FUZZ_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DES_FUZZ=ON \
    -DES_BUILD_BENCH=OFF -DES_FUZZ_SECONDS="${ES_FUZZ_SECONDS:-15}" >/dev/null
  cmake --build "$FUZZ_DIR" -j"$JOBS" --target es_fuzzers
  ctest --test-dir "$FUZZ_DIR" --no-tests=error --output-on-failure -L fuzz -j"$JOBS"
fi
