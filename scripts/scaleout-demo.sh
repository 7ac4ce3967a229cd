#!/usr/bin/env bash
# Past one collector, on one machine, everything on loopback: two edgesketch-collectors in one
# MQTT share group write to the same ClickHouse database (docs/scaling.md):
#   mosquitto → edgesketch-agent → mosquitto ($share/collectors/...) → collector A | collector B
#   → ClickHouse (Debian clickhouse-server, own data directory and ports)
# fed by edgesketch-sim (a simulated fleet).
#
#   scripts/scaleout-demo.sh            # live: the fleet in real time, the terminal view of
#                                       # collector A, until Ctrl-C
#   scripts/scaleout-demo.sh --check    # fast-forward 5 simulated minutes with duplicated, late
#                                       # and offline messages, kill -9 collector A twice and
#                                       # restart it, then compare both collectors' answers with
#                                       # `edgesketch-sim truth` and with each other; exits
#                                       # non-zero on any mismatch
#   scripts/scaleout-demo.sh --devices 1000   # fleet size (default 200)
#   scripts/scaleout-demo.sh --keep     # leave the daemons running afterwards
#
# Like scripts/demo.sh: BUILD_DIR names the build, ES_DEMO_PREBUILT=1 uses its binaries as they
# are (no setup, no build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source "$ROOT/scripts/lib/demo-common.sh"

MODE=live
DEVICES=${DEVICES:-200}
KEEP=${KEEP:-0}
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --check) MODE=check ;;
    --devices) DEVICES=${2:?--devices needs a number}; shift ;;
    --devices=*) DEVICES=${1#*=} ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scaleout-demo.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

BUILD_DIR=${BUILD_DIR:-build}
if [[ "${ES_DEMO_PREBUILT:-0}" != 1 ]]; then
  scripts/setup.sh
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target edgesketch-agent edgesketch-collector \
    edgesketch-sim >/dev/null
fi
BIN=$(cd "$BUILD_DIR" && pwd)/bin
CLICKHOUSE=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)

