// Edge processing in edgesketch-agent as a process, with real mosquitto brokers:
//  - edgesketch-sim -> agent with a device registry (unknown devices dropped), a filter and a
//    spikes rule (`where = "value > 1.5"`): every window equals `edgesketch-sim truth` computed
//    the same way (--where, registry and filter applied to the truth), and the stage counters
//    on /metrics add up to the truth's reading counts;
//  - privacy: dropped and hashed tag values appear nowhere outside the journal (outbox rows,
//    uplink payloads, /metrics, the log), across a kill -9 and the replay after it;
//  - the registry reloads on SIGHUP, and a registry that does not load keeps the old one.
#include <gtest/gtest.h>
#include <mqtt/async_client.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/wire/compression.h"
#include "integration/agent_process_fixture.h"
#include "process/tag_hasher.h"
#include "support/ack_double.h"
#include "support/eventually.h"
#include "support/metrics_text.h"

namespace edgesketch::test_support {

using namespace testbed;
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A truth line of the per-device rule.
struct Truth {
  std::string metric;
  std::string device;
  std::int64_t window_start_ms = 0;
  WindowTotals totals;
};

// Per-device truth lines of the record, 2 s windows; `extra` adds flags (--where, --metric).
std::vector<Truth> device_truth(const std::string& dir,
                                const std::vector<std::string>& extra = {}) {
  std::vector<std::string> flags = {"--group-by", "device"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  std::vector<Truth> out;
  for (TruthLine& l : sim_truth(dir + "/sim.rec", flags, dir)) {
    out.push_back(Truth{l.metric, l.group["device"], l.window_start_ms, l.totals});
  }
  return out;
}

// The committed windows of series whose name starts with `prefix` equal `want` exactly (sums to
// 1e-9 relative: a merged truth adds per-device sums in another order).
void expect_windows(const AckDouble& ack, const std::string& prefix,
                    const std::map<SeriesWindow, WindowTotals>& want) {
  expect_windows_equal(
      ack, [&](const WindowKey& k) { return k.series.rfind(prefix, 0) == 0; }, want);
}

std::uint64_t readings_of(const AckDouble& ack, const std::string& prefix) {
  std::uint64_t n = 0;
  for (const auto& [k, w] : ack.windows()) {
    if (k.series.rfind(prefix, 0) == 0) n += w.agg.count();
  }
  return n;
}

class AgentEdgeTest : public AgentProcessTest {
 protected:
  // The agent's config: one MQTT input of `format`, 2 s windows, then `sections` (the rules and
  // the edge-processing sections under test).
  std::string write_config(const std::string& format, const std::string& sections) {
    const std::string path = dir_ + "/agent.toml";
    std::ofstream f(path);
    f << "[agent]\ngateway_id = \"gw-edge\"\ndata_dir = \"" << dir_ << "/data\"\n"
      << "[[input]]\nname = \"local\"\ntype = \"mqtt\"\nformat = \"" << format << "\"\n"
      << "broker = \"" << brokers_.local->uri()
      << "\"\ntopics = [\"devices/+/readings\"]\nqos = 1\n"
      << "[window]\nallowed_lateness = \"500ms\"\nidle_timeout = \"1s\"\n"
      << "[uplink]\nbroker = \"" << brokers_.uplink->uri() << "\"\nresend_timeout = \"3s\"\n"
      << "backoff_min = \"100ms\"\nbackoff_max = \"1s\"\nbacklog_rate_cap = 0\n"
      << "[metrics]\nlisten = \"127.0.0.1:" << metrics_port_ << "\"\n"
      << "[self_metrics]\nenabled = false\n"
      << sections;
    return path;
  }
};

std::string device_name(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "dev-%04d", i);
  return name;
}

// The simulated fleet through a registry that lists 18 of its 20 devices (unknown = "drop"), a
// filter that drops humidity, a spikes rule and a rule grouping by a registry tag. Each rule's
// windows equal the truth computed the same way, and the stage counters add up.
TEST_F(AgentEdgeTest, RegistryFilterAndWhereEqualSimTruth) {
  constexpr int kDevices = 20;
  constexpr int kListed = 18;
  std::ofstream registry(dir_ + "/devices.csv");
  registry << "device,building,floor\r\n";  // CRLF, as spreadsheets write it
  std::map<std::string, std::string> building_of;
  for (int i = 0; i < kListed; ++i) {
    std::string building = "b";  // appended: GCC 12 warns falsely on "b" + std::to_string()
    building += std::to_string(i % 3);
    building_of[device_name(i)] = building;
    registry << device_name(i) << ",b" << i % 3 << ",\"" << i % 2 << "\"\r\n";
  }
  registry.close();
  start_agent(
      write_config("nanopb", "[enrich]\nregistry = \"" + dir_ +
                                 "/devices.csv\"\nunknown = \"drop\"\n"
                                 "[[filter]]\nname = \"no-humidity\"\nmatch = \"humidity\"\n"
                                 "[[rule]]\nname = \"per-device\"\ngroup_by = [\"device\"]\n"
                                 "window = \"2s\"\n"
                                 "[[rule]]\nname = \"spikes\"\nmatch = \"vibration\"\n"
                                 "where = \"value > 1.5\"\ngroup_by = [\"device\"]\n"
                                 "window = \"2s\"\noutput = \"vibration_spikes\"\n"
                                 "[[rule]]\nname = \"by-building\"\nmatch = \"temperature\"\n"
                                 "group_by = [\"building\"]\nwindow = \"2s\"\n"
                                 "output = \"temperature_by_building\"\n"));
  const std::int64_t start = (now_ms() - 60'000) / 2'000 * 2'000;
  ASSERT_EQ(run_program(sim_command("nanopb", kDevices, "30s", 0, start,
                                    {"--seed", "11", "--client-id", "sim-edge"}),
                        dir_ + "/sim.log"),
            0)
      << read_file(dir_ + "/sim.log");

  const std::vector<Truth> all = device_truth(dir_);
  const std::vector<Truth> spikes =
      device_truth(dir_, {"--metric", "vibration", "--where", "value > 1.5"});
  std::map<SeriesWindow, WindowTotals> per_device, spike_windows, by_building;
  std::uint64_t listed = 0, unlisted = 0, humidity = 0, vibration = 0, spike_count = 0;
  for (const Truth& t : all) {
    if (!building_of.count(t.device)) {
      unlisted += t.totals.count;
      continue;
    }
    listed += t.totals.count;
    if (t.metric == "humidity") {
      humidity += t.totals.count;
      continue;
    }
    if (t.metric == "vibration") vibration += t.totals.count;
    per_device[{t.metric + "{device=" + t.device + "}", t.window_start_ms}].add(t.totals);
    if (t.metric == "temperature") {
      by_building[{"temperature_by_building{building=" + building_of[t.device] + "}",
                   t.window_start_ms}]
          .add(t.totals);
    }
  }
  for (const Truth& t : spikes) {
    if (!building_of.count(t.device)) continue;
    spike_count += t.totals.count;
    spike_windows[{"vibration_spikes{device=" + t.device + "}", t.window_start_ms}].add(t.totals);
  }
  ASSERT_GT(unlisted, 0u);
  ASSERT_GT(humidity, 0u);
  ASSERT_GT(spike_count, 100u) << "too few spikes to mean anything";
  ASSERT_LT(spike_count, vibration);
  const std::uint64_t want = listed - humidity;

  EXPECT_TRUE(eventually(
      [&] {
        return readings_of(*brokers_.ack, "vibration_spikes{") >= spike_count &&
               readings_of(*brokers_.ack, "temperature_by_building{") > 0 &&
               readings_of(*brokers_.ack, "temperature{") +
                       readings_of(*brokers_.ack, "pressure{") +
                       readings_of(*brokers_.ack, "vibration{") +
                       readings_of(*brokers_.ack, "event{") >=
                   want;
      },
      30'000, /*poll_ms=*/100))
      << agent_->log_tail();
  // The counters of each stage add up to the truth (published every 500 ms: wait for them).
  std::string m;
  EXPECT_TRUE(eventually(
      [&] {
        m = http_get(metrics_port_, "/metrics").body;
        return metric_sum(m, "edgesketch_agent_enriched_total") == listed &&
               metric_sum(m, "edgesketch_agent_enrich_unknown_total{action=\"drop\"}") ==
                   unlisted &&
               metric_sum(m, "edgesketch_agent_filtered_total{filter=\"no-humidity\"}") ==
                   humidity &&
               metric_sum(m, "edgesketch_agent_rule_where_skipped_total{rule=\"spikes\"}") ==
                   vibration - spike_count;
      },
      10'000, /*poll_ms=*/100))
      << m;
  EXPECT_EQ(metric_sum(m, "edgesketch_agent_enrich_unknown_total{action=\"keep\"}"), 0) << m;
  EXPECT_EQ(metric_sum(m, "edgesketch_agent_enrich_registry_devices"), kListed) << m;
  EXPECT_EQ(metric_sum(m, "edgesketch_agent_processed_readings_total{result=\"passed\"}"), want)
      << m;
  EXPECT_EQ(metric_sum(m, "edgesketch_agent_processed_readings_total{result=\"dropped\"}"),
            unlisted + humidity)
      << m;
  ASSERT_EQ(agent_->stop(SIGTERM, 10'000), 0) << agent_->log_tail();

  for (const std::string metric : {"temperature", "pressure", "vibration", "event"}) {
    std::map<SeriesWindow, WindowTotals> of_metric;
    for (const auto& [k, e] : per_device) {
      if (k.first.rfind(metric + "{", 0) == 0) of_metric[k] = e;
    }
    expect_windows(*brokers_.ack, metric + "{", of_metric);
  }
  EXPECT_EQ(readings_of(*brokers_.ack, "humidity{"), 0u);
  expect_windows(*brokers_.ack, "vibration_spikes{", spike_windows);
  expect_windows(*brokers_.ack, "temperature_by_building{", by_building);
}

// Every MQTT payload on the uplink broker's window topics, as published.
class UplinkRecorder {
 public:
  explicit UplinkRecorder(const std::string& uri)
      : client_(uri, "uplink-recorder-" + std::to_string(::getpid()), nullptr) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard lock(mu_);
      payloads_.push_back(m->get_payload_str());
    });
    client_.connect()->wait();
    client_.subscribe("edgesketch/v1/+/+/windows", 1)->wait();
  }
  ~UplinkRecorder() {
    try {
      client_.disconnect()->wait();
    } catch (...) {
    }
  }
  std::vector<std::string> payloads() const {
    std::lock_guard lock(mu_);
    return payloads_;
  }

 private:
  mqtt::async_client client_;
  mutable std::mutex mu_;
  std::vector<std::string> payloads_;
};

// A window batch payload as the protobuf bytes (zstd frames decompressed), where every string
// of the batch lies verbatim: series tags, top-K keys, names.
std::string batch_bytes(const std::string& payload) {
  Bytes scratch;
  auto plain = wire::uncompressed_payload(
      ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()),
      wire::Limits{}, scratch);
  EXPECT_TRUE(plain.ok()) << plain.status().to_string();
  if (!plain.ok()) return {};
  return std::string(reinterpret_cast<const char*>(plain->data()), plain->size());
}

// Every batch payload in the outbox, decompressed.
std::vector<std::string> outbox_batches(const std::string& path) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT payload FROM batches", -1, &st, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(st, 0));
    out.push_back(
        batch_bytes(std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, 0)))));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// Every file under `dir`, concatenated.
std::string files_under(const std::string& dir) {
  std::string all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) all += read_file(e.path().string());
  }
  return all;
}

