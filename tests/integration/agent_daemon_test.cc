// edgesketch-agent as a process: edgesketch-sim -> local mosquitto -> agent -> uplink mosquitto
// -> ack double. Per-window totals at the ack double equal `edgesketch-sim truth`, through every
// payload format, five kill -9s and malformed payloads; config checks and SIGTERM. The agent's
// self-metrics series ship alongside (every test runs with them on, at a 1 s interval) and are
// left out of the comparisons with the truth; their own test checks them against the agent's
// counters and gauges, through an uplink outage.
#include <gtest/gtest.h>
#include <mqtt/async_client.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "integration/agent_process_fixture.h"
#include "journal/journal.h"
#include "support/ack_double.h"
#include "support/eventually.h"
#include "support/metrics_text.h"
#include "support/notify_socket.h"

namespace edgesketch::test_support {

using namespace testbed;
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

using Truth = std::map<SeriesWindow, WindowTotals>;

// The truth of the sim record in 2 s windows of the rule grouping by `group_by`, keyed by series
// (the ack double's spelling) and window start.
Truth load_truth(const std::string& record, const std::string& dir,
                 const std::string& group_by = "device") {
  Truth t;
  for (const TruthLine& l : sim_truth(record, {"--group-by", group_by}, dir)) {
    wire::SeriesKey key;
    key.metric = l.metric;
    for (const auto& [k, v] : l.group) key.tags.push_back(wire::Tag{k, v});
    t[{series_name(key), l.window_start_ms}] = l.totals;
  }
  return t;
}

std::uint64_t truth_readings(const Truth& t) {
  std::uint64_t n = 0;
  for (const auto& [k, v] : t) n += v.count;
  return n;
}

// The agent's own series (window/self_metrics.h): edgesketch_agent_<name>{gateway=...}.
bool is_self_series(const std::string& series) { return series.rfind("edgesketch_agent_", 0) == 0; }

// A series of a rule grouping by the one tag `group_by` (any device series when empty).
bool in_group(const std::string& series, const std::string& group_by) {
  if (is_self_series(series)) return false;
  return group_by.empty() || series.find("{" + group_by + "=") != std::string::npos;
}

// Readings of the device series the ack double committed (the self series left out).
std::uint64_t device_readings(const AckDouble& ack, const std::string& group_by = "") {
  std::uint64_t n = 0;
  for (const auto& [k, w] : ack.windows()) {
    if (in_group(k.series, group_by)) n += w.agg.count();
  }
  return n;
}

// The committed windows of the rule grouping by `group_by` equal the truth, window by window;
// windows starting before `from_ms` are left out on both sides.
void expect_equal_to_truth(const Truth& truth_all, const AckDouble& ack,
                           const std::string& group_by = "", std::int64_t from_ms = INT64_MIN) {
  Truth truth;
  for (const auto& [k, t] : truth_all) {
    if (k.second >= from_ms) truth.emplace(k, t);
  }
  expect_windows_equal(
      ack,
      [&](const WindowKey& k) {
        return in_group(k.series, group_by) && k.window_start_ms >= from_ms;
      },
      truth);
}

class AgentDaemonTest : public AgentProcessTest {
 protected:
  // `extra`: more TOML appended (rules, [self_metrics]); without a [self_metrics] section the
  // self source samples every second.
  // `format` "udp:PORT": a UDP input on 127.0.0.1:PORT (nanopb datagrams) instead of MQTT.
  std::string write_config(const std::string& format, const std::string& extra = "") {
    if (format.rfind("udp:", 0) == 0) {
      return write_config_with_input(
          "[[input]]\nname = \"local\"\ntype = \"udp\"\nbind = "
          "\"127.0.0.1:" +
              format.substr(4) + "\"\n",
          extra);
    }
    return write_config_with_input(mqtt_input(format, "topics = [\"devices/+/readings\"]\n"),
                                   extra);
  }

  // An MQTT input "local" on the local broker in `format`, with `keys` (topics, template...).
  std::string mqtt_input(const std::string& format, const std::string& keys) const {
    return "[[input]]\nname = \"local\"\ntype = \"mqtt\"\nformat = \"" + format +
           "\"\nbroker = \"" + brokers_.local->uri() + "\"\nqos = 1\n" + keys;
  }

  std::string write_config_with_input(const std::string& input, const std::string& extra = "") {
    const std::string path = dir_ + "/agent.toml";
    std::ofstream f(path);
    f << "[agent]\ngateway_id = \"gw-it\"\ndata_dir = \"" << dir_ << "/data\"\n";
    f << input;
    f << "[[rule]]\nname = \"per-device\"\ngroup_by = [\"device\"]\nwindow = \"2s\"\n"
      << "[window]\nallowed_lateness = \"500ms\"\nidle_timeout = \"1s\"\n"
      << "[uplink]\nbroker = \"" << brokers_.uplink->uri() << "\"\nresend_timeout = \"3s\"\n"
      << "reconnect_min = \"100ms\"\nreconnect_max = \"1s\"\nbacklog_rate_cap = 0\n"
      << "[metrics]\nlisten = \"127.0.0.1:" << metrics_port_ << "\"\n";
    if (extra.find("[self_metrics]") == std::string::npos)
      f << "[self_metrics]\ninterval = \"1s\"\n";
    f << extra;
    return path;
  }

  // edgesketch-sim's command line (sim_command()) with seed 7 and `malformed` of the batches
  // malformed.
  std::vector<std::string> sim_args(const std::string& format, int devices,
                                    const std::string& duration, double speed,
                                    std::int64_t start_ms, double malformed = 0) {
    return sim_command(
        format, devices, duration, speed, start_ms,
        {"--seed", "7", "--malformed-ratio", std::to_string(malformed), "--client-id", "sim-it"});
  }

  // Waits until the device series at the ack double hold n readings.
  bool wait_for_readings(std::uint64_t n, int timeout_ms, const std::string& group_by = "") {
    return eventually([&] { return device_readings(*brokers_.ack, group_by) >= n; }, timeout_ms,
                      100);
  }

