#!/usr/bin/env bash
# The end-to-end demo on one machine, everything on loopback:
#   mosquitto (devices' local broker and uplink) → edgesketch-agent (windows, sketches, outbox)
#   → edgesketch-collector (exactly-once store, Prometheus-compatible API)
# fed by edgesketch-sim (a simulated fleet), then answers from the collector's HTTP API next to
# the exact answers `edgesketch-sim truth` computes from what the fleet sent.
#
#   scripts/demo.sh                  # 200 devices, 5 simulated minutes
#   DEVICES=1000 scripts/demo.sh     # the standard fleet size
#   KEEP=1 scripts/demo.sh           # leave the daemons running afterwards (prints how to stop)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target edgesketch-agent edgesketch-collector \
  edgesketch-sim >/dev/null
BIN=$ROOT/$BUILD_DIR/bin

DEVICES=${DEVICES:-200}
WORK=$(mktemp -d /tmp/edgesketch-demo.XXXXXX)
PIDS=()
cleanup() {
  if [[ "${KEEP:-0}" == 1 ]]; then
    echo "daemons left running (pids ${PIDS[*]}); stop with: kill ${PIDS[*]}; data in $WORK"
    return
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BROKER_PORT=$(port)
HTTP_PORT=$(port)
METRICS_PORT=$(port)
TOKEN=demo-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "mosquitto on 127.0.0.1:$BROKER_PORT"
cat >"$WORK/mosquitto.conf" <<EOF
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
persistence false
# A fast-forward fleet outruns the agent for a while: let the broker queue QoS 1 messages for the
# agent's persistent session instead of dropping them past its default of 1,000.
max_queued_messages 10000000
user $(id -un)
EOF
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)

step "edgesketch-collector on http://127.0.0.1:$HTTP_PORT"
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

step "edgesketch-agent (gateway demo-gw-1), metrics on http://127.0.0.1:$METRICS_PORT/metrics"
cat >"$WORK/agent.toml" <<EOF
[agent]
gateway_id = "demo-gw-1"
tenant = "demo"
data_dir = "$WORK/agent"
[[input]]
name = "devices"
type = "mqtt"
format = "nanopb"
broker = "tcp://127.0.0.1:$BROKER_PORT"
topics = ["devices/+/readings"]
qos = 1
[[rule]]
name = "per-device"
match = "*"
group_by = ["device", "site", "line"]
quantiles = true
[[rule]]
name = "vibration-per-line"
match = "vibration"
output = "vibration_by_line"
group_by = ["site", "line"]
quantiles = true
distinct = "device"
topk = "device"
[[rule]]
name = "events-per-site"
match = "event"
output = "event_by_site"
group_by = ["site"]
distinct = "device"
topk = "label"
[window]
allowed_lateness = "2s"
idle_timeout = "5s"
max_past = "1d"
[uplink]
broker = "tcp://127.0.0.1:$BROKER_PORT"
resend_timeout = "10s"
[metrics]
listen = "127.0.0.1:$METRICS_PORT"
EOF
"$BIN/edgesketch-agent" --config "$WORK/agent.toml" >"$WORK/agent.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$HTTP_PORT/-/ready" >/dev/null &&
    curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null && break
  sleep 0.1
done

# Five simulated minutes ending a minute ago, aligned to 5 minutes, sent as fast as possible.
NOW_S=$(date +%s)
START_S=$(((NOW_S - 360) / 300 * 300))
END_S=$((START_S + 300))
step "edgesketch-sim: $DEVICES devices, 5 simulated minutes from $(date -u -d @$START_S +%H:%M:%S) UTC"
"$BIN/edgesketch-sim" --devices "$DEVICES" --sites 10 --lines 5 --duration 5m \
  --start-ms $((START_S * 1000)) --speed 0 --qos 1 --batch 100 \
  --broker "tcp://127.0.0.1:$BROKER_PORT" --record "$WORK/sent.rec" --quiet --summary-json \
  >"$WORK/sim_summary.json"
SENT=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["readings_sent"])' \
  "$WORK/sim_summary.json")
echo "sent $SENT readings"