WORK=$(mktemp -d /tmp/edgesketch-scaleout.XXXXXX)
PIDS=()
cleanup() {
  if [[ "$KEEP" == 1 ]]; then
    echo "daemons left running (pids ${PIDS[*]} ${COLLECTOR_A_PID:-}); data and logs in $WORK"
    return
  fi
  for p in "${PIDS[@]}" ${COLLECTOR_A_PID:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
BROKER_PORT=$(demo_port)
CH_HTTP_PORT=$(demo_port)
CH_TCP_PORT=$(demo_port)
HTTP_A=$(demo_port)
HTTP_B=$(demo_port)
METRICS_PORT=$(demo_port)
TOKEN=demo-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

demo_step "mosquitto on 127.0.0.1:$BROKER_PORT"
demo_mosquitto "$BROKER_PORT"

demo_step "ClickHouse on http://127.0.0.1:$CH_HTTP_PORT (data in $WORK/clickhouse)"
mkdir -p "$WORK/clickhouse"
cat >"$WORK/clickhouse/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
EOF
cat >"$WORK/clickhouse/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$WORK/clickhouse/server.log</log>
    <errorlog>$WORK/clickhouse/server.err.log</errorlog></logger>
  <http_port>$CH_HTTP_PORT</http_port>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$WORK/clickhouse/data/</path>
  <tmp_path>$WORK/clickhouse/tmp/</tmp_path>
  <user_files_path>$WORK/clickhouse/user_files/</user_files_path>
  <format_schema_path>$WORK/clickhouse/format_schemas/</format_schema_path>
  <users_config>$WORK/clickhouse/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
EOF
"$CLICKHOUSE" --config-file="$WORK/clickhouse/config.xml" >"$WORK/clickhouse/stdout.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$CH_HTTP_PORT/ping" >/dev/null && break
  sleep 0.2
done

collector_config() {  # collector_config NAME HTTP_PORT
  cat >"$WORK/collector-$1.toml" <<EOF
[collector]
data_dir = "$WORK/collector-$1"
[mqtt]
broker = "tcp://127.0.0.1:$BROKER_PORT"
client_id = "scaleout-collector-$1"
share_group = "collectors"
[http]
listen = "127.0.0.1:$2"
[store]
backend = "clickhouse"
[clickhouse]
url = "http://127.0.0.1:$CH_HTTP_PORT"
database = "edgesketch"
[[tenant]]
name = "demo"
tokens = ["$TOKEN"]
EOF
}
collector_config a "$HTTP_A"
collector_config b "$HTTP_B"

demo_step "edgesketch-collector --init-clickhouse"
"$BIN/edgesketch-collector" --init-clickhouse --config "$WORK/collector-a.toml"

start_collector() {  # start_collector NAME: its pid on stdout
  "$BIN/edgesketch-collector" --config "$WORK/collector-$1.toml" >>"$WORK/collector-$1.log" 2>&1 &
  echo $!
}
wait_ready() {  # wait_ready HTTP_PORT
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "the collector on port $1 did not get ready; logs in $WORK" >&2
  KEEP=1
  exit 1
}
demo_step "collectors A (http://127.0.0.1:$HTTP_A) and B (http://127.0.0.1:$HTTP_B), share group 'collectors'"
COLLECTOR_A_PID=$(start_collector a)
PIDS+=("$(start_collector b)")
wait_ready "$HTTP_A"
wait_ready "$HTTP_B"

demo_step "edgesketch-agent (gateway demo-gw-1), metrics on http://127.0.0.1:$METRICS_PORT/metrics"
demo_agent_config "$WORK/agent.toml" demo-gw-1 demo "$BROKER_PORT" "$METRICS_PORT"
"$BIN/edgesketch-agent" --config "$WORK/agent.toml" >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null && break
  sleep 0.1
done

if [[ "$MODE" == live ]]; then
  demo_step "edgesketch-sim: $DEVICES devices in real time"
  "$BIN/edgesketch-sim" --devices "$DEVICES" --sites 10 --lines 5 --duration 30d --speed 1 \
    --qos 1 --batch 100 --max-delay 1s --broker "tcp://127.0.0.1:$BROKER_PORT" --quiet \
    >"$WORK/sim.log" 2>&1 &
  PIDS+=($!)
  echo "Both collectors answer alike; query either with: Authorization: Bearer $TOKEN"
  sleep 3
  python3 "$ROOT/scripts/demo_view.py" live --collector "http://127.0.0.1:$HTTP_A" \
    --token "$TOKEN" --agent-metrics "http://127.0.0.1:$METRICS_PORT/metrics" \
    --devices "$DEVICES" || true
  exit 0
fi

# Five simulated minutes ending a minute ago, aligned to 5 minutes, with faults, sent as fast as
# possible; collector A is killed (-9) twice meanwhile and started again.
NOW_S=$(date +%s)
START_S=$(((NOW_S - 360) / 300 * 300))
END_S=$((START_S + 300))
demo_step "edgesketch-sim: $DEVICES devices, 5 simulated minutes with duplicates, late and offline messages"
"$BIN/edgesketch-sim" --devices "$DEVICES" --sites 10 --lines 5 --duration 5m \
  --start-ms $((START_S * 1000)) --speed 0 --qos 1 --batch 100 \
  --dup-ratio 0.02 --late-ratio 0.01 --late 20s --offline-ratio 0.005 --offline 30s \
  --broker "tcp://127.0.0.1:$BROKER_PORT" --record "$WORK/sent.rec" --quiet --summary-json \
  >"$WORK/sim_summary.json" &
SIM_PID=$!
for round in 1 2; do
  sleep 2
  demo_step "kill -9 collector A (round $round), then start it again"
  kill -9 "$COLLECTOR_A_PID" 2>/dev/null || true
  wait "$COLLECTOR_A_PID" 2>/dev/null || true
  sleep 1
  COLLECTOR_A_PID=$(start_collector a)
  wait_ready "$HTTP_A"
done
wait "$SIM_PID"
SENT=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["readings_sent"])' \
  "$WORK/sim_summary.json")
echo "sent $SENT readings (duplicate copies included)"

demo_step "waiting for the windows to close, reach the collectors and be acked"
if ! demo_wait_settled "$METRICS_PORT" "$SENT"; then
  echo "the agent did not take, close and ship every reading within 300 s; logs in $WORK" >&2
  KEEP=1
  exit 1
fi
demo_truth

status=0
for name in A B; do
  port=$HTTP_A
  [[ "$name" == B ]] && port=$HTTP_B
  demo_step "collector $name vs edgesketch-sim truth (exact)"
  python3 "$ROOT/scripts/demo_view.py" check --collector "http://127.0.0.1:$port" \
    --token "$TOKEN" --work "$WORK" --time "$END_S" || status=1
done
demo_step "collector A vs collector B"
for q in 'sum by (site) (vibration_by_line_count)' \
  'histogram_quantile(0.99, sum by (site) (vibration_by_line))' \
  'distinct_count(sum by (site) (vibration_by_line))' 'topk_items(5, sum(event_by_site))'; do
  a=$(curl -s -G -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_A/api/v1/query" \
    --data-urlencode "query=$q" --data-urlencode "time=$END_S")
  b=$(curl -s -G -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_B/api/v1/query" \
    --data-urlencode "query=$q" --data-urlencode "time=$END_S")
  if [[ "$a" == "$b" ]]; then
    echo "same answer: $q"
  else
    echo "DIFFERENT answers to $q:"$'\n'"  A: $a"$'\n'"  B: $b"
    status=1
  fi
done
if ((status != 0)); then
  KEEP=1
  echo "SCALE-OUT CHECK FAILED; logs in $WORK" >&2
  exit 1
fi
echo $'\nSCALE-OUT CHECK PASSED: two collectors, one ClickHouse, collector A killed twice; both exact and identical'
