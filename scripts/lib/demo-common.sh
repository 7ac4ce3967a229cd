# Shell functions shared by scripts/demo.sh and scripts/scaleout-demo.sh (sourced, not run).
# They use the caller's WORK (scratch directory), BIN (the binaries) and PIDS (daemons to stop).

# A TCP port that was free a moment ago on 127.0.0.1.
demo_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

demo_step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# demo_mosquitto PORT: a broker on 127.0.0.1:PORT for the devices and the uplink.
demo_mosquitto() {
  cat >"$WORK/mosquitto.conf" <<EOC
listener $1 127.0.0.1
allow_anonymous true
persistence false
# A fast-forward fleet outruns the agent for a while: let the broker queue QoS 1 messages for the
# agent's persistent session instead of dropping them past its default of 1,000.
max_queued_messages 10000000
user $(id -un)
EOC
  mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
  PIDS+=($!)
}

# demo_agent_config FILE GATEWAY TENANT BROKER_PORT METRICS_PORT: the demo's agent: nanopb
# devices over MQTT, the per-device, per-line and per-site rules, short lateness.
demo_agent_config() {
  cat >"$1" <<EOC
[agent]
gateway_id = "$2"
tenant = "$3"
data_dir = "$WORK/agent"
[[input]]
name = "devices"
type = "mqtt"
format = "nanopb"
broker = "tcp://127.0.0.1:$4"
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
broker = "tcp://127.0.0.1:$4"
resend_timeout = "10s"
[metrics]
listen = "127.0.0.1:$5"
EOC
}

# demo_metric PORT NAME: the agent's metric NAME, summed over its label sets ("" when absent).
demo_metric() {
  curl -s "http://127.0.0.1:$1/metrics" |
    awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2; n = 1} END {if (n) printf "%d\n", s}'
}

# demo_wait_settled METRICS_PORT SENT [SECONDS]: until the agent has taken SENT readings, closed
# every window and had every batch acked (twice in a row, a second apart); 1 after SECONDS (300).
demo_wait_settled() {
  local settled=0 taken
  for _ in $(seq "${3:-300}"); do
    taken=$(demo_metric "$1" edgesketch_agent_input_readings_total)
    if [[ "${taken%.*}" -ge "$2" && "$(demo_metric "$1" edgesketch_agent_open_windows)" == 0 &&
          "$(demo_metric "$1" edgesketch_agent_outbox_rows)" == 0 &&
          "$(demo_metric "$1" edgesketch_agent_unacked_batches)" == 0 ]]; then
      settled=$((settled + 1))
      ((settled >= 2)) && return 0
    else
      settled=0
    fi
    sleep 1
  done
  return 1
}

# demo_truth: the exact answers `demo_view.py check` compares with, from $WORK/sent.rec. Without
# --dedupe: a device message the simulator sent twice is two messages to the agent, which
# aggregates both (exactly-once is per window batch, between agent and collector).
demo_truth() {
  "$BIN/edgesketch-sim" truth --record "$WORK/sent.rec" --window 5m --group-by site \
    --metric vibration --distinct device >"$WORK/truth_vibration.jsonl" 2>/dev/null
  "$BIN/edgesketch-sim" truth --record "$WORK/sent.rec" --window 5m --metric event --topk label \
    --k 1000 >"$WORK/truth_event.jsonl" 2>/dev/null
}