  // Waits until the metric lines starting with `prefix` add up to at least `v`.
  bool wait_for_metric(const std::string& prefix, double v, int timeout_ms) {
    return eventually([&] { return metric(prefix) >= v; }, timeout_ms, 50);
  }
};

// The start of the simulated run: 60 s ago on a 2 s boundary (well inside clock sanity).
std::int64_t sim_start() { return (now_ms() - 60'000) / 2'000 * 2'000; }

class AgentFormatTest : public AgentDaemonTest,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(AgentFormatTest, WindowsEqualSimTruth) {
  start_agent(write_config(GetParam()));
  ASSERT_EQ(run_program(sim_args(GetParam(), 20, "30s", 0, sim_start()), dir_ + "/sim.log"), 0)
      << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  ASSERT_GT(want, 10'000u);
  EXPECT_TRUE(wait_for_readings(want, 30'000))
      << device_readings(*brokers_.ack) << " of " << want << "\n"
      << agent_->log_tail();
  expect_equal_to_truth(truth, *brokers_.ack);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, AgentFormatTest, ::testing::Values("nanopb", "json", "line"));

// Per series, over the whole run: count, sum, min and max of every window added up. The value
// format carries no time (the agent stamps the receive time), so its windows are not the
// truth's; its totals are.
void expect_totals_equal_truth(const Truth& truth, const AckDouble& ack) {
  std::map<std::string, WindowTotals> want, got;
  for (const auto& [k, t] : truth) want[k.first].add(t);
  for (const auto& [k, w] : ack.windows()) {
    if (in_group(k.series, "")) got[k.series].add(WindowTotals::of(w.agg));
  }
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [series, t] : want) {
    auto it = got.find(series);
    ASSERT_NE(it, got.end()) << "no series " << series;
    expect_totals_equal(it->second, t, series);
  }
}

// The formats of devices that are not edgesketch's, end to end: edgesketch-sim sends them (with
// 5 % malformed batches) through mosquitto to an agent configured as docs/agent.md says, and the
// ack double's windows equal the truth; what was malformed is counted by reason and cost nothing
// else of its message.
struct DeviceFormatCase {
  std::string name;
  std::string sim_format;
  std::string topic_prefix;
  std::vector<std::string> rates;  // --rate flags
  std::string input;               // the [[input]] keys after format
  std::string agent_format;
  std::string bad_counter;  // where the malformed ones are counted
  bool windows;             // the payload carries the time: windows compare, not only totals
};

class AgentDeviceFormatTest : public AgentDaemonTest,
                              public ::testing::WithParamInterface<DeviceFormatCase> {};

TEST_P(AgentDeviceFormatTest, WindowsEqualSimTruth) {
  const DeviceFormatCase& c = GetParam();
  start_agent(write_config_with_input(mqtt_input(c.agent_format, c.input)));
  auto args = sim_args(c.sim_format, 20, "30s", 0, sim_start(), 0.05);
  args.insert(args.end(), {"--topic-prefix", c.topic_prefix});
  for (const std::string& r : c.rates) args.insert(args.end(), {"--rate", r});
  ASSERT_EQ(run_program(args, dir_ + "/sim.log"), 0) << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  ASSERT_GT(want, 4'000u);
  EXPECT_TRUE(wait_for_readings(want, 60'000))
      << device_readings(*brokers_.ack) << " of " << want << "\n"
      << agent_->log_tail();
  if (c.windows) {
    expect_equal_to_truth(truth, *brokers_.ack);
  } else {
    expect_totals_equal_truth(truth, *brokers_.ack);
  }
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  const std::string m = http_get(metrics_port_, "/metrics").body;
  EXPECT_GT(test_support::metric_sum(m, c.bad_counter), 0) << m;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_input_readings_total"),
            static_cast<double>(want));
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, AgentDeviceFormatTest,
    ::testing::Values(
        // Telegraf-style: multi-field lines of many devices per message; a malformed batch is a
        // bad line among good ones, skipped and counted.
        DeviceFormatCase{"line_fields",
                         "line-fields",
                         "telegraf",
                         {},
                         "topics = [\"telegraf/#\"]\n",
                         "line",
                         "edgesketch_agent_payload_items_skipped_total{input=\"local\","
                         "reason=\"malformed_line\"}",
                         true},
        // Zigbee2MQTT-shaped objects with last_seen as the time.
        DeviceFormatCase{"json_fields",
                         "json-fields",
                         "zigbee2mqtt",
                         {"vibration=5"},
                         "topic_template = \"zigbee2mqtt/{device}\"\ntime_field = \"last_seen\"\n"
                         "time_format = \"unix_ms\"\n",
                         "json_fields",
                         "edgesketch_agent_payloads_bad_total{input=\"local\","
                         "reason=\"malformed_json\"}",
                         true},
        // Shelly-style bare values, one message per reading.
        DeviceFormatCase{
            "value",
            "value",
            "shellies",
            {"vibration=5"},
            "topic_template = \"shellies/{device}/{metric}\"\n",
            "value",
            "edgesketch_agent_payloads_bad_total{input=\"local\",reason=\"bad_string\"}",
            false}),
    [](const auto& info) { return info.param.name; });

// A burst of large line protocol payloads (Telegraf's batch = true: 4-field lines of many
// devices, packed into one message) through an input whose ring holds 1 MiB of parsed readings:
// the ring's byte bound holds Paho's thread back (the broker queues), and nothing is lost. With
// 1,000 lines a payload parses into more than ring_bytes (~1.2 MB) and passes alone into the
// empty ring; with 100 lines several payloads fit at once.
class AgentRingBytesTest : public AgentDaemonTest, public ::testing::WithParamInterface<int> {};

TEST_P(AgentRingBytesTest, BurstOfLargePayloadsLosesNothing) {
  const int lines = GetParam();
  start_agent(write_config_with_input(
      mqtt_input("line", "topics = [\"telegraf/#\"]\nring_bytes = \"1MiB\"\n")));
  auto args = sim_args("line-fields", 100, "20s", 0, sim_start());
  args.insert(args.end(), {"--topic-prefix", "telegraf", "--message-lines", std::to_string(lines),
                           "--max-delay", "1s", "--rate", "temperature=10", "--rate", "humidity=10",
                           "--rate", "pressure=10", "--rate", "vibration=10", "--rate", "event=0"});
  ASSERT_EQ(run_program(args, dir_ + "/sim.log"), 0) << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  ASSERT_EQ(want, 80'000u);  // 100 devices, four metrics at 10 Hz, 20 s
  EXPECT_TRUE(wait_for_readings(want, 60'000))
      << device_readings(*brokers_.ack) << " of " << want << "\n"
      << agent_->log_tail();
  expect_equal_to_truth(truth, *brokers_.ack);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  const std::string m = http_get(metrics_port_, "/metrics").body;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_input_readings_total"),
            static_cast<double>(want));
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_dropped_readings_total"), 0) << m;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_ring_max_bytes{input=\"local\"}"),
            1 << 20);
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_ring_bytes{input=\"local\"}"), 0) << m;
  const double oversize =
      test_support::metric_sum(m, "edgesketch_agent_ring_oversize_chunks_total{input=\"local\"}");
  if (lines == 1000) {
    // Every full payload (4,000 readings) is larger than the ring.
    EXPECT_GE(oversize, 15) << m;
  } else {
    EXPECT_EQ(oversize, 0) << m;
  }
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

INSTANTIATE_TEST_SUITE_P(LinesPerMessage, AgentRingBytesTest, ::testing::Values(1000, 100));

// kill -9 twice while Zigbee2MQTT-shaped payloads stream in: the journal keeps each payload's
// input and topic, so replay reads the device from the template and the time from last_seen
// as the input did, and nothing is lost or counted twice.
TEST_F(AgentDaemonTest, KillsWithATopicTemplateLoseAndDoubleCountNothing) {
  const std::string config = write_config_with_input(
      mqtt_input("json_fields",
                 "topic_template = \"zigbee2mqtt/{device}\"\ntime_field = \"last_seen\"\n"
                 "time_format = \"unix_ms\"\n"));
  start_agent(config);
  auto args = sim_args("json-fields", 10, "40s", 5, sim_start());
  args.insert(args.end(), {"--topic-prefix", "zigbee2mqtt", "--rate", "vibration=5"});
  DaemonProcess sim(args[0], std::vector<std::string>(args.begin() + 1, args.end()),
                    dir_ + "/sim.log");
  ASSERT_TRUE(sim.start());
  for (int kill = 0; kill < 2; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    (void)agent_->stop(SIGKILL, 5'000);
    start_agent(config);
  }
  const int status = sim.stop(0, 60'000);
  ASSERT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  EXPECT_TRUE(wait_for_readings(want, 30'000)) << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // anything extra arrives too
  expect_equal_to_truth(truth, *brokers_.ack);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

TEST_F(AgentDaemonTest, FiveKillsLoseAndDoubleCountNothing) {
  const std::string config = write_config("nanopb");
  start_agent(config);
  DaemonProcess sim(
      ES_SIM_BINARY,
      [&] {
        auto a = sim_args("nanopb", 10, "60s", 5, sim_start());
        a.erase(a.begin());
        return a;
      }(),
      dir_ + "/sim.log");
  ASSERT_TRUE(sim.start());
  double redelivered = 0;  // redeliveries the filter recognised, over every run
  for (int kill = 0; kill < 5; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500 + 300 * kill));
    redelivered += test_support::metric_sum(http_get(metrics_port_, "/metrics").body,
                                            "edgesketch_agent_redelivered_payloads_total");
    (void)agent_->stop(SIGKILL, 5'000);
    start_agent(config);
  }
  const int status = sim.stop(0, 60'000);
  ASSERT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  EXPECT_TRUE(wait_for_readings(want, 30'000)) << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // anything extra arrives too
  redelivered += test_support::metric_sum(http_get(metrics_port_, "/metrics").body,
                                          "edgesketch_agent_redelivered_payloads_total");
  std::cout << "redelivered payloads recognised after the kills: " << redelivered << "\n";
  expect_equal_to_truth(truth, *brokers_.ack);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  // seq: consecutive from the outbox's (random) first one, without a gap after dedupe.
  const auto seqs = brokers_.ack->seqs();
  ASSERT_FALSE(seqs.empty());
  EXPECT_GE(seqs.begin()->second, std::uint64_t{1} << 32);
  EXPECT_EQ(seqs.rbegin()->second - seqs.begin()->second + 1, seqs.size());
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

// Line protocol without a timestamp repeats byte for byte legitimately. 200 identical payloads
// published at QoS 1 (each PUBACKed by the broker), half while the agent runs and half while it
// is stopped (queued for its persistent session), are all counted: none carries the DUP flag, so
// none is taken for a redelivery of the identical journaled ones.
TEST_F(AgentDaemonTest, IdenticalPayloadsAcrossARestartAreAllCounted) {
  const std::string config = write_config("line");
  start_agent(config);
  mqtt::async_client pub(brokers_.local->uri(), "identical-pub-" + std::to_string(::getpid()),
                         nullptr);
  pub.connect()->wait();
  const std::string line = "temp,device=dev-same,site=s1 value=21.5";
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      pub.publish(mqtt::make_message("devices/dev-same/readings", line, 1, false))->wait();
    }
  };
  publish(100);
  ASSERT_TRUE(wait_for_metric("edgesketch_agent_payloads_accepted_total", 100, 20'000))
      << agent_->log_tail();
  ASSERT_EQ(agent_->stop(SIGTERM, 10'000), 0);
  publish(100);  // queued by the broker for the agent's session
  start_agent(config);
  EXPECT_TRUE(wait_for_readings(200, 30'000)) << device_readings(*brokers_.ack) << "\n"
                                              << agent_->log_tail();
  ASSERT_TRUE(wait_for_metric("edgesketch_agent_payloads_accepted_total", 100, 10'000));
  // Everything the second run accepted is at the ack double; nothing more is on its way.
  ASSERT_EQ(agent_->stop(SIGTERM, 10'000), 0);
  EXPECT_EQ(device_readings(*brokers_.ack), 200u) << agent_->log_tail();
  const std::string log = read_file(dir_ + "/agent.log");
  EXPECT_EQ(log.find("is journaled already, not counted again"), std::string::npos) << log;
  pub.disconnect()->wait();
}

// A real full disk: the agent's data_dir on a 4 MiB tmpfs, filled up to ENOSPC while line
// protocol payloads arrive. The stall shows on /metrics, and once the filler is deleted the agent
// resumes by itself and every reading arrives exactly once. Needs CAP_SYS_ADMIN (mount).
TEST_F(AgentDaemonTest, FullTmpfsStallsAndResumesLosingNothing) {
  const std::string data = dir_ + "/data";
  std::filesystem::create_directories(data);
  testbed::TmpfsMount tmpfs(data, "4m");
  ASSERT_EQ(tmpfs.error(), "");
  start_agent(write_config("line"));
  mqtt::async_client pub(brokers_.local->uri(), "tmpfs-pub-" + std::to_string(::getpid()), nullptr);
  pub.connect()->wait();
  int published = 0;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i, ++published) {
      std::string payload;
      for (int l = 0; l < 10; ++l) {
        payload +=
            "temp,device=dev-" + std::to_string(l) + " value=" + std::to_string(published) + "\n";
      }
      pub.publish(mqtt::make_message("devices/dev-0/readings", payload, 1, false))->wait();
    }
  };
  publish(20);
  ASSERT_TRUE(wait_for_metric("edgesketch_agent_payloads_accepted_total", 20, 10'000));
  // Fill the file system to the last byte.
  const std::string filler = data + "/filler";
  testbed::fill_file_system(filler);
  publish(50);
  EXPECT_TRUE(wait_for_metric("edgesketch_agent_storage_stalled", 1, 15'000))
      << http_get(metrics_port_, "/metrics").body << agent_->log_tail();
  std::filesystem::remove(filler);
  EXPECT_TRUE(wait_for_metric("edgesketch_agent_payloads_accepted_total", 70, 20'000))
      << agent_->log_tail();
  publish(10);
  const std::uint64_t want = static_cast<std::uint64_t>(published) * 10;
  EXPECT_TRUE(wait_for_readings(want, 30'000)) << device_readings(*brokers_.ack) << " of " << want;
  const std::string m = http_get(metrics_port_, "/metrics").body;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_storage_stalled"), 0) << m;
  EXPECT_GE(test_support::metric_sum(m, "edgesketch_agent_storage_stalls_total"), 1) << m;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_dropped_readings_total"), 0) << m;
  ASSERT_EQ(agent_->stop(SIGTERM, 10'000), 0);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  const std::string log = read_file(dir_ + "/agent.log");
  EXPECT_NE(log.find("stalled: "), std::string::npos) << log;
  EXPECT_NE(log.find("writes again after"), std::string::npos) << log;
  pub.disconnect()->wait();
}

// The MQTT input acknowledges a QoS 1 message only once the sink journaled it. A full file
// system holds the sink before its journal write; a kill -9 then finds the held message (and
// those read behind it) unacknowledged, so the broker delivers them again after the restart and
// every reading arrives exactly once.
TEST_F(AgentDaemonTest, KillWhileTheJournalCannotWriteLosesNothing) {
  const std::string data = dir_ + "/data";
  std::filesystem::create_directories(data);
  testbed::TmpfsMount tmpfs(data, "4m");
  ASSERT_EQ(tmpfs.error(), "");
  const std::string config = write_config("line");
  start_agent(config);
  mqtt::async_client pub(brokers_.local->uri(), "kill-pub-" + std::to_string(::getpid()), nullptr);
  pub.connect()->wait();
  int published = 0;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i, ++published) {
      std::string payload;
      for (int l = 0; l < 10; ++l) {
        payload +=
            "temp,device=dev-" + std::to_string(l) + " value=" + std::to_string(published) + "\n";
      }
      pub.publish(mqtt::make_message("devices/dev-0/readings", payload, 1, false))->wait();
    }
  };
  publish(20);
  ASSERT_TRUE(wait_for_metric("edgesketch_agent_payloads_accepted_total", 20, 10'000));
  const std::string filler = data + "/filler";
  testbed::fill_file_system(filler);
  // Appends still fit the journal's last page for a while: publish until they do not.
  publish(50);
  ASSERT_TRUE(wait_for_metric("edgesketch_agent_storage_stalled{component=\"journal\"}", 1, 15'000))
      << http_get(metrics_port_, "/metrics").body << agent_->log_tail();
  EXPECT_LT(test_support::metric_sum(http_get(metrics_port_, "/metrics").body,
                                     "edgesketch_agent_payloads_accepted_total"),
            published);
  (void)agent_->stop(SIGKILL, 5'000);
  std::filesystem::remove(filler);
  start_agent(config);
  publish(5);
  const std::uint64_t want = static_cast<std::uint64_t>(published) * 10;
  EXPECT_TRUE(wait_for_readings(want, 30'000)) << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // anything extra arrives too
  ASSERT_EQ(agent_->stop(SIGTERM, 10'000), 0);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  pub.disconnect()->wait();
}

// SIGHUP while readings stream in: a rule is added; the unchanged rule keeps its open windows
// (its totals still equal the truth, window by window), the new rule's windows that start after
// the reload equal the truth of its grouping; then a config that does not load is refused and
// the rules stay. Both are counted. Under systemd's notify protocol the agent reports READY,
// RELOADING (with MONOTONIC_USEC, as Type=notify-reload wants), WATCHDOG pings and STOPPING.
TEST_F(AgentDaemonTest, SighupReloadsRulesKeepingBufferedReadingsAndTalksToSystemd) {
  NotifySocket notify;
  notify.start_collecting();
  const std::string config = write_config("nanopb");
  ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "600000", 1);
  start_agent(config);
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(
      test_support::metric_sum(http_get(metrics_port_, "/metrics").body, "edgesketch_agent_rules "),
      1);

  // 30 simulated seconds at 5x: 6 s of wall time; the reload comes after about 2 s.
  const std::int64_t start = sim_start();
  DaemonProcess sim(
      ES_SIM_BINARY,
      [&] {
        auto a = sim_args("nanopb", 10, "30s", 5, start);
        a.erase(a.begin());
        return a;
      }(),
      dir_ + "/sim.log");
  ASSERT_TRUE(sim.start());
  const auto sim_began = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  write_config("nanopb", "[[rule]]\nname = \"per-site\"\ngroup_by = [\"site\"]\nwindow = \"2s\"\n");
  ASSERT_EQ(::kill(agent_->pid(), SIGHUP), 0);
  EXPECT_TRUE(
      wait_for_metric("edgesketch_agent_config_reloads_total{result=\"applied\"}", 1, 5'000))
      << agent_->log_tail();
  const auto reloaded = Clock::now();
  EXPECT_EQ(
      test_support::metric_sum(http_get(metrics_port_, "/metrics").body, "edgesketch_agent_rules "),
      2);

  std::ofstream(config, std::ios::app) << "[[rule]]\nname = 7\n";
  ASSERT_EQ(::kill(agent_->pid(), SIGHUP), 0);
  EXPECT_TRUE(
      wait_for_metric("edgesketch_agent_config_reloads_total{result=\"rejected\"}", 1, 5'000))
      << agent_->log_tail();
  EXPECT_EQ(
      test_support::metric_sum(http_get(metrics_port_, "/metrics").body, "edgesketch_agent_rules "),
      2);
  EXPECT_NE(agent_->log_tail().find("not reloaded, keeping the old rules"), std::string::npos)
      << agent_->log_tail();

  const int status = sim.stop(0, 60'000);
  ASSERT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << read_file(dir_ + "/sim.log");
  // The sim's event time runs 5x its wall time from `start`: windows starting 10 simulated
  // seconds after the reload's wall time hold readings sent well after the reload only.
  const std::int64_t after_reload_ms =
      start +
      5 * std::chrono::duration_cast<std::chrono::milliseconds>(reloaded - sim_began).count() +
      10'000;
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  EXPECT_TRUE(wait_for_readings(want, 30'000, "device"))
      << device_readings(*brokers_.ack, "device") << " of " << want;
  expect_equal_to_truth(truth, *brokers_.ack, "device");
  EXPECT_EQ(device_readings(*brokers_.ack, "device"), want);
  const auto site_truth = load_truth(dir_ + "/sim.rec", dir_, "site");
  ASSERT_LT(after_reload_ms, start + 28'000) << "the reload came too late to check the new rule";
  expect_equal_to_truth(site_truth, *brokers_.ack, "site", after_reload_ms);
  EXPECT_GT(device_readings(*brokers_.ack, "site"), 0u);
  EXPECT_LT(device_readings(*brokers_.ack, "site"),
            want);  // the new rule saw nothing before the reload

  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
  const std::vector<std::string> messages = notify.collected();
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages.front().rfind("READY=1", 0), 0u) << messages.front();
  EXPECT_EQ(messages.back(), "STOPPING=1");
  int reloading = 0, watchdog = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0) {
      ++reloading;  // READY comes next: the new rules are in effect (or were refused)
      ASSERT_LT(i + 1, messages.size());
      EXPECT_EQ(messages[i + 1].rfind("READY=1", 0), 0u) << messages[i + 1];
    }
    if (messages[i] == "WATCHDOG=1") ++watchdog;
  }
  EXPECT_EQ(reloading, 2);  // both SIGHUPs, the refused one too (READY follows each)
  EXPECT_GE(watchdog, 10);  // every 200 ms for ~8 s
}

// A UDP input, nanopb datagrams as the firmware sends them: the windows equal the truth and
// every datagram is accounted for (none dropped in the kernel, the ring or the parser).
// UDP has no backpressure: what the socket's receive buffer cannot hold while the agent's
// receive thread is off the CPU is dropped (counted, by design). So the sim's whole send (about
// 0.2 MB in 4 s) fits in the buffer asked for here, and no scheduling of the two processes can
// make the kernel drop a datagram.
TEST_F(AgentDaemonTest, UdpDatagramsEqualSimTruth) {
  const int udp_port = free_port();
  start_agent(write_config_with_input("[[input]]\nname = \"local\"\ntype = \"udp\"\nbind = "
                                      "\"127.0.0.1:" +
                                      std::to_string(udp_port) + "\"\nreceive_buffer = \"4MiB\"\n"),
              false);
  ASSERT_EQ(run_program({ES_SIM_BINARY, "--devices", "10", "--duration", "20s", "--speed", "5",
                         "--start-ms", std::to_string(sim_start()), "--format", "nanopb", "--udp",
                         "127.0.0.1:" + std::to_string(udp_port), "--record", dir_ + "/sim.rec",
                         "--seed", "7", "--quiet"},
                        dir_ + "/sim.log"),
            0)
      << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  ASSERT_GT(want, 10'000u);
  EXPECT_TRUE(wait_for_readings(want, 30'000))
      << device_readings(*brokers_.ack) << " of " << want << "\n"
      << http_get(metrics_port_, "/metrics").body;
  expect_equal_to_truth(truth, *brokers_.ack);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  const std::string m = http_get(metrics_port_, "/metrics").body;
  EXPECT_GT(test_support::metric_sum(m, "edgesketch_agent_input_messages_total{input=\"local\"}"),
            0)
      << m;
  EXPECT_EQ(
      test_support::metric_sum(m, "edgesketch_agent_input_messages_total{input=\"local\"}"),
      test_support::metric_sum(m, "edgesketch_agent_payloads_accepted_total{input=\"local\"}"))
      << m;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_udp_socket_drops_total"), 0) << m;
  EXPECT_GT(test_support::metric_sum(m, "edgesketch_agent_udp_receive_buffer_bytes"), 0) << m;
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

// Replay parses a payload record with the time it was received: a line-protocol reading
// without a timestamp of its own lands in the window it first went to, not in the window of the
// restart (where it would count twice next to an already committed copy). Records keep the
// input's name and the topic, so replay applies that input's topic template. Journals written
// by earlier versions (records with the topic's device id, or without the receive time) still
// replay.
TEST_F(AgentDaemonTest, ReplayUsesTheReceiveTimeAndReadsEarlierJournals) {
  const std::int64_t received_ms = (now_ms() - 20'000) / 2'000 * 2'000 + 500;
  const std::int64_t stamped_ms = (now_ms() - 10'000) / 2'000 * 2'000 + 700;
  {
    agent::JournalOptions jo;
    jo.dir = dir_ + "/data/journal";
    std::filesystem::create_directories(dir_ + "/data");
    auto journal = agent::Journal::open(jo);
    ASSERT_TRUE(journal.ok()) << journal.status().to_string();
    auto record = [](const std::string& device, const std::string& payload) {
      Bytes b;
      b.push_back(static_cast<std::uint8_t>(device.size()));
      for (char c : device + payload) b.push_back(static_cast<std::uint8_t>(c));
      return b;
    };
    // An earlier version's record: type = the format (2, line protocol), no receive time.
    const Bytes old = record("dev-old", "temp value=1.5 " + std::to_string(stamped_ms) + "000000");
    ASSERT_TRUE((*journal)->append(ByteSpan(old), 2).ok());
    // The next version's: type 0x20 | format, the receive time first; the line has no timestamp.
    Bytes timed(8);
    for (int i = 0; i < 8; ++i) {
      timed[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(received_ms) >> (8 * i));
    }
    for (std::uint8_t c : record("dev-timed", "temp value=2.5")) timed.push_back(c);
    ASSERT_TRUE((*journal)->append(ByteSpan(timed), 0x20 | 2).ok());
    // A record replay cannot parse: counted, not fatal.
    Bytes bad(timed.begin(), timed.begin() + 8);
    for (std::uint8_t c : record("dev-bad", "temp value=")) bad.push_back(c);
    ASSERT_TRUE((*journal)->append(ByteSpan(bad), 0x20 | 2).ok());
    // This version's: type 0x60 | format, the receive time, the input's name and the topic
    // (u16 length); the input's topic template names the device and a tag.
    Bytes topical(timed.begin(), timed.begin() + 8);
    const std::string input = "local", topic = "plant/hall-b/dev-topical";
    topical.push_back(static_cast<std::uint8_t>(input.size()));
    topical.insert(topical.end(), input.begin(), input.end());
    topical.push_back(static_cast<std::uint8_t>(topic.size()));
    topical.push_back(0);
    const std::string line = "temp value=3.5";
    topical.insert(topical.end(), topic.begin(), topic.end());
    topical.insert(topical.end(), line.begin(), line.end());
    ASSERT_TRUE((*journal)->append(ByteSpan(topical), 0x60 | 2).ok());
    ASSERT_TRUE((*journal)->sync().ok());
  }
  start_agent(write_config_with_input(
      mqtt_input("line",
                 "topics = [\"devices/+/readings\"]\n"
                 "topic_template = \"plant/{hall}/{device}\"\n"),
      "[[rule]]\nname = \"per-hall\"\ngroup_by = [\"hall\"]\nwindow = \"2s\"\n"));
  EXPECT_TRUE(wait_for_readings(3, 20'000, "device")) << device_readings(*brokers_.ack) << "\n"
                                                      << agent_->log_tail();
  EXPECT_TRUE(wait_for_readings(1, 20'000, "hall"));
  std::map<std::string, std::int64_t> window_of;
  for (const auto& [k, w] : brokers_.ack->windows()) {
    if (!is_self_series(k.series)) window_of[k.series] = k.window_start_ms;
  }
  EXPECT_EQ(window_of["temp{device=dev-timed}"], received_ms - 500) << agent_->log_tail();
  EXPECT_EQ(window_of["temp{device=dev-old}"], stamped_ms - 700) << agent_->log_tail();
  EXPECT_EQ(window_of["temp{device=dev-topical}"], received_ms - 500) << agent_->log_tail();
  EXPECT_EQ(window_of["temp{hall=hall-b}"], received_ms - 500) << agent_->log_tail();
  EXPECT_EQ(device_readings(*brokers_.ack, "device"), 3u);
  EXPECT_EQ(device_readings(*brokers_.ack, "hall"),
            1u);  // the template's tag, from the journaled topic
  const std::string m = http_get(metrics_port_, "/metrics").body;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_journal_replayed_total"), 3) << m;
  EXPECT_EQ(test_support::metric_sum(m, "edgesketch_agent_journal_replay_unparsable_total"), 1)
      << m;
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

TEST_F(AgentDaemonTest, MalformedPayloadsAreCountedAndValidOnesAllArrive) {
  start_agent(write_config("json"));
  ASSERT_EQ(run_program(sim_args("json", 20, "30s", 0, sim_start(), 0.1), dir_ + "/sim.log"), 0)
      << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  EXPECT_TRUE(wait_for_readings(want, 30'000)) << device_readings(*brokers_.ack) << " of " << want;
  expect_equal_to_truth(truth, *brokers_.ack);
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  HttpReply m = http_get(metrics_port_, "/metrics");
  ASSERT_EQ(m.status, 200);
  const double bad = test_support::metric_sum(m.body, "edgesketch_agent_payloads_bad_total");
  const double good = test_support::metric_sum(m.body, "edgesketch_agent_payloads_accepted_total");
  EXPECT_GT(bad, 0.05 * (bad + good)) << m.body;
  EXPECT_LT(bad, 0.15 * (bad + good)) << m.body;
  EXPECT_EQ(test_support::metric_sum(m.body, "edgesketch_agent_input_readings_total"),
            static_cast<double>(want));
  EXPECT_EQ(test_support::metric_sum(m.body, "edgesketch_agent_readings_accepted_total"),
            static_cast<double>(want));
  EXPECT_TRUE(agent_->running());
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

TEST_F(AgentDaemonTest, CheckConfigVersionAndSigtermFlush) {
  EXPECT_EQ(run_program({ES_AGENT_BINARY, "--check-config", "--config",
                         std::string(ES_SOURCE_DIR) + "/packaging/agent.toml"},
                        dir_ + "/check.log"),
            0)
      << read_file(dir_ + "/check.log");
  {
    std::ofstream f(dir_ + "/bad.toml");
    f << read_file(std::string(ES_SOURCE_DIR) + "/packaging/agent.toml")
      << "\n[extra_section]\nbogus = 1\n";
  }
  EXPECT_NE(run_program({ES_AGENT_BINARY, "--check-config", "--config", dir_ + "/bad.toml"},
                        dir_ + "/bad.log"),
            0);
  EXPECT_NE(read_file(dir_ + "/bad.log").find("extra_section"), std::string::npos)
      << read_file(dir_ + "/bad.log");
  EXPECT_EQ(run_program({ES_AGENT_BINARY, "--version"}, dir_ + "/version.log"), 0);
  EXPECT_NE(read_file(dir_ + "/version.log").find("edgesketch-agent"), std::string::npos);

  // SIGTERM with windows open and the uplink down: they are flushed into the outbox.
  ASSERT_TRUE(brokers_.uplink->stop().ok());
  std::string config = write_config("nanopb");
  {  // long idle timeout: only the SIGTERM flush closes the last windows
    std::string text = read_file(config);
    text.replace(text.find("idle_timeout = \"1s\""), 19, "idle_timeout = \"10m\"");
    std::ofstream(config) << text;
  }
  start_agent(config);
  ASSERT_EQ(run_program(sim_args("nanopb", 5, "10s", 0, sim_start()), dir_ + "/sim.log"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  HttpReply m = http_get(metrics_port_, "/metrics");
  const double open_windows = test_support::metric_sum(m.body, "edgesketch_agent_open_windows");
  EXPECT_GT(open_windows, 0) << m.body;
  const auto t0 = Clock::now();
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0) << agent_->log_tail();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  // Restarted with the uplink back, the agent ships everything: nothing was left unflushed.
  ASSERT_TRUE(brokers_.uplink->start().ok());
  start_agent(config);
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  EXPECT_TRUE(wait_for_readings(want, 20'000)) << device_readings(*brokers_.ack) << " of " << want;
  expect_equal_to_truth(truth, *brokers_.ack);
  HttpReply m2 = http_get(metrics_port_, "/metrics");
  EXPECT_EQ(test_support::metric_sum(m2.body, "edgesketch_agent_journal_replayed_total"), 0)
      << m2.body;
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
}

// The self series shipped by an agent whose uplink is down while it works: they arrive after
// the outage (store-and-forward of the health data itself), named edgesketch_agent_<name> with
// exactly the tag gateway=<gateway_id>; their counter increases add up to the agent's own
// counters, their outbox gauge matches what /metrics showed during the outage; a user rule with
// match = "*" counts device readings only.
TEST_F(AgentDaemonTest, SelfSeriesCarryTheAgentsHealthThroughAnOutage) {
  ASSERT_TRUE(brokers_.uplink->stop().ok());
  const std::int64_t outage_start_ms = now_ms();
  start_agent(write_config("json",
                           "[[rule]]\nname = \"everything\"\nmatch = \"*\"\n"
                           "window = \"2s\"\n"));
  ASSERT_EQ(run_program(sim_args("json", 10, "10s", 0, sim_start(), 0.1), dir_ + "/sim.log"), 0)
      << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  ASSERT_GT(want, 1'000u);
  // Every reading taken and every device window closed into the outbox.
  std::string body;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    body = http_get(metrics_port_, "/metrics").body;
    if (test_support::metric_sum(body, "edgesketch_agent_readings_accepted_total") ==
            static_cast<double>(want) &&
        test_support::metric_sum(body, "edgesketch_agent_open_windows") == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(test_support::metric_sum(body, "edgesketch_agent_readings_accepted_total"),
            static_cast<double>(want))
      << body;
  // The outbox gauge before and after a few samples (each also appends a self batch).
  const double rows_before = test_support::metric_sum(body, "edgesketch_agent_outbox_rows");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const double rows_after = test_support::metric_sum(http_get(metrics_port_, "/metrics").body,
                                                     "edgesketch_agent_outbox_rows");
  EXPECT_GT(rows_before, 0);
  EXPECT_GT(rows_after, rows_before);
  const std::int64_t outage_end_ms = now_ms();
  ASSERT_TRUE(brokers_.uplink->start().ok());
  EXPECT_TRUE(wait_for_readings(want, 30'000)) << device_readings(*brokers_.ack) << " of " << want;
  // Drained; the counters are final (nothing more arrives, no window is open).
  for (int i = 0; i < 100; ++i) {
    body = http_get(metrics_port_, "/metrics").body;
    if (test_support::metric_sum(body, "edgesketch_agent_outbox_rows") <= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // samples of the drained state
  body = http_get(metrics_port_, "/metrics").body;
  const double accepted =
      test_support::metric_sum(body, "edgesketch_agent_readings_accepted_total");
  const double windows_closed =
      test_support::metric_sum(body, "edgesketch_agent_windows_closed_total");
  const double payloads_bad = test_support::metric_sum(body, "edgesketch_agent_payloads_bad_total");
  EXPECT_GT(payloads_bad, 0) << body;
  EXPECT_GT(test_support::metric_sum(body, "edgesketch_agent_self_samples_total"), 5) << body;
  // SIGTERM takes a last sample and ships it, so the increases add up to the totals.
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);
  const std::string selfs = "{gateway=gw-it}";
  std::map<std::string, std::map<std::int64_t, CommittedWindow>> self;  // metric -> start -> w
  std::uint64_t everything = 0, per_device = 0;
  const auto settle = Clock::now() + std::chrono::seconds(5);
  double shipped_accepted = 0;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    self.clear();
    everything = per_device = 0;
    shipped_accepted = 0;
    for (const auto& [k, w] : brokers_.ack->windows()) {
      if (is_self_series(k.series)) {
        ASSERT_GT(k.series.size(), selfs.size());
        ASSERT_EQ(k.series.substr(k.series.size() - selfs.size()), selfs) << k.series;
        EXPECT_EQ(k.window_ms, 1000u) << k.series;
        const std::string name = k.series.substr(0, k.series.size() - selfs.size());
        self[name][k.window_start_ms] = w;
        if (name == "edgesketch_agent_readings_accepted") shipped_accepted += w.agg.sum();
      } else if (k.series.find("{device=") != std::string::npos) {
        per_device += w.agg.count();
      } else {
        ASSERT_EQ(k.series.substr(k.series.size() - 2), "{}") << k.series;
        everything += w.agg.count();
      }
    }
  } while (shipped_accepted != accepted && Clock::now() < settle);

  // The user rule matching "*" saw the device readings only.
  EXPECT_EQ(everything, want);
  EXPECT_EQ(per_device, want);
  std::set<std::string> names;
  for (const auto& [name, windows] : self) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{
                       "edgesketch_agent_open_series", "edgesketch_agent_open_windows",
                       "edgesketch_agent_outbox_bytes", "edgesketch_agent_outbox_dropped_readings",
                       "edgesketch_agent_outbox_oldest_age_seconds", "edgesketch_agent_outbox_rows",
                       "edgesketch_agent_payloads_bad", "edgesketch_agent_readings_accepted",
                       "edgesketch_agent_readings_dropped", "edgesketch_agent_readings_rejected",
                       "edgesketch_agent_unacked_batches", "edgesketch_agent_uplink_state",
                       "edgesketch_agent_windows_closed"}));
  auto sum_of = [&](const std::string& name) {
    double total = 0;
    for (const auto& [start, w] : self[name]) total += w.agg.sum();
    return total;
  };
  EXPECT_EQ(sum_of("edgesketch_agent_readings_accepted"), accepted);
  EXPECT_EQ(accepted, static_cast<double>(want));
  EXPECT_EQ(sum_of("edgesketch_agent_windows_closed"), windows_closed);
  EXPECT_EQ(sum_of("edgesketch_agent_payloads_bad"), payloads_bad);
  EXPECT_EQ(sum_of("edgesketch_agent_readings_dropped"), 0);

  // Samples taken during the outage arrived after it: one window per second of it (give or take
  // the agent's start), and one of them saw the outbox between the two gauge readings above.
  const auto& rows = self["edgesketch_agent_outbox_rows"];
  std::size_t in_outage = 0;
  bool between = false;
  for (const auto& [start, w] : rows) {
    if (start < outage_start_ms || start >= outage_end_ms) continue;
    ++in_outage;
    between |= w.agg.max() >= rows_before && w.agg.max() <= rows_after;
    EXPECT_EQ(self["edgesketch_agent_uplink_state"][start].agg.max(), 0) << start;
  }
  EXPECT_GE(in_outage, static_cast<std::size_t>((outage_end_ms - outage_start_ms) / 1000 - 3));
  EXPECT_TRUE(between) << rows_before << " .. " << rows_after;
  double oldest_age = 0;
  for (const auto& [start, w] : self["edgesketch_agent_outbox_oldest_age_seconds"]) {
    oldest_age = std::max(oldest_age, w.agg.max());
  }
  EXPECT_GE(oldest_age, 2.0);
  EXPECT_LE(oldest_age, (now_ms() - outage_start_ms) / 1000.0);
  // After the outage the backlog drained: the last samples see an (almost) empty outbox and an
  // MQTT uplink.
  ASSERT_FALSE(rows.empty());
  EXPECT_LE(rows.rbegin()->second.agg.max(), 2);
  EXPECT_EQ(self["edgesketch_agent_uplink_state"].rbegin()->second.agg.max(), 1);
}

TEST_F(AgentDaemonTest, SelfMetricsOffShipsNoSelfSeriesAndBadKeysAreNamed) {
  start_agent(write_config("nanopb", "[self_metrics]\nenabled = false\n"));
  ASSERT_EQ(run_program(sim_args("nanopb", 5, "10s", 0, sim_start()), dir_ + "/sim.log"), 0)
      << read_file(dir_ + "/sim.log");
  const auto truth = load_truth(dir_ + "/sim.rec", dir_);
  const std::uint64_t want = truth_readings(truth);
  EXPECT_TRUE(wait_for_readings(want, 20'000)) << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  expect_equal_to_truth(truth, *brokers_.ack);
  for (const auto& [k, w] : brokers_.ack->windows())
    EXPECT_FALSE(is_self_series(k.series)) << k.series;
  EXPECT_EQ(brokers_.ack->readings(), want);
  HttpReply m = http_get(metrics_port_, "/metrics");
  EXPECT_EQ(test_support::metric_sum(m.body, "edgesketch_agent_self_samples_total"), 0) << m.body;
  EXPECT_EQ(agent_->stop(SIGTERM, 10'000), 0);

  const std::string bad = write_config("nanopb", "[self_metrics]\nenable = false\n");
  EXPECT_EQ(run_program({ES_AGENT_BINARY, "--check-config", "--config", bad}, dir_ + "/bad.log"),
            2);
  EXPECT_NE(read_file(dir_ + "/bad.log").find("unknown key 'self_metrics.enable'"),
            std::string::npos)
      << read_file(dir_ + "/bad.log");
}

}  // namespace
}  // namespace edgesketch::test_support
