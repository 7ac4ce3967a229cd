#!/usr/bin/env bash
# The end-to-end demo on one machine, everything on loopback:
#   mosquitto (devices' local broker and uplink) → edgesketch-agent (windows, sketches, outbox)
#   → edgesketch-collector (exactly-once store, Prometheus-compatible API)
# fed by edgesketch-sim (a simulated fleet).
#
#   scripts/demo.sh                    # live: the fleet in real time and a terminal view of what
#                                      # the collector answers, refreshed every 3 s, until Ctrl-C
#   scripts/demo.sh --duration 2m      # the same, for two minutes
#   scripts/demo.sh --check            # fast-forward 5 simulated minutes, compare the
#                                      # collector's answers with `edgesketch-sim truth`; exits
#                                      # non-zero on any mismatch
#   scripts/demo.sh --devices 1000     # the standard fleet size (default 200)
#   scripts/demo.sh --keep             # leave the daemons running afterwards (prints how to stop)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source "$ROOT/scripts/lib/demo-common.sh"

MODE=live
DURATION=""
DEVICES=${DEVICES:-200}
KEEP=${KEEP:-0}
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --check) MODE=check ;;
    --duration) DURATION=${2:?--duration needs a value such as 90s or 5m}; shift ;;
    --duration=*) DURATION=${1#*=} ;;
    --devices) DEVICES=${2:?--devices needs a number}; shift ;;
    --devices=*) DEVICES=${1#*=} ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
DURATION_S=0
if [[ -n "$DURATION" ]]; then
  if [[ "$DURATION" =~ ^([0-9]+)(s|m|h)?$ ]]; then
    case "${BASH_REMATCH[2]}" in
      h) DURATION_S=$((BASH_REMATCH[1] * 3600)) ;;
      m) DURATION_S=$((BASH_REMATCH[1] * 60)) ;;
      *) DURATION_S=${BASH_REMATCH[1]} ;;
    esac
  else
    echo "demo.sh: --duration takes N, Ns, Nm or Nh (got '$DURATION')" >&2
    exit 2
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
# ES_DEMO_PREBUILT=1: use the binaries in $BUILD_DIR as they are (the test suite's demo test).
if [[ "${ES_DEMO_PREBUILT:-0}" != 1 ]]; then
  scripts/setup.sh
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target edgesketch-agent edgesketch-collector \
    edgesketch-sim >/dev/null
fi
BIN=$(cd "$BUILD_DIR" && pwd)/bin

WORK=$(mktemp -d /tmp/edgesketch-demo.XXXXXX)
PIDS=()
cleanup() {
  if [[ "$KEEP" == 1 ]]; then
    echo "daemons left running (pids ${PIDS[*]}); stop with: kill ${PIDS[*]}; data in $WORK"
    return
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
BROKER_PORT=$(demo_port)
HTTP_PORT=$(demo_port)
METRICS_PORT=$(demo_port)
TOKEN=demo-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

demo_step "mosquitto on 127.0.0.1:$BROKER_PORT"
demo_mosquitto "$BROKER_PORT"

demo_step "edgesketch-collector on http://127.0.0.1:$HTTP_PORT"
cat >"$WORK/collector.toml" <<EOF
[collector]
data_dir = "$WORK/collector"
[mqtt]
broker = "tcp://127.0.0.1:$BROKER_PORT"
client_id = "demo-collector"
[http]
listen = "127.0.0.1:$HTTP_PORT"
[[tenant]]
name = "demo"
tokens = ["$TOKEN"]
EOF
"$BIN/edgesketch-collector" --config "$WORK/collector.toml" >"$WORK/collector.log" 2>&1 &
PIDS+=($!)

demo_step "edgesketch-agent (gateway demo-gw-1), metrics on http://127.0.0.1:$METRICS_PORT/metrics"
demo_agent_config "$WORK/agent.toml" demo-gw-1 demo "$BROKER_PORT" "$METRICS_PORT"
"$BIN/edgesketch-agent" --config "$WORK/agent.toml" >"$WORK/agent.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$HTTP_PORT/-/ready" >/dev/null &&
    curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null && break
  sleep 0.1
done

grafana_hint() {
  cat <<EOF

The collector's live page (charts of the fleet, live over Server-Sent Events):
  http://127.0.0.1:$HTTP_PORT/#token=$TOKEN
  (or open http://127.0.0.1:$HTTP_PORT/ and log in with the token $TOKEN)

Point Grafana at it (Grafana's own Prometheus datasource, no plugin):
  URL     http://127.0.0.1:$HTTP_PORT
  header  Authorization: Bearer $TOKEN
  or provision packaging/grafana/ (datasource + the fleet-overview dashboard) with that URL
  and token. Try a query:
  curl -s -G -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$HTTP_PORT/api/v1/query \\
    --data-urlencode 'query=histogram_quantile(0.99, sum by (site) (vibration_by_line))'
EOF
  [[ "$KEEP" == 1 ]] || echo "  (run with --keep to keep the daemons running afterwards)"
}

if [[ "$MODE" == live ]]; then
  demo_step "edgesketch-sim: $DEVICES devices in real time"
  SIM_DURATION=$((DURATION_S > 0 ? DURATION_S + 60 : 30 * 86400))
  "$BIN/edgesketch-sim" --devices "$DEVICES" --sites 10 --lines 5 --duration "${SIM_DURATION}s" \
    --speed 1 --qos 1 --batch 100 --max-delay 1s --broker "tcp://127.0.0.1:$BROKER_PORT" \
    --quiet >"$WORK/sim.log" 2>&1 &
  PIDS+=($!)
  grafana_hint
  sleep 3
  python3 "$ROOT/scripts/demo_view.py" live --collector "http://127.0.0.1:$HTTP_PORT" \
    --token "$TOKEN" --agent-metrics "http://127.0.0.1:$METRICS_PORT/metrics" \
    --duration "$DURATION_S" --devices "$DEVICES" || true
  grafana_hint
  exit 0
fi

# Five simulated minutes ending a minute ago, aligned to 5 minutes, sent as fast as possible.
NOW_S=$(date +%s)
START_S=$(((NOW_S - 360) / 300 * 300))
END_S=$((START_S + 300))
demo_step "edgesketch-sim: $DEVICES devices, 5 simulated minutes from $(date -u -d @$START_S +%H:%M:%S) UTC"
"$BIN/edgesketch-sim" --devices "$DEVICES" --sites 10 --lines 5 --duration 5m \
  --start-ms $((START_S * 1000)) --speed 0 --qos 1 --batch 100 \
  --broker "tcp://127.0.0.1:$BROKER_PORT" --record "$WORK/sent.rec" --quiet --summary-json \
  >"$WORK/sim_summary.json"
SENT=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["readings_sent"])' \
  "$WORK/sim_summary.json")
echo "sent $SENT readings"

demo_step "waiting for the windows to close, reach the collector and be acked"
if ! demo_wait_settled "$METRICS_PORT" "$SENT"; then
  echo "the agent did not take, close and ship every reading within 300 s; logs in $WORK" >&2
  KEEP=1
  exit 1
fi
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^edgesketch_agent_(input_readings|readings_accepted|windows_closed|outbox_rows|batches_acked|uplink)' | head -12 || true

demo_truth

demo_step "collector answers (HTTP API, exact sketch merges) vs edgesketch-sim truth (exact)"
python3 "$ROOT/scripts/demo_view.py" check --collector "http://127.0.0.1:$HTTP_PORT" \
  --token "$TOKEN" --work "$WORK" --time "$END_S"
