// mqtt_e2e_readings_per_s of the `agent` suite: the real daemons on loopback,
//   edgesketch-sim (standard fleet, nanopb batches of 100, QoS 1, as fast as possible)
//   -> mosquitto -> edgesketch-agent (MQTT input, journal, aggregator, SQLite outbox)
// measured from the simulator's start until the agent has taken every reading the simulator
// sent (its edgesketch_agent_input_readings_total) and committed the closed windows to its
// outbox. All three processes share this machine's cores, as they would on a gateway.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/mosquitto_broker.h"

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

}  // namespace

void add_mqtt_e2e_figures(const BenchOptions& options, nlohmann::json& out) {
  char tmpl[] = "/tmp/es-agent-e2e-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return;
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};

  MosquittoOptions mo;
  mo.extra_config = "max_queued_messages 10000000\n";
  MosquittoBroker broker(mo);
  if (auto s = broker.start(); !s.ok()) {
    std::fprintf(stderr, "bench agent: mosquitto: %s\n", s.to_string().c_str());
    return;
  }
  auto metrics_port = testbed::pick_free_loopback_port();
  if (!metrics_port.ok()) return;
  {
    std::ofstream cfg(dir + "/agent.toml");
    cfg << "[agent]\ngateway_id = \"bench-gw\"\ndata_dir = \"" << dir << "/agent\"\n"
        << "[[input]]\nname = \"devices\"\ntype = \"mqtt\"\nformat = \"nanopb\"\nbroker = \""
        << broker.uri() << "\"\ntopics = [\"devices/+/readings\"]\nqos = 1\n"
        << "[uplink]\nbroker = \"" << broker.uri() << "\"\n"
        << "[metrics]\nlisten = \"127.0.0.1:" << *metrics_port << "\"\n";
  }
  DaemonProcess agent(ES_BENCH_AGENT_BINARY, {"--config", dir + "/agent.toml"}, dir + "/agent.log");
  if (!agent.start()) return;
  auto metrics = [&] { return testbed::http_get(*metrics_port, "/metrics").body; };
  for (int i = 0; i < 100 && metric_value(metrics(), "edgesketch_agent_input_connected") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  const std::string duration = options.quick ? "3s" : "20s";
  const auto t0 = std::chrono::steady_clock::now();
  DaemonProcess sim(ES_BENCH_SIM_BINARY,
                    {"--fleet", "standard", "--duration", duration, "--speed", "0", "--qos", "1",
                     "--batch", "100", "--broker", broker.uri(), "--quiet", "--summary-json"},
                    dir + "/sim.out");
  if (!sim.start()) return;
  const int status = sim.stop(0, 600'000);
  const double sim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench agent: edgesketch-sim failed: %s\n", sim.log_tail().c_str());
    return;
  }
  // The summary is the last line of the simulator's stdout.
  const std::string sim_out = read_file(dir + "/sim.out");
  const auto brace = sim_out.rfind("\n{");
  const auto summary = nlohmann::json::parse(
      brace == std::string::npos ? sim_out : sim_out.substr(brace + 1), nullptr, false);
  if (summary.is_discarded() || !summary.contains("readings_sent")) return;
  const double sent = summary["readings_sent"].get<double>();

  double taken = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::minutes(10)) {
    taken = metric_value(metrics(), "edgesketch_agent_input_readings_total");
    if (taken >= sent) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string m = metrics();
  agent.stop(SIGTERM, 30'000);
  if (taken < sent) {
    std::fprintf(stderr, "bench agent: the agent took %.0f of %.0f readings\n", taken, sent);
    return;
  }
  out["mqtt_e2e_readings_per_s"] = sent / total_s;
  out["mqtt_e2e_readings"] = sent;
  out["mqtt_e2e_sim_publish_readings_per_s"] = sent / sim_s;
  out["mqtt_e2e_windows_closed"] = metric_value(m, "edgesketch_agent_windows_closed_total");
}

}  // namespace edgesketch::bench
