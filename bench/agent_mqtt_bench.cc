// The end-to-end figures of the `agent` suite: the real daemons on loopback,
//   edgesketch-sim (as fast as possible, QoS 1) -> mosquitto -> edgesketch-agent (MQTT input,
//   journal, aggregator, SQLite outbox)
// measured from the simulator's start until the agent has taken every reading the simulator
// sent (its edgesketch_agent_input_readings_total) and committed the closed windows to its
// outbox. All three processes share this machine's cores, as they would on a gateway.
//   mqtt_e2e_readings_per_s         standard fleet, nanopb batches of 100
//   lp_fields_e2e_readings_per_s    line protocol, 4-field lines (temperature, humidity, pressure,
//                                   vibration sampled together at 10 Hz by 1,000 devices), 1,000
//                                   lines per message, as Telegraf's MQTT output with batch = true
//   rss_mb_burst                    the agent's peak resident memory (VmHWM of its
//                                   /proc/<pid>/status) over the lp_fields run, default config
//   json_fields_e2e_readings_per_s  Zigbee2MQTT-shaped objects, one device object (four numbers
//                                   and a string state, last_seen) per message, published at
//                                   QoS 0 (Zigbee2MQTT's default)
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/testbed/temp_dir.h"

namespace edgesketch::bench {
namespace {

using testbed::DaemonProcess;
using testbed::MosquittoBroker;
using testbed::MosquittoOptions;

// Sum of a metric over its label sets in Prometheus text; -1 when absent.
double metric_value(const std::string& text, const std::string& name) {
  double sum = 0;
  bool found = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    if (line.size() > name.size() && line[name.size()] != ' ' && line[name.size()] != '{') continue;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    found = true;
  }
  return found ? sum : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct E2eFigures {
  double readings_per_s = 0;
  double readings = 0;
  double sim_publish_readings_per_s = 0;
  double peak_rss_mb = -1;  // the agent's VmHWM at the end of the run
  std::string metrics;      // the agent's /metrics at the end
};

// VmHWM (peak resident set) of process `pid` in MiB; -1 when it cannot be read.
double peak_rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      double kb = -1;
      in >> kb;
      return kb / 1024.0;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

// One run: a broker, the agent with `input` (its [[input]] keys after the broker; it subscribes
// at QoS 1), the simulator with `sim_args` publishing at `sim_qos` (plus --broker, --quiet,
// --summary-json).
std::optional<E2eFigures> run_e2e(const char* name, const std::string& input,
                                  std::vector<std::string> sim_args, int sim_qos = 1) {
  testbed::TempDir scratch("es-agent-e2e-bench");
  if (scratch.path().empty()) return std::nullopt;
  const std::string& dir = scratch.path();

  MosquittoOptions mo;
  mo.extra_config = "max_queued_messages 10000000\n";
  MosquittoBroker broker(mo);
  if (auto s = broker.start(); !s.ok()) {
    std::fprintf(stderr, "bench agent %s: mosquitto: %s\n", name, s.to_string().c_str());
    return std::nullopt;
  }
  auto metrics_port = testbed::pick_free_loopback_port();
  if (!metrics_port.ok()) return std::nullopt;
  {
    std::ofstream cfg(dir + "/agent.toml");
    cfg << "[agent]\ngateway_id = \"bench-gw\"\ndata_dir = \"" << dir << "/agent\"\n"
        << "[[input]]\nname = \"devices\"\ntype = \"mqtt\"\nbroker = \"" << broker.uri()
        << "\"\nqos = 1\n"
        << input << "[uplink]\nbroker = \"" << broker.uri() << "\"\n"
        << "[metrics]\nlisten = \"127.0.0.1:" << *metrics_port << "\"\n";
  }
  DaemonProcess agent(ES_BENCH_AGENT_BINARY, {"--config", dir + "/agent.toml"}, dir + "/agent.log");
  if (!agent.start()) return std::nullopt;
  auto metrics = [&] { return testbed::http_get(*metrics_port, "/metrics").body; };
  for (int i = 0; i < 100 && metric_value(metrics(), "edgesketch_agent_input_connected") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  sim_args.insert(sim_args.end(), {"--qos", std::to_string(sim_qos), "--broker", broker.uri(),
                                   "--quiet", "--summary-json"});
  const auto t0 = std::chrono::steady_clock::now();
  DaemonProcess sim(ES_BENCH_SIM_BINARY, sim_args, dir + "/sim.out");
  if (!sim.start()) return std::nullopt;
  const int status = sim.stop(0, 600'000);
  const double sim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench agent %s: edgesketch-sim failed: %s\n", name,
                 sim.log_tail().c_str());
    return std::nullopt;
  }
  // The summary is the last line of the simulator's stdout.
  const std::string sim_out = read_file(dir + "/sim.out");
  const auto brace = sim_out.rfind("\n{");
  const auto summary = nlohmann::json::parse(
      brace == std::string::npos ? sim_out : sim_out.substr(brace + 1), nullptr, false);
  if (summary.is_discarded() || !summary.contains("readings_sent")) return std::nullopt;
  const double sent = summary["readings_sent"].get<double>();

  double taken = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::minutes(10)) {
    taken = metric_value(metrics(), "edgesketch_agent_input_readings_total");
    if (taken >= sent) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  E2eFigures f;
  f.metrics = metrics();
  f.peak_rss_mb = peak_rss_mb(agent.pid());
  agent.stop(SIGTERM, 30'000);
  if (taken < sent) {
    std::fprintf(stderr, "bench agent %s: the agent took %.0f of %.0f readings\n", name, taken,
                 sent);
    return std::nullopt;
  }
  f.readings_per_s = sent / total_s;
  f.readings = sent;
  f.sim_publish_readings_per_s = sent / sim_s;
  return f;
}

// A start time that keeps a run of `simulated_s` at --speed 0 in the past: every reading within
// the agent's clock bounds (max_future 5 min), none of them early.
std::string past_start_ms(int simulated_s) {
  return std::to_string((now_ms() - (simulated_s + 60) * 1000LL) / 1000 * 1000);
}

}  // namespace

void add_mqtt_e2e_figures(const BenchOptions& options, nlohmann::json& out) {
  const std::string duration = options.quick ? "3s" : "20s";
  auto f =
      run_e2e("mqtt", "format = \"nanopb\"\ntopics = [\"devices/+/readings\"]\n",
              {"--fleet", "standard", "--duration", duration, "--speed", "0", "--batch", "100"});
  if (!f) return;
  out["mqtt_e2e_readings_per_s"] = f->readings_per_s;
  out["mqtt_e2e_readings"] = f->readings;
  out["mqtt_e2e_sim_publish_readings_per_s"] = f->sim_publish_readings_per_s;
  out["mqtt_e2e_windows_closed"] =
      metric_value(f->metrics, "edgesketch_agent_windows_closed_total");
}

void add_device_format_e2e_figures(const BenchOptions& options, nlohmann::json& out) {
  // Line protocol: 1,000 devices sampling four metrics together ten times a second, a
  // one-second batch of ten 4-field lines per device, packed 1,000 lines to a message. (At once a
  // second the figure measures closing windows: each series' 10 s window then holds 10 readings,
  // a window record per 10 readings, where the standard fleet's 100 Hz vibration holds 1,000.)
  const int lp_s = options.quick ? 30 : 300;
  auto lp = run_e2e("lp_fields", "format = \"line\"\ntopics = [\"telegraf/#\"]\n",
                    {"--devices",       "1000",
                     "--rate",          "temperature=10",
                     "--rate",          "humidity=10",
                     "--rate",          "pressure=10",
                     "--rate",          "vibration=10",
                     "--rate",          "event=0",
                     "--max-delay",     "1s",
                     "--format",        "line-fields",
                     "--message-lines", "1000",
                     "--topic-prefix",  "telegraf",
                     "--duration",      std::to_string(lp_s) + "s",
                     "--start-ms",      past_start_ms(lp_s),
                     "--speed",         "0"});
  if (lp) {
    out["lp_fields_e2e_readings_per_s"] = lp->readings_per_s;
    out["lp_fields_e2e_readings"] = lp->readings;
    out["lp_fields_e2e_sim_publish_readings_per_s"] = lp->sim_publish_readings_per_s;
    out["lp_fields_e2e_lines_skipped"] =
        metric_value(lp->metrics, "edgesketch_agent_payload_items_skipped_total");
    out["rss_mb_burst"] = lp->peak_rss_mb;
  }
  // Zigbee2MQTT: one object per message, four numbers, a string (the event label, as "state")
  // and last_seen, published at QoS 0 as Zigbee2MQTT does by default (so delivered to the
  // agent's QoS 1 subscription at QoS 0: mosquitto keeps up to max_queued_messages for it).
  const int z_s = options.quick ? 60 : 400;
  auto z = run_e2e("json_fields",
                   "format = \"json_fields\"\ntopic_template = \"zigbee2mqtt/{device}\"\n"
                   "time_field = \"last_seen\"\ntime_format = \"unix_ms\"\n",
                   {"--devices",      "1000",
                    "--rate",         "temperature=1",
                    "--rate",         "humidity=1",
                    "--rate",         "pressure=1",
                    "--rate",         "vibration=1",
                    "--rate",         "event=1",
                    "--max-delay",    "1s",
                    "--format",       "json-fields",
                    "--topic-prefix", "zigbee2mqtt",
                    "--duration",     std::to_string(z_s) + "s",
                    "--start-ms",     past_start_ms(z_s),
                    "--speed",        "0"},
                   /*sim_qos=*/0);
  if (z) {
    out["json_fields_e2e_readings_per_s"] = z->readings_per_s;
    out["json_fields_e2e_readings"] = z->readings;
    out["json_fields_e2e_messages_per_s"] =
        metric_value(z->metrics, "edgesketch_agent_input_messages_total") / z->readings *
        z->readings_per_s;
    out["json_fields_e2e_sim_publish_readings_per_s"] = z->sim_publish_readings_per_s;
  }
}

}  // namespace edgesketch::bench
