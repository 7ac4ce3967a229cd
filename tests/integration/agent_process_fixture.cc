// The agent process tests' fixture and helpers (agent_process_fixture.h).
#include "agent_process_fixture.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/eventually.h"
#include "support/metrics_text.h"

namespace edgesketch::test_support {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int run_program(const std::vector<std::string>& args, const std::string& log) {
  testbed::DaemonProcess p(args[0], std::vector<std::string>(args.begin() + 1, args.end()), log);
  if (!p.start()) return -1;
  const int status = p.stop(0, 60'000);  // signal 0: just wait for the exit
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WindowTotals::add(const WindowTotals& o) {
  count += o.count;
  if (!o.numeric) return;
  numeric = true;
  sum += o.sum;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
}

WindowTotals WindowTotals::of(const sketch::WindowAggregate& agg) {
  WindowTotals t;
  t.count = agg.count();
  t.numeric = agg.count() > 0 && agg.min() <= agg.max();
  t.sum = agg.sum();
  t.min = agg.min();
  t.max = agg.max();
  return t;
}

void expect_totals_equal(const WindowTotals& got, const WindowTotals& want,
                         const std::string& what) {
  ASSERT_EQ(got.count, want.count) << what;
  if (!want.numeric) return;
  EXPECT_LE(std::fabs(got.sum - want.sum), 1e-9 * std::max(1.0, std::fabs(want.sum))) << what;
  EXPECT_EQ(got.min, want.min) << what;
  EXPECT_EQ(got.max, want.max) << what;
}

void expect_windows_equal(const AckDouble& ack, const std::function<bool(const WindowKey&)>& select,
                          const std::map<SeriesWindow, WindowTotals>& want) {
  std::map<SeriesWindow, WindowTotals> got;
  for (const auto& [k, w] : ack.windows()) {
    if (select(k)) got[{k.series, k.window_start_ms}] = WindowTotals::of(w.agg);
  }
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [key, totals] : want) {
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << "no window for " << key.first << " @" << key.second;
    expect_totals_equal(it->second, totals, key.first + " @" + std::to_string(key.second));
  }
}

std::vector<TruthLine> sim_truth(const std::string& record, const std::vector<std::string>& flags,
                                 const std::string& dir) {
  static int runs = 0;
  const std::string out = dir + "/truth-" + std::to_string(++runs) + ".jsonl";
  std::vector<std::string> args = {ES_SIM_BINARY, "truth", "--record", record,
                                   "--window",    "2s",    "--output", out};
  args.insert(args.end(), flags.begin(), flags.end());
  EXPECT_EQ(run_program(args, dir + "/truth.log"), 0) << read_file(dir + "/truth.log");
  std::vector<TruthLine> lines;
  std::ifstream f(out);
  std::string text;
  while (std::getline(f, text)) {
    if (text.empty()) continue;
    const nlohmann::json l = nlohmann::json::parse(text);
    TruthLine t;
    t.metric = l["metric"].get<std::string>();
    for (const auto& [k, v] : l["group"].items()) t.group[k] = v.get<std::string>();
    t.window_start_ms = l["window_start_ms"].get<std::int64_t>();
    t.totals.count = l["count"].get<std::uint64_t>();
    if (l.contains("sum")) {
      t.totals.numeric = true;
      t.totals.sum = l["sum"].get<double>();
      t.totals.min = l["min"].get<double>();
      t.totals.max = l["max"].get<double>();
    }
    lines.push_back(std::move(t));
  }
  return lines;
}

void AgentProcessTest::SetUp() {
  tmp_ = std::make_unique<testbed::TempDir>("es-agent-it");
  dir_ = tmp_->path();
  ASSERT_FALSE(dir_.empty()) << tmp_->error();
  const Status s = brokers_.start();
  ASSERT_TRUE(s.ok()) << s.to_string();
  metrics_port_ = testbed::free_port();
}

void AgentProcessTest::TearDown() {
  agent_.reset();
  brokers_.stop();
  if (HasFailure()) tmp_->keep();
}

void AgentProcessTest::start_agent(const std::string& config, bool mqtt_input) {
  agent_ = std::make_unique<testbed::DaemonProcess>(
      ES_AGENT_BINARY, std::vector<std::string>{"--config", config}, dir_ + "/agent.log");
  ASSERT_TRUE(agent_->start());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto ms_left = [&] {
    return static_cast<int>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now())
               .count()));
  };
  ASSERT_TRUE(eventually([&] { return testbed::http_get(metrics_port_, "/metrics").status == 200; },
                         ms_left(), 50))
      << agent_->log_tail();
  if (!mqtt_input) return;
  ASSERT_TRUE(
      eventually([&] { return metric("edgesketch_agent_input_connected") >= 1; }, ms_left(), 50))
      << agent_->log_tail();
}

std::vector<std::string> AgentProcessTest::sim_command(const std::string& format, int devices,
                                                       const std::string& duration, double speed,
                                                       std::int64_t start_ms,
                                                       const std::vector<std::string>& more) const {
  std::vector<std::string> args = {ES_SIM_BINARY,
                                   "--devices",
                                   std::to_string(devices),
                                   "--duration",
                                   duration,
                                   "--speed",
                                   std::to_string(speed),
                                   "--start-ms",
                                   std::to_string(start_ms),
                                   "--format",
                                   format,
                                   "--broker",
                                   brokers_.local->uri(),
                                   "--qos",
                                   "1",
                                   "--record",
                                   dir_ + "/sim.rec",
                                   "--quiet"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

double AgentProcessTest::metric(const std::string& prefix) const {
  return metric_sum(testbed::http_get(metrics_port_, "/metrics").body, prefix);
}

}  // namespace edgesketch::test_support