// [privacy] with a registry that carries a private column too. The payloads carry a MAC address
// (hashed) and an operator name (dropped); the registry adds an owner (dropped) and a building.
// The rules group, count distinct and rank by the hashed tag, so hashed values are everywhere a
// raw one could leak to. The agent is killed with -9 midway: the readings of the first half are
// replayed from the journal, which holds them raw, and must be processed the same way.
// Acks are withheld so every batch stays in the outbox for inspection.
TEST_F(AgentEdgeTest, DroppedAndHashedValuesNeverLeaveTheGateway) {
  const std::string key_path = dir_ + "/hash.key";
  std::ofstream(key_path) << "edge-test-key-0123456789abcdef\n";
  ASSERT_EQ(::chmod(key_path.c_str(), 0600), 0);
  std::ofstream(dir_ + "/devices.csv") << "device,building,owner\n"
                                          "d-0,b-north,owner-secret-0\n"
                                          "d-1,b-south,owner-secret-1\n";
  const std::string config = write_config(
      "line", "[enrich]\nregistry = \"" + dir_ + "/devices.csv\"\n" +
                  "[privacy]\ndrop_tags = [\"operator\", \"owner\"]\nhash_tags = [\"mac\"]\n"
                  "hash_key_file = \"" +
                  key_path +
                  "\"\n"
                  "[[filter]]\nname = \"no-debug\"\nmatch = \"debug_*\"\n"
                  "[[rule]]\nname = \"per-device\"\ngroup_by = [\"device\", \"mac\", "
                  "\"building\"]\nwindow = \"2s\"\ndistinct = \"mac\"\ntopk = \"mac\"\n"
                  "[[rule]]\nname = \"by-building\"\ngroup_by = [\"building\"]\nwindow = \"2s\"\n"
                  "output = \"temp_by_building\"\ndistinct = \"mac\"\ntopk = \"mac\"\n"
                  "[[rule]]\nname = \"hot\"\nwhere = 'value > 40 and mac != \"\"'\n"
                  "group_by = [\"mac\"]\nwindow = \"2s\"\noutput = \"hot_by_mac\"\n");
  brokers_.ack->set_drop_acks(true);
  UplinkRecorder uplink(brokers_.uplink->uri());
  start_agent(config);

  const std::vector<std::string> macs = {"aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"};
  const std::vector<std::string> secrets = {
      macs[0], macs[1], "operator-secret", "owner-secret-0", "owner-secret-1", "aa:bb:cc:00:00:09"};
  mqtt::async_client pub(brokers_.local->uri(), "privacy-pub-" + std::to_string(::getpid()),
                         nullptr);
  pub.connect()->wait();
  const std::int64_t t0 = (now_ms() - 30'000) / 2'000 * 2'000;
  int published = 0;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i, ++published) {
      const int d = published % 2;
      const std::string line =
          "temp,mac=" + macs[d] + ",operator=operator-secret-" + std::to_string(d) +
          " value=" + std::to_string(published) + " " + std::to_string(t0 + published * 100) +
          "\ndebug_loop,mac=" + macs[d] + " value=1 " + std::to_string(t0 + published * 100);
      pub.publish(
             mqtt::make_message("devices/d-" + std::to_string(d) + "/readings", line, 1, false))
          ->wait();
    }
  };
  publish(100);
  // A bad payload carrying secrets: refused, counted, and logged without them.
  pub.publish(mqtt::make_message("devices/d-0/readings",
                                 "temp,mac=aa:bb:cc:00:00:09,operator=operator-secret-9 value=x", 1,
                                 false))
      ->wait();
  ASSERT_TRUE(eventually([&] { return metric("edgesketch_agent_payloads_accepted_total") >= 100; },
                         10'000, /*poll_ms=*/100))
      << agent_->log_tail();
  ASSERT_TRUE(eventually([&] { return metric("edgesketch_agent_payloads_bad_total") >= 1; }, 10'000,
                         /*poll_ms=*/100));
  std::string metrics_text = http_get(metrics_port_, "/metrics").body;
  (void)agent_->stop(SIGKILL, 5'000);
  start_agent(config);
  publish(100);
  // 200 temp readings per rule; the windows close 2.5 s past their end at the latest.
  EXPECT_TRUE(eventually([&] { return readings_of(*brokers_.ack, "temp{") >= 200; }, 30'000,
                         /*poll_ms=*/100))
      << readings_of(*brokers_.ack, "temp{") << "\n"
      << agent_->log_tail();
  ASSERT_TRUE(eventually(
      [&] {
        return metric("edgesketch_agent_filtered_total{filter=\"no-debug\"}") >= 100 &&
               metric("edgesketch_agent_privacy_hashed_tags_total") >= 200;
      },
      10'000, /*poll_ms=*/100));
  metrics_text += http_get(metrics_port_, "/metrics").body;
  ASSERT_EQ(agent_->stop(SIGTERM, 10'000), 0) << agent_->log_tail();
  pub.disconnect()->wait();

  // Every reading counted once, under hashed keys and enriched with the building only.
  auto hasher = agent::TagHasher::create("edge-test-key-0123456789abcdef");
  ASSERT_TRUE(hasher.ok());
  const std::string h0 = hasher->hash(macs[0]), h1 = hasher->hash(macs[1]);
  EXPECT_EQ(readings_of(*brokers_.ack, "temp{building=b-north,device=d-0,mac=" + h0 + "}"), 100u);
  EXPECT_EQ(readings_of(*brokers_.ack, "temp{building=b-south,device=d-1,mac=" + h1 + "}"), 100u);
  EXPECT_EQ(readings_of(*brokers_.ack, "temp{"), 200u);
  EXPECT_EQ(readings_of(*brokers_.ack, "temp_by_building{building=b-north}"), 100u);
  EXPECT_EQ(readings_of(*brokers_.ack, "debug_loop"), 0u);
  // Values 41..199 are hot: d-0's even ones 42..198 (79), d-1's odd ones 41..199 (80).
  EXPECT_EQ(readings_of(*brokers_.ack, "hot_by_mac{mac=" + h0 + "}"), 79u);
  EXPECT_EQ(readings_of(*brokers_.ack, "hot_by_mac{mac=" + h1 + "}"), 80u);
  for (const auto& [k, w] : brokers_.ack->windows()) {
    EXPECT_EQ(k.series.find("operator"), std::string::npos) << k.series;
    EXPECT_EQ(k.series.find("owner"), std::string::npos) << k.series;
  }

  // Nothing raw in the outbox, on the uplink, on /metrics or in the log; the hashed values are
  // there (so the searches look where the values would be).
  const std::vector<std::string> rows = outbox_batches(dir_ + "/data/outbox.db");
  ASSERT_FALSE(rows.empty());
  std::string outbox;
  for (const std::string& r : rows) outbox += r;
  std::string sent;
  for (const std::string& p : uplink.payloads()) sent += batch_bytes(p);
  ASSERT_FALSE(sent.empty());
  const std::string log = read_file(dir_ + "/agent.log");
  for (const std::string& secret : secrets) {
    EXPECT_EQ(outbox.find(secret), std::string::npos) << secret << " in the outbox";
    EXPECT_EQ(sent.find(secret), std::string::npos) << secret << " on the uplink";
    EXPECT_EQ(metrics_text.find(secret), std::string::npos) << secret << " on /metrics";
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log";
  }
  for (const std::string& h : {h0, h1}) {
    EXPECT_NE(outbox.find(h), std::string::npos);
    EXPECT_NE(sent.find(h), std::string::npos);
  }
  // Logged without topic or detail: the line skipped, or the payload refused (one rate-limited
  // log line for both per 5 s, whichever comes first).
  EXPECT_NE(log.find("(topic and details withheld: [privacy])"), std::string::npos) << log;
  // The journal keeps the raw payloads for crash replay, as docs/agent.md says.
  EXPECT_NE(files_under(dir_ + "/data/journal").find(macs[0]), std::string::npos);
}

// SIGHUP re-reads the registry: a device added to it is enriched from then on; a registry that
// does not load is refused with its line, and the one in use stays.
TEST_F(AgentEdgeTest, RegistryReloadsOnSighup) {
  const std::string registry = dir_ + "/devices.csv";
  std::ofstream(registry) << "device,building\nd-0,b0\n";
  const std::string config = write_config(
      "line", "[enrich]\nregistry = \"" + registry +
                  "\"\nunknown = \"drop\"\n"
                  "[[rule]]\nname = \"by-building\"\ngroup_by = [\"building\"]\nwindow = \"2s\"\n");
  start_agent(config);
  mqtt::async_client pub(brokers_.local->uri(), "reload-pub-" + std::to_string(::getpid()),
                         nullptr);
  pub.connect()->wait();
  const std::int64_t t0 = (now_ms() - 30'000) / 2'000 * 2'000;
  int n = 0;
  auto send = [&](const std::string& device) {
    pub.publish(mqtt::make_message("devices/" + device + "/readings",
                                   "temp value=1 " + std::to_string(t0 + 100 * n++), 1, false))
        ->wait();
  };
  send("d-0");
  send("d-1");  // unknown: dropped
  ASSERT_TRUE(eventually(
      [&] { return metric("edgesketch_agent_enrich_unknown_total{action=\"drop\"}") == 1; }, 10'000,
      /*poll_ms=*/100));
  EXPECT_EQ(metric("edgesketch_agent_enrich_registry_devices"), 1);

  std::ofstream(registry) << "device,building\nd-0,b0\nd-1,b1\n";
  ASSERT_EQ(::kill(agent_->pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually(
      [&] {
        return metric("edgesketch_agent_config_reloads_total{result=\"applied\"}") == 1 &&
               metric("edgesketch_agent_enrich_registry_devices") == 2;
      },
      10'000, /*poll_ms=*/100))
      << agent_->log_tail();
  send("d-1");  // listed now

  std::ofstream(registry) << "device,building\nd-0,b0\nd-1,\"b1\n";
  ASSERT_EQ(::kill(agent_->pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually(
      [&] { return metric("edgesketch_agent_config_reloads_total{result=\"rejected\"}") == 1; },
      10'000, /*poll_ms=*/100))
      << agent_->log_tail();
  send("d-1");  // the registry in use still lists it
  ASSERT_TRUE(eventually([&] { return metric("edgesketch_agent_enriched_total") == 3; }, 10'000,
                         /*poll_ms=*/100))
      << agent_->log_tail();
  EXPECT_EQ(metric("edgesketch_agent_enrich_registry_devices"), 2);
  EXPECT_EQ(metric("edgesketch_agent_enrich_unknown_total{action=\"drop\"}"), 1);
  ASSERT_EQ(agent_->stop(SIGTERM, 10'000), 0);
  pub.disconnect()->wait();
  EXPECT_EQ(readings_of(*brokers_.ack, "temp{building=b0}"), 1u);
  EXPECT_EQ(readings_of(*brokers_.ack, "temp{building=b1}"), 2u);
  const std::string log = read_file(dir_ + "/agent.log");
  EXPECT_NE(log.find("SIGHUP: " + config +
                     " not reloaded, keeping the old rules, registry and filters: [enrich] "
                     "registry: " +
                     registry + ":3: the quoted field starting at column 5 is not closed"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace edgesketch::test_support
