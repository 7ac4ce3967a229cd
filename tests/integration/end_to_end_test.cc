// End to end, every part a real process on loopback:
//   edgesketch-sim (fast-forward, faults on) → mosquitto → edgesketch-agent (the rules of
//   scripts/demo.sh) → mosquitto → edgesketch-collector → HTTP API (PromQL subset)
// compared with `edgesketch-sim truth` computed from the sim's record of what it sent:
//   - per site and 10 s window and per site over the whole span: counts, min, max exact, sums
//     within 1e-9 relative; histogram_quantile(0.5 / 0.9 / 0.99) within the histogram bound
//     (0.55 % relative of the exact sorted[floor(φ·(n−1))]); distinct_count within 3σ of the
//     HyperLogLog (σ = 1.04 / sqrt(4096));
//   - over the whole span: topk_items(10, sum(event_by_site)) recalls the true top 10 (ties at
//     the 10th count accepted).
// A second test runs promtool (Debian package `prometheus`) against the collector with data in it.
//
// Simulated span: 1 hour (the issue's figure) of 100 devices in 10 sites × 5 lines with
// vibration at 10 Hz (instead of 100 Hz) and events at 1 Hz (instead of 0.1 Hz, so the top 10 of
// the Zipf-distributed event codes is well populated): about 5 M readings, 360 windows of 10 s.
// The fast-forward sim is bound by QoS-1 publishing (~170 k readings/s on the 2-core dev box),
// so this runs in about 60 s wall; vibration at 20 Hz took 81 s (8.6 M readings), at 100 Hz it
// would take minutes. Per site and window that is still 500 vibration readings from 10 devices.
//
// Faults and how the truth must be computed:
//   - duplicates (`--dup-ratio`): the sim sends the message twice and records both copies (the
//     second flagged `duplicate`). The agent does NOT dedupe device messages (a device payload has
//     no sequence number it could dedupe on; every accepted payload is aggregated), so the
//     collector holds both copies' readings: the truth is computed WITHOUT `--dedupe`. (The
//     collector's own exactly-once is per WindowBatch (gateway, seq), a different layer.)
//     The deduplicated truth is printed too, to show the difference is really there.
//   - late bursts (`--late-ratio`/`--late 5s` > allowed_lateness 2s): land in delta windows that
//     the collector merges; the record has them with their original timestamps.
//   - clock skew (`--skew-ratio`, ±2 s): recorded with the skewed timestamps as sent, which is what
//     the agent windows by.
//   - malformed payloads: rejected by the agent, absent from the record.
//   - offline devices: messages never sent, absent from the record.
//
// The agent ships its own health as series too (docs/agent.md, "Self-metrics as series"; on by
// default, every 10 s): named edgesketch_agent_*, tagged gateway only, they never add to the
// fleet's series, and the test checks they reached the collector: the increases of
// readings_accepted add up to the agent's counter, and the dashboard's outbox panel answers.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/testbed/temp_dir.h"
#include "support/eventually.h"

namespace edgesketch {
namespace {

using nlohmann::json;
using test_support::eventually;
using testbed::DaemonProcess;
using testbed::http_get;
using testbed::url_encode;

constexpr char kToken[] = "e2e-test-token-5f1c0a9b";
constexpr int kSites = 10;
constexpr int kLines = 5;
constexpr double kHistogramBound = 0.0055;    // relative, scale-6 exponential histogram
constexpr double kHllSigma = 1.04 / 64.0;     // 1.04 / sqrt(4096)
constexpr std::int64_t kTruthWindowS = 7200;  // one truth window holds the whole span

using CmdResult = testbed::CommandResult;
CmdResult run(const std::string& command) { return testbed::run_command(command); }

std::vector<json> read_json_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// The value of a Prometheus text-format metric, summed over its label sets; -1 when absent.
double metric_value(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  double total = 0;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
    found = true;
  }
  return found ? total : -1;
}

double rel_err(double got, double want) {
  if (want == got) return 0;
  return std::fabs(got - want) / std::max(std::fabs(want), 1e-300);
}

struct SimSpec {
  int devices = 100;
  int span_s = 3600;
  int vibration_hz = 10;
  int event_hz = 1;
  bool faults = true;
};

// mosquitto + collector + agent, a sim run into them, and the collector's HTTP API.
class Pipeline {
 public:
  Pipeline()
      : broker_(testbed::MosquittoOptions{
            .extra_config = "max_queued_messages 10000000\nmax_queued_bytes 0\n"}) {
    // ES_E2E_KEEP=1 keeps the daemons' configs, logs and data to be looked at.
    if (std::getenv("ES_E2E_KEEP") != nullptr) dir_.keep();
  }

