#!/usr/bin/env bash
# Installs every Debian 12 package edgesketch needs to build, test and run. Idempotent: quiet and
# quick when everything is already there. Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config ccache clang clang-format libclang-rt-dev python3
  # libraries
  libgtest-dev libgmock-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libxxhash-dev
  libzstd-dev zlib1g-dev libsqlite3-dev libtomlplusplus-dev libcli11-dev libcpp-httplib-dev
  libcurl4-openssl-dev libssl-dev libsystemd-dev libboost-dev libre2-dev
  libpaho-mqtt-dev libpaho-mqttpp-dev
  # wire format
  protobuf-compiler nanopb libnanopb-dev
  # services the tests run for real
  mosquitto mosquitto-clients openssl systemd
  # promtool: a real Prometheus API client for the collector's HTTP tests
  prometheus
  # the collector's ClickHouse store is tested against a real server
  clickhouse-server
  # the collector's live page: Chart.js, compiled into the binary; Chromium for its browser test
  libjs-chart.js chromium
  # packaging checks
  dpkg-dev fakeroot lintian
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