step "waiting for the windows to close, reach the collector and be acked"
metric() {  # metric <name>: its value, summed over label sets
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2; n = 1} END {if (n) printf "%d\n", s}'
}
settled=0
for _ in $(seq 300); do
  taken=$(metric edgesketch_agent_input_readings_total)
  if [[ "${taken%.*}" -ge "$SENT" && "$(metric edgesketch_agent_open_windows)" == 0 &&
        "$(metric edgesketch_agent_outbox_rows)" == 0 &&
        "$(metric edgesketch_agent_unacked_batches)" == 0 ]]; then
    settled=$((settled + 1))
    ((settled >= 2)) && break
  else
    settled=0
  fi
  sleep 1
done
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^edgesketch_agent_(input_readings|readings_accepted|windows_closed|outbox_rows|batches_acked|uplink)' | head -12 || true

q() {  # q <promql>: an instant query at the end of the simulated interval
  curl -s -G -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/api/v1/query" \
    --data-urlencode "query=$1" --data-urlencode "time=$END_S"
}
"$BIN/edgesketch-sim" truth --record "$WORK/sent.rec" --window 5m --group-by site \
  --metric vibration --distinct device >"$WORK/truth_vibration.jsonl" 2>/dev/null
"$BIN/edgesketch-sim" truth --record "$WORK/sent.rec" --window 5m --metric event --topk label \
  --k 5 >"$WORK/truth_event.jsonl" 2>/dev/null

export TOKEN HTTP_PORT END_S
step "collector answers (HTTP API, exact sketch merges) vs edgesketch-sim truth (exact)"
python3 - "$WORK" <<'EOF'
import json, sys, subprocess, os
work = sys.argv[1]
def q(expr):
    out = subprocess.run(["bash", "-c", 'curl -s -G -H "Authorization: Bearer $TOKEN" '
        '"http://127.0.0.1:$HTTP_PORT/api/v1/query" --data-urlencode "query=$Q" '
        '--data-urlencode "time=$END_S"'], env={**os.environ, "Q": expr},
        capture_output=True, text=True).stdout
    r = json.loads(out)
    if r.get("status") != "success":
        raise SystemExit(f"query failed: {expr}: {out}")
    return r["data"]["result"]
truth = {json.loads(l)["group"]["site"]: json.loads(l) for l in open(f"{work}/truth_vibration.jsonl")}
def by_site(expr):
    return {s["metric"].get("site", ""): float(s["value"][1]) for s in q(expr)}
count = by_site("sum by (site) (vibration_by_line_count)")
p50 = by_site("histogram_quantile(0.5, sum by (site) (vibration_by_line))")
p99 = by_site("histogram_quantile(0.99, sum by (site) (vibration_by_line))")
dist = by_site("distinct_count(sum by (site) (vibration_by_line))")
print(f"{'site':8} {'count':>9} {'(truth)':>9} {'p50':>8} {'(truth)':>8} {'p99':>8} {'(truth)':>8} {'devices':>8} {'(truth)':>7}")
worst = 0.0
for site in sorted(truth):
    t = truth[site]
    worst = max(worst, abs(p99.get(site, 0) - t["p99"]) / t["p99"], abs(p50.get(site, 0) - t["p50"]) / t["p50"])
    td = t.get("distinct", {}).get("device", "")
    print(f"{site:8} {count.get(site, 0):9.0f} {t['count']:9d} {p50.get(site, 0):8.4f} {t['p50']:8.4f} "
          f"{p99.get(site, 0):8.4f} {t['p99']:8.4f} {dist.get(site, 0):8.1f} {td!s:>7}")
print(f"largest relative quantile error: {worst:.4%} (histogram bound 0.54 %)")
top = q("topk_items(5, sum(event_by_site))")
tt = json.loads(open(f"{work}/truth_event.jsonl").readline())
print("top-5 error codes:   collector", [(s["metric"]["item"], int(float(s["value"][1]))) for s in sorted(top, key=lambda s: -float(s["value"][1]))])
print("                     truth    ", [(e.get("key"), e.get("count")) for e in tt.get("topk", [])][:5])
EOF

step "try it yourself"
cat <<EOF
  curl -s -G -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$HTTP_PORT/api/v1/query \\
    --data-urlencode 'query=histogram_quantile(0.99, sum by (site) (vibration_by_line))' \\
    --data-urlencode time=$END_S
  Grafana: packaging/grafana/ (datasource type prometheus, URL http://127.0.0.1:$HTTP_PORT,
  header Authorization: Bearer $TOKEN) and the fleet-overview dashboard.
  (run with KEEP=1 to keep the daemons running)
EOF