  void start() {
    ASSERT_TRUE(broker_.start().ok());
    http_port_ = testbed::free_port();
    metrics_port_ = testbed::free_port();
    std::ofstream(dir_.file("collector.toml"))
        << "[collector]\ndata_dir = \"" << dir_.file("collector") << "\"\n"
        << "[mqtt]\nbroker = \"" << broker_.uri() << "\"\nclient_id = \"e2e-collector\"\n"
        << "[http]\nlisten = \"127.0.0.1:" << http_port_ << "\"\n"
        << "[[tenant]]\nname = \"e2e\"\ntokens = [\"" << kToken << "\"]\n";
    // The rules of scripts/demo.sh; short lateness and idle timeout so the last windows close
    // soon after the fast-forward run.
    std::ofstream(dir_.file("agent.toml"))
        << "[agent]\ngateway_id = \"e2e-gw-1\"\ntenant = \"e2e\"\ndata_dir = \""
        << dir_.file("agent") << "\"\n"
        << "[[input]]\nname = \"devices\"\ntype = \"mqtt\"\nformat = \"nanopb\"\nbroker = \""
        << broker_.uri() << "\"\ntopics = [\"devices/+/readings\"]\nqos = 1\n"
        << "[[rule]]\nname = \"per-device\"\nmatch = \"*\"\n"
        << "group_by = [\"device\", \"site\", \"line\"]\nquantiles = true\n"
        << "[[rule]]\nname = \"vibration-per-line\"\nmatch = \"vibration\"\n"
        << "output = \"vibration_by_line\"\ngroup_by = [\"site\", \"line\"]\nquantiles = true\n"
        << "distinct = \"device\"\ntopk = \"device\"\n"
        << "[[rule]]\nname = \"events-per-site\"\nmatch = \"event\"\n"
        << "output = \"event_by_site\"\ngroup_by = [\"site\"]\ndistinct = \"device\"\n"
        << "topk = \"label\"\n"
        << "[window]\nallowed_lateness = \"2s\"\nidle_timeout = \"5s\"\ndelta_hold = \"1s\"\n"
        << "max_past = \"1d\"\n"
        << "[uplink]\nbroker = \"" << broker_.uri() << "\"\nresend_timeout = \"10s\"\n"
        << "[metrics]\nlisten = \"127.0.0.1:" << metrics_port_ << "\"\n";
    collector_ = std::make_unique<DaemonProcess>(
        ES_COLLECTOR_BINARY, std::vector<std::string>{"--config", dir_.file("collector.toml")},
        dir_.file("collector.log"));
    agent_ = std::make_unique<DaemonProcess>(
        ES_AGENT_BINARY, std::vector<std::string>{"--config", dir_.file("agent.toml")},
        dir_.file("agent.log"));
    ASSERT_TRUE(collector_->start());
    ASSERT_TRUE(agent_->start());
    ASSERT_TRUE(eventually([&] { return http_get(http_port_, "/-/ready").status == 200; }, 30'000,
                           /*poll_ms=*/100))
        << collector_->log_tail();
    // The agent must be subscribed before the fleet publishes (no persistent session).
    ASSERT_TRUE(eventually(
        [&] {
          const auto r = http_get(metrics_port_, "/metrics");
          return r.status == 200 && metric_value(r.body, "edgesketch_agent_input_connected") >= 1;
        },
        30'000, /*poll_ms=*/100))
        << agent_->log_tail();
  }

  // Runs the fleet over a span ending a few minutes before now, aligned to the minute and placed
  // inside one 2 h epoch window (with 1 min to spare each side for the skew), so that one truth
  // window of 2 h holds every reading.
  void run_sim(const SimSpec& spec) {
    spec_ = spec;
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    start_s_ = (now_s - 180 - spec.span_s) / 60 * 60;
    const std::int64_t f = (start_s_ - 60) / kTruthWindowS * kTruthWindowS;
    if (start_s_ + spec.span_s + 60 > f + kTruthWindowS) {
      start_s_ = f + kTruthWindowS - 60 - spec.span_s;
    }
    end_s_ = start_s_ + spec.span_s;
    std::string cmd = std::string(ES_SIM_BINARY) + " --devices " + std::to_string(spec.devices) +
                      " --sites " + std::to_string(kSites) + " --lines " + std::to_string(kLines) +
                      " --rate vibration=" + std::to_string(spec.vibration_hz) +
                      " --rate event=" + std::to_string(spec.event_hz) + " --seed 7" +
                      " --duration " + std::to_string(spec.span_s) + "s --start-ms " +
                      std::to_string(start_s_ * 1000) + " --speed 0 --qos 1 --batch 100 --broker " +
                      broker_.uri() + " --record " + record() + " --quiet --summary-json";
    if (spec.faults) {
      cmd +=
          " --dup-ratio 0.01 --late-ratio 0.005 --late 5s --skew-ratio 0.1 --skew 2s"
          " --malformed-ratio 0.005 --offline-ratio 0.001 --offline 10s";
    }
    const auto t0 = std::chrono::steady_clock::now();
    const CmdResult r = run("timeout 300 " + cmd);
    sim_wall_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;
    std::printf("sim: %d devices, %d simulated s from %lld, %.1f s wall; summary:\n%s\n",
                spec.devices, spec.span_s, static_cast<long long>(start_s_), sim_wall_s_,
                r.output.c_str());
  }

  // Waits until the agent has taken every reading sent, closed every window and the collector
  // acked every batch (outbox empty).
  void wait_drained(std::uint64_t readings_sent) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string last;
    int stable = 0;
    const bool ok = eventually(
        [&] {
          const auto r = http_get(metrics_port_, "/metrics");
          if (r.status != 200) return false;
          last = r.body;
          const bool drained = metric_value(r.body, "edgesketch_agent_input_readings_total") >=
                                   static_cast<double>(readings_sent) &&
                               metric_value(r.body, "edgesketch_agent_open_windows") == 0 &&
                               metric_value(r.body, "edgesketch_agent_outbox_rows") == 0 &&
                               metric_value(r.body, "edgesketch_agent_unacked_batches") <= 0;
          stable = drained ? stable + 1 : 0;
          return stable >= 3;  // three polls in a row, 0.5 s apart
        },
        120'000, 500);
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("agent drained %.1f s after the sim ended; agent metrics:\n", waited);
    for (const char* name :
         {"edgesketch_agent_input_messages_total", "edgesketch_agent_input_readings_total",
          "edgesketch_agent_payloads_bad_total", "edgesketch_agent_readings_accepted_total",
          "edgesketch_agent_readings_rejected_total", "edgesketch_agent_late_readings_total",
          "edgesketch_agent_windows_closed_total", "edgesketch_agent_batches_published_total",
          "edgesketch_agent_batches_acked_total", "edgesketch_agent_outbox_rows"}) {
      std::printf("  %-45s %.0f\n", name, metric_value(last, name));
    }
    ASSERT_TRUE(ok) << "the agent did not drain; metrics:\n"
                    << last << "\nagent log:\n"
                    << agent_->log_tail();
  }

  // truth --window W ... into a file; returns the parsed lines.
  std::vector<json> truth(const std::string& args, const std::string& name) {
    const std::string out = dir_.file(name);
    const CmdResult r = run(std::string(ES_SIM_BINARY) + " truth --record " + record() + " " +
                            args + " --output " + out);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.output;
    return read_json_lines(out);
  }

  json get(const std::string& path) {
    const auto reply = http_get(http_port_, path, kToken);
    EXPECT_EQ(reply.status, 200) << path << "\n" << reply.body;
    if (reply.status != 200) return json::object();
    return json::parse(reply.body);
  }
  json query(const std::string& expr, std::int64_t t_s) {
    return get("/api/v1/query?query=" + url_encode(expr) + "&time=" + std::to_string(t_s));
  }
  json query_range(const std::string& expr, std::int64_t start_s, std::int64_t end_s, int step) {
    return get("/api/v1/query_range?query=" + url_encode(expr) +
               "&start=" + std::to_string(start_s) + "&end=" + std::to_string(end_s) +
               "&step=" + std::to_string(step));
  }
  // label value → value of an instant vector.
  std::map<std::string, double> by_label(const std::string& expr, std::int64_t t_s,
                                         const std::string& label = "site") {
    std::map<std::string, double> out;
    const json j = query(expr, t_s);
    if (!j.contains("data")) return out;
    for (const auto& s : j["data"]["result"]) {
      out[s["metric"].value(label, "")] = std::stod(s["value"][1].get<std::string>());
    }
    return out;
  }
  // (site, window start s) → value, from a range query with step 10 s: the point at t is the
  // window [t − 10 s, t) (docs/query.md, the point rule).
  std::map<std::pair<std::string, std::int64_t>, double> by_site_window(const std::string& expr,
                                                                        std::int64_t first_ws,
                                                                        std::int64_t last_ws) {
    std::map<std::pair<std::string, std::int64_t>, double> out;
    const json j = query_range(expr, first_ws + 10, last_ws + 10, 10);
    if (!j.contains("data")) return out;
    for (const auto& s : j["data"]["result"]) {
      const std::string site = s["metric"].value("site", "");
      for (const auto& p : s["values"]) {
        const auto t = static_cast<std::int64_t>(std::llround(p[0].get<double>()));
        out[{site, t - 10}] = std::stod(p[1].get<std::string>());
      }
    }
    return out;
  }

  std::string record() const { return dir_.file("sent.rec"); }
  std::int64_t start_s() const { return start_s_; }
  std::int64_t end_s() const { return end_s_; }
  int http_port() const { return http_port_; }
  int metrics_port() const { return metrics_port_; }
  DaemonProcess& collector() { return *collector_; }
  DaemonProcess& agent() { return *agent_; }

  void stop() {
    if (agent_) agent_->stop(SIGTERM, 10'000);
    if (collector_) collector_->stop(SIGTERM, 10'000);
  }
  ~Pipeline() { stop(); }

 private:
  testbed::TempDir dir_{"es-e2e"};
  testbed::MosquittoBroker broker_;
  std::unique_ptr<DaemonProcess> collector_;
  std::unique_ptr<DaemonProcess> agent_;
  int http_port_ = 0;
  int metrics_port_ = 0;
  SimSpec spec_;
  std::int64_t start_s_ = 0;
  std::int64_t end_s_ = 0;
  double sim_wall_s_ = 0;
};

std::uint64_t total_count(const std::vector<json>& truth) {
  std::uint64_t n = 0;
  for (const auto& t : truth) n += t["count"].get<std::uint64_t>();
  return n;
}

TEST(EndToEndTest, FleetWithFaultsThroughAgentAndCollectorMatchesTruth) {
  const auto wall0 = std::chrono::steady_clock::now();
  Pipeline p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  SimSpec spec;  // 100 devices, 1 simulated hour, faults on
  ASSERT_NO_FATAL_FAILURE(p.run_sim(spec));

  // Whole-span truth (one 2 h window holds all of it), all metrics per site: what the agent
  // counts (duplicate copies included, see the top comment).
  const auto span_truth = p.truth("--window 2h --group-by site --distinct device", "span.jsonl");
  const auto span_dedup = p.truth("--window 2h --group-by site --dedupe", "span_dedup.jsonl");
  const std::uint64_t sent = total_count(span_truth);
  std::printf("readings sent: %llu (%llu after dropping duplicate copies)\n",
              static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(total_count(span_dedup)));
  ASSERT_GT(sent, 0u);
  ASSERT_GT(sent, total_count(span_dedup)) << "the dup fault produced no duplicates";
  ASSERT_NO_FATAL_FAILURE(p.wait_drained(sent));

  // --- Whole span, per site: instant query at the end with a range that covers every window of
  // the span and the skew around it: windows ending in (start − 60 s, end + 60 s].
  const std::int64_t t_end = p.end_s() + 60;
  const std::string range = "[" + std::to_string(p.end_s() - p.start_s() + 120) + "s]";
  for (const std::string metric : {"temperature", "humidity", "pressure", "vibration", "event"}) {
    std::map<std::string, const json*> truth;
    for (const auto& t : span_truth) {
      if (t["metric"] == metric) truth[t["group"]["site"]] = &t;
    }
    ASSERT_EQ(truth.size(), static_cast<std::size_t>(kSites)) << metric;
    const auto count = p.by_label("sum by (site) (" + metric + "_count" + range + ")", t_end);
    EXPECT_EQ(count.size(), truth.size()) << metric;
    const bool numeric = metric != "event";
    std::map<std::string, double> sum, mn, mx;
    if (numeric) {
      sum = p.by_label("sum by (site) (" + metric + "_sum" + range + ")", t_end);
      mn = p.by_label("min by (site) (" + metric + "_min" + range + ")", t_end);
      mx = p.by_label("max by (site) (" + metric + "_max" + range + ")", t_end);
    }
    for (const auto& [site, t] : truth) {
      EXPECT_EQ(count.count(site) ? count.at(site) : -1, (*t)["count"].get<double>())
          << metric << " " << site;
      if (!numeric) continue;
      EXPECT_LE(rel_err(sum[site], (*t)["sum"].get<double>()), 1e-9) << metric << " " << site;
      EXPECT_EQ(mn[site], (*t)["min"].get<double>()) << metric << " " << site;
      EXPECT_EQ(mx[site], (*t)["max"].get<double>()) << metric << " " << site;
    }
  }
  std::printf("per-device rule, whole span: count/sum/min/max of 5 metrics x %d sites checked\n",
              kSites);

  // vibration_by_line (the per-line rule, merged by site) over the whole span.
  std::map<std::string, const json*> vib;
  for (const auto& t : span_truth) {
    if (t["metric"] == "vibration") vib[t["group"]["site"]] = &t;
  }
  const std::string vbl = "vibration_by_line" + range;
  const auto v_count = p.by_label("sum by (site) (vibration_by_line_count" + range + ")", t_end);
  const auto v_sum = p.by_label("sum by (site) (vibration_by_line_sum" + range + ")", t_end);
  const auto v_min = p.by_label("min by (site) (vibration_by_line_min" + range + ")", t_end);
  const auto v_max = p.by_label("max by (site) (vibration_by_line_max" + range + ")", t_end);
  const auto v_dist = p.by_label("distinct_count(sum by (site) (" + vbl + "))", t_end);
  std::map<std::string, std::map<std::string, double>> v_q;
  for (const char* phi : {"0.5", "0.9", "0.99"}) {
    v_q[phi] = p.by_label(
        std::string("histogram_quantile(") + phi + ", sum by (site) (" + vbl + "))", t_end);
  }
  std::printf("\nvibration_by_line, whole span, per site (collector vs truth)\n");
  std::printf("%-8s %9s %9s %10s %10s %10s %10s %10s %10s %6s %6s\n", "site", "count", "truth",
              "p50", "truth", "p90", "truth", "p99", "truth", "dist", "truth");
  double worst_q = 0, worst_sum = 0, worst_d = 0;
  for (const auto& [site, tp] : vib) {
    const json& t = *tp;
    EXPECT_EQ(v_count.count(site) ? v_count.at(site) : -1, t["count"].get<double>()) << site;
    const double es = rel_err(v_sum.count(site) ? v_sum.at(site) : 0, t["sum"].get<double>());
    worst_sum = std::max(worst_sum, es);
    EXPECT_LE(es, 1e-9) << site;
    EXPECT_EQ(v_min.count(site) ? v_min.at(site) : -1, t["min"].get<double>()) << site;
    EXPECT_EQ(v_max.count(site) ? v_max.at(site) : -1, t["max"].get<double>()) << site;
    for (const auto& [phi, key] :
         std::map<std::string, std::string>{{"0.5", "p50"}, {"0.9", "p90"}, {"0.99", "p99"}}) {
      const double got = v_q[phi].count(site) ? v_q[phi].at(site) : -1;
      const double e = rel_err(got, t[key].get<double>());
      worst_q = std::max(worst_q, e);
      EXPECT_LE(e, kHistogramBound)
          << site << " phi " << phi << " got " << got << " want " << t[key].get<double>();
    }
    const double td = t["distinct"]["device"].get<double>();
    const double gd = v_dist.count(site) ? v_dist.at(site) : -1;
    worst_d = std::max(worst_d, rel_err(gd, td));
    EXPECT_LE(std::fabs(gd - td), 3 * kHllSigma * td) << site;
    std::printf("%-8s %9.0f %9.0f %10.6f %10.6f %10.6f %10.6f %10.6f %10.6f %6.2f %6.0f\n",
                site.c_str(), v_count.count(site) ? v_count.at(site) : -1, t["count"].get<double>(),
                v_q["0.5"][site], t["p50"].get<double>(), v_q["0.9"][site], t["p90"].get<double>(),
                v_q["0.99"][site], t["p99"].get<double>(), gd, td);
  }
  std::printf(
      "whole span: worst quantile error %.4f %% (bound %.2f %%), worst sum error %.2e, "
      "worst distinct error %.3f %% (3 sigma %.2f %%)\n",
      100 * worst_q, 100 * kHistogramBound, worst_sum, 100 * worst_d, 300 * kHllSigma);

  // --- Per site and 10 s window (range query, step 10 s).
  const auto win_truth =
      p.truth("--window 10s --group-by site --metric vibration --distinct device", "win.jsonl");
  ASSERT_FALSE(win_truth.empty());
  std::int64_t first_ws = INT64_MAX, last_ws = INT64_MIN;
  for (const auto& t : win_truth) {
    const std::int64_t ws = t["window_start_ms"].get<std::int64_t>() / 1000;
    first_ws = std::min(first_ws, ws);
    last_ws = std::max(last_ws, ws);
  }
  const auto w_count =
      p.by_site_window("sum by (site) (vibration_by_line_count)", first_ws, last_ws);
  const auto w_sum = p.by_site_window("sum by (site) (vibration_by_line_sum)", first_ws, last_ws);
  const auto w_min = p.by_site_window("min by (site) (vibration_by_line_min)", first_ws, last_ws);
  const auto w_max = p.by_site_window("max by (site) (vibration_by_line_max)", first_ws, last_ws);
  const auto w_dist =
      p.by_site_window("distinct_count(sum by (site) (vibration_by_line))", first_ws, last_ws);
  std::map<std::string, std::map<std::pair<std::string, std::int64_t>, double>> w_q;
  for (const char* phi : {"0.5", "0.9", "0.99"}) {
    w_q[phi] = p.by_site_window(
        std::string("histogram_quantile(") + phi + ", sum by (site) (vibration_by_line))", first_ws,
        last_ws);
  }
  EXPECT_EQ(w_count.size(), win_truth.size()) << "windows served vs windows in the truth";
  std::size_t mismatches = 0;
  double w_worst_q = 0, w_worst_sum = 0, w_worst_d = 0;
  auto at = [](const auto& m, const auto& k) {
    auto it = m.find(k);
    return it == m.end() ? std::nan("") : it->second;
  };
  for (const auto& t : win_truth) {
    const std::pair<std::string, std::int64_t> k{t["group"]["site"],
                                                 t["window_start_ms"].get<std::int64_t>() / 1000};
    const std::string where = k.first + " @" + std::to_string(k.second);
    bool bad = false;
    bad |= at(w_count, k) != t["count"].get<double>();
    const double es = rel_err(at(w_sum, k), t["sum"].get<double>());
    w_worst_sum = std::max(w_worst_sum, std::isnan(es) ? 1.0 : es);
    bad |= !(es <= 1e-9);
    bad |= at(w_min, k) != t["min"].get<double>();
    bad |= at(w_max, k) != t["max"].get<double>();
    for (const auto& [phi, key] :
         std::map<std::string, std::string>{{"0.5", "p50"}, {"0.9", "p90"}, {"0.99", "p99"}}) {
      const double e = rel_err(at(w_q[phi], k), t[key].get<double>());
      w_worst_q = std::max(w_worst_q, std::isnan(e) ? 1.0 : e);
      bad |= !(e <= kHistogramBound);
    }
    const double td = t["distinct"]["device"].get<double>();
    const double gd = at(w_dist, k);
    w_worst_d = std::max(w_worst_d, std::isnan(gd) ? 1.0 : rel_err(gd, td));
    bad |= !(std::fabs(gd - td) <= 3 * kHllSigma * td);
    if (bad && ++mismatches <= 10) {
      ADD_FAILURE() << "window " << where << ": count " << at(w_count, k) << " vs " << t["count"]
                    << ", sum " << at(w_sum, k) << " vs " << t["sum"] << ", min " << at(w_min, k)
                    << " vs " << t["min"] << ", max " << at(w_max, k) << " vs " << t["max"]
                    << ", p50 " << at(w_q["0.5"], k) << " vs " << t["p50"] << ", p99 "
                    << at(w_q["0.99"], k) << " vs " << t["p99"] << ", distinct " << gd << " vs "
                    << td;
    }
  }
  EXPECT_EQ(mismatches, 0u);
  std::printf(
      "per 10 s window: %zu (site, window) pairs, %zu served, %zu mismatches; worst "
      "quantile error %.4f %%, worst sum error %.2e, worst distinct error %.3f %%\n",
      win_truth.size(), w_count.size(), mismatches, 100 * w_worst_q, w_worst_sum, 100 * w_worst_d);

  // --- Top 10 event codes over the span.
  const auto top_truth = p.truth("--window 2h --metric event --topk label --k 1000", "top.jsonl");
  ASSERT_EQ(top_truth.size(), 1u);
  std::vector<std::pair<std::string, std::int64_t>> true_top;
  for (const auto& e : top_truth[0]["topk"]) {
    true_top.emplace_back(e["key"].get<std::string>(), e["count"].get<std::int64_t>());
  }
  ASSERT_GE(true_top.size(), 10u);
  const std::int64_t tenth = true_top[9].second;
  std::map<std::string, std::int64_t> true_count(true_top.begin(), true_top.end());
  std::set<std::string> true_top10;
  for (int i = 0; i < 10; ++i) true_top10.insert(true_top[i].first);
  const auto items = p.by_label("topk_items(10, sum(event_by_site" + range + "))", t_end, "item");
  EXPECT_EQ(items.size(), 10u);
  int recalled = 0;
  std::printf("\ntop-10 event codes over the span (%zu distinct codes):\n", true_top.size());
  std::printf("  %-8s %10s | %-8s %10s %10s\n", "truth", "count", "served", "count", "truth");
  std::vector<std::pair<std::string, double>> served(items.begin(), items.end());
  std::sort(served.begin(), served.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  for (std::size_t i = 0; i < std::max<std::size_t>(10, served.size()); ++i) {
    std::string sk = "-";
    double sc = 0;
    std::int64_t st = 0;
    if (i < served.size()) {
      sk = served[i].first;
      sc = served[i].second;
      st = true_count.count(sk) ? true_count.at(sk) : 0;
      const bool ok = true_top10.count(sk) > 0 || st == tenth;
      recalled += ok;
      EXPECT_TRUE(ok) << sk << " (true count " << st << ") is not in the true top 10 (10th count "
                      << tenth << ")";
    }
    std::printf("  %-8s %10lld | %-8s %10.0f %10lld\n", i < 10 ? true_top[i].first.c_str() : "",
                i < 10 ? (long long)true_top[i].second : 0LL, sk.c_str(), sc,
                static_cast<long long>(st));
  }
  std::printf("top-10 recall: %d/10\n", recalled);
  EXPECT_EQ(recalled, 10);

  // --- The agent's self series reached the collector. Sampled from the agent's start until now,
  // the increases of readings_accepted add up to the agent's counter once a sample after the
  // last reading is in a closed, shipped window (one or two 10 s intervals after the drain).
  const double accepted = metric_value(http_get(p.metrics_port(), "/metrics").body,
                                       "edgesketch_agent_readings_accepted_total");
  EXPECT_GT(accepted, 0);
  double shipped = -1;
  const bool self_arrived = eventually(
      [&] {
        const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
        const auto v = p.by_label(
            "sum by (gateway) (edgesketch_agent_readings_accepted_sum[3610s])", now_s, "gateway");
        shipped = v.count("e2e-gw-1") ? v.at("e2e-gw-1") : -1;
        return v.size() == 1 && shipped == accepted;
      },
      60'000, 1'000);
  EXPECT_TRUE(self_arrived) << "self series: readings_accepted increases " << shipped
                            << ", agent counter " << accepted;
  {
    // The dashboard's "Agent outbox backlog" queries, as Grafana sends them.
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    for (const std::string expr :
         {"max by (gateway) (edgesketch_agent_outbox_rows_max)",
          "max by (gateway) (edgesketch_agent_outbox_oldest_age_seconds_max)"}) {
      const json j = p.query_range(expr, now_s - 300, now_s, 10);
      ASSERT_TRUE(j.contains("data")) << expr;
      ASSERT_EQ(j["data"]["result"].size(), 1u) << expr << "\n" << j.dump();
      const json& series = j["data"]["result"][0];
      EXPECT_EQ(series["metric"], json({{"gateway", "e2e-gw-1"}})) << expr;
      // A sample every 10 s since the agent started, but for the windows still open or in
      // flight: at least a few.
      EXPECT_GE(series["values"].size(), 3u) << expr;
      for (const auto& v : series["values"]) {
        EXPECT_GE(std::stod(v[1].get<std::string>()), 0) << expr;
      }
    }
  }
  std::printf("self series: readings_accepted increases %.0f = agent counter %.0f\n", shipped,
              accepted);

  std::printf("\nend-to-end wall time: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count());
  if (HasFailure()) {
    std::printf("agent log tail:\n%s\ncollector log tail:\n%s\n", p.agent().log_tail().c_str(),
                p.collector().log_tail().c_str());
  }
}

// promtool as a real client of the real collector, with data in it from a short sim run.
TEST(EndToEndTest, PromtoolQueriesTheCollector) {
  Pipeline p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  SimSpec spec;
  spec.devices = 20;
  spec.span_s = 120;
  spec.faults = false;
  ASSERT_NO_FATAL_FAILURE(p.run_sim(spec));
  const auto truth = p.truth("--window 2h --group-by site --metric vibration", "span.jsonl");
  ASSERT_EQ(truth.size(), static_cast<std::size_t>(kSites));
  ASSERT_NO_FATAL_FAILURE(p.wait_drained(total_count(p.truth("--window 2h", "all.jsonl"))));

  const std::string promtool = ES_PROMTOOL;
  const std::string url =
      "http://promtool:" + std::string(kToken) + "@127.0.0.1:" + std::to_string(p.http_port());
  const std::string end = std::to_string(p.end_s());
  const std::string start = std::to_string(p.start_s());

  // query instant: one line per site, "{site="site-00"} => <count> @[<t>]".
  const CmdResult inst = run(promtool + " query instant --time=" + end + " " + url +
                             " 'sum by (site) (vibration_by_line_count[2m])'");
  std::printf("promtool query instant:\n%s\n", inst.output.c_str());
  ASSERT_EQ(inst.status, 0) << inst.output;
  for (const auto& t : truth) {
    const std::string site = t["group"]["site"];
    const std::string want =
        "{site=\"" + site + "\"} => " + std::to_string(t["count"].get<std::int64_t>()) + " @[";
    EXPECT_NE(inst.output.find(want), std::string::npos) << want << "\n" << inst.output;
  }

  // query instant of a sketch function.
  const CmdResult q99 = run(promtool + " query instant --time=" + end + " " + url +
                            " 'histogram_quantile(0.99, sum by (site) (vibration_by_line[2m]))'");
  ASSERT_EQ(q99.status, 0) << q99.output;
  EXPECT_NE(q99.output.find("{site=\"site-00\"} => "), std::string::npos) << q99.output;

  // query range, JSON output: a matrix with one series per site, points every 10 s.
  const CmdResult rng = run(promtool + " query range -o json --start=" + start + " --end=" + end +
                            " --step=10s " + url + " 'sum by (site) (vibration_by_line_count)'");
  ASSERT_EQ(rng.status, 0) << rng.output;
  const json m = json::parse(rng.output, nullptr, false);
  ASSERT_FALSE(m.is_discarded()) << rng.output;
  ASSERT_TRUE(m.is_array()) << rng.output;
  EXPECT_EQ(m.size(), static_cast<std::size_t>(kSites));
  std::int64_t range_total = 0;
  for (const auto& s : m) {
    for (const auto& v : s["values"]) range_total += std::stoll(v[1].get<std::string>());
  }
  std::int64_t truth_total = 0;
  for (const auto& t : truth) truth_total += t["count"].get<std::int64_t>();
  // The range [start, end] holds the windows ending in (start − 10 s, end]: the whole span.
  EXPECT_EQ(range_total, truth_total);
  std::printf("promtool query range: %zu series, %lld readings (truth %lld)\n", m.size(),
              static_cast<long long>(range_total), static_cast<long long>(truth_total));

  // query series / labels.
  const std::string se = " --start=" + start + " --end=" + end + " ";
  const CmdResult ser =
      run(promtool + " query series" + se + "--match='vibration_by_line_count' " + url);
  std::printf("promtool query series:\n%s\n", ser.output.c_str());
  ASSERT_EQ(ser.status, 0) << ser.output;
  EXPECT_NE(ser.output.find("__name__=\"vibration_by_line_count\""), std::string::npos)
      << ser.output;
  EXPECT_NE(ser.output.find("line=\"line-0\""), std::string::npos) << ser.output;
  const CmdResult lab = run(promtool + " query labels" + se + url + " site");
  std::printf("promtool query labels site:\n%s\n", lab.output.c_str());
  ASSERT_EQ(lab.status, 0) << lab.output;
  for (int s = 0; s < kSites; ++s) {
    char site[16];
    std::snprintf(site, sizeof site, "site-%02d", s);
    EXPECT_NE(lab.output.find(site), std::string::npos) << lab.output;
  }
  const CmdResult names = run(promtool + " query labels" + se + url + " __name__");
  ASSERT_EQ(names.status, 0) << names.output;
  for (const char* n :
       {"event_by_site", "vibration_by_line_count", "vibration_by_line_max", "temperature_sum"}) {
    EXPECT_NE(names.output.find(n), std::string::npos) << n << "\n" << names.output;
  }
  // A wrong token is refused (promtool exits non-zero).
  const CmdResult bad = run(promtool + " query instant http://promtool:wrong@127.0.0.1:" +
                            std::to_string(p.http_port()) + " '1+1'");
  EXPECT_NE(bad.status, 0) << bad.output;
}

}  // namespace
}  // namespace edgesketch
