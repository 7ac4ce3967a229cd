// The journal records of the agent (AgentApp, in process), byte for byte: what the MQTT sink
// writes for one payload, and which records of this and earlier versions a start replays. The
// layout must never change under existing journals: a gateway upgraded with unreplayed records
// replays them with the new build.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_app_harness.h"
#include "app/agent_app.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/testbed/temp_dir.h"
#include "journal/journal.h"
#include "support/eventually.h"

namespace edgesketch::agent {
namespace {

using test_support::eventually;
using testbed::MosquittoBroker;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Little-endian u64, the receive time at the head of a timed record.
Bytes le64(std::uint64_t v) {
  Bytes out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
  return out;
}

struct Record {
  std::uint64_t no = 0;
  std::uint8_t type = 0;
  Bytes bytes;
};

class AgentJournalRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = std::make_unique<testbed::TempDir>("es-agent-records");
    ASSERT_FALSE(tmp_->path().empty()) << tmp_->error();
    dir_ = tmp_->path();
  }
  void TearDown() override {
    app_.reset();
    if (HasFailure()) tmp_->keep();
  }

  std::string journal_dir() const { return (dir_ / "data" / "journal").string(); }

  // `input` is an [[input]] block; the uplink goes to `uplink` (it need not answer).
  void create_agent(const std::string& input, const std::string& uplink) {
    const std::string text =
        "[agent]\ngateway_id = \"gw-records\"\ndata_dir = \"" + dir_.string() + "/data\"\n" +
        input + "[[rule]]\nname = \"per-device\"\ngroup_by = [\"device\"]\nwindow = \"1s\"\n" +
        "[uplink]\nbroker = \"" + uplink + "\"\n[metrics]\nlisten = \"\"\n" +
        "[self_metrics]\nenabled = false\n";
    auto app = testing::create_agent_app(text, "records-test", AgentDeps{.clock = &clock_});
    ASSERT_TRUE(app.ok()) << app.status().to_string();
    app_ = std::move(*app);
  }

  double m(const std::string& prefix) const { return testing::metric(*app_, prefix); }

  std::vector<Record> read_journal() const {
    JournalOptions jo;
    jo.dir = journal_dir();
    auto journal = Journal::open(jo);
    EXPECT_TRUE(journal.ok()) << journal.status().to_string();
    std::vector<Record> out;
    if (!journal.ok()) return out;
    auto replayed =
        (*journal)->replay(0, [&](std::uint64_t no, std::uint8_t type, ByteSpan payload) {
          out.push_back(Record{no, type, Bytes(payload.begin(), payload.end())});
        });
    EXPECT_TRUE(replayed.ok()) << replayed.status().to_string();
    return out;
  }

  std::unique_ptr<testbed::TempDir> tmp_;
  std::filesystem::path dir_;
  FakeClock clock_{1'700'000'000'123};  // outlives app_
  std::unique_ptr<AgentApp> app_;
};

// One MQTT payload is one record: type 0x60 | format (line = 2), then the receive time by the
// agent's clock (u64 LE, ms since the epoch), the input's name (u8 length, name), the topic (u16
// LE length, topic), the payload.
TEST_F(AgentJournalRecordsTest, AnMqttPayloadIsOneTopicRecordWithItsInputAndTopic) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  create_agent("[[input]]\nname = \"local\"\ntype = \"mqtt\"\nformat = \"line\"\nbroker = \"" +
                   broker.uri() +
                   "\"\ntopics = [\"devices/+/readings\"]\nqos = 1\n"
                   "client_id = \"records-in\"\n",
               broker.uri());
  ASSERT_TRUE(app_->start().ok());
  ASSERT_TRUE(eventually([&] { return m("edgesketch_agent_input_connected") == 1; }, 10'000));
  const std::string payload = "vibration,site=s1 value=1.5";
  const std::string cmd = "mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) +
                          " -q 1 -i records-pub -t devices/dev-7/readings -m '" + payload + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ASSERT_TRUE(eventually([&] { return m("edgesketch_agent_journal_records_total") >= 1; }, 10'000));
  app_->stop(0);

  const std::vector<Record> records = read_journal();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, 0x62);
  const Bytes golden = concat({
      {0x7b, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00},  // the agent's clock, u64 LE
      {0x05, 'l', 'o', 'c', 'a', 'l'},                   // the input's name
      {0x16, 0x00},                                      // the topic's length, u16 LE
      bytes_of("devices/dev-7/readings"),
  });
  EXPECT_EQ(records[0].bytes, concat({golden, bytes_of(payload)}));
}

// A start replays topic records (0x60 | format) and the timed device records of earlier versions
// (0x20 | format) with their receive time, untimed ones of yet earlier versions (type = format, no
// time: replayed at the current time) and skips other types; records that do not hold what their
// type says are counted as unparsable. The record's format, not the input's, says how it is
// parsed; a topic record of an input no longer configured is parsed with its format's defaults.
TEST_F(AgentJournalRecordsTest, AStartReplaysTheRecordsOfEveryVersion) {
  const std::int64_t now = clock_.now_ms();
  const std::int64_t long_ago = now - 30LL * 24 * 3600 * 1000;  // past the aggregator's bound
  const Bytes device = concat({{0x05}, bytes_of("dev-7")});
  {
    JournalOptions jo;
    jo.dir = journal_dir();
    std::filesystem::create_directories(dir_ / "data");
    auto journal = Journal::open(jo);
    ASSERT_TRUE(journal.ok()) << journal.status().to_string();
    auto append = [&](std::uint8_t type, const Bytes& bytes) {
      ASSERT_TRUE((*journal)->append(ByteSpan(bytes.data(), bytes.size()), type).ok());
    };
    // Untimed (earlier versions): replayed at the current time, accepted.
    append(0x02, concat({device, bytes_of("vibration value=1")}));
    // Timed, received now: accepted.
    append(0x22,
           concat({le64(static_cast<std::uint64_t>(now)), device, bytes_of("vibration value=2")}));
    // Timed, received 30 days ago: its reading is stamped then and rejected as clock_past.
    append(0x22, concat({le64(static_cast<std::uint64_t>(long_ago)), device,
                         bytes_of("vibration value=3")}));
    // A topic record of an input the config no longer has: accepted, its device from the topic.
    append(0x62, concat({le64(static_cast<std::uint64_t>(now)),
                         {0x04},
                         bytes_of("gone"),
                         {0x16, 0x00},
                         bytes_of("devices/dev-8/readings"),
                         bytes_of("vibration value=6")}));
    // Not payload records: an unknown type, a timed type of an unknown format, a topic type of
    // an unknown format.
    append(0x05, concat({device, bytes_of("vibration value=4")}));
    append(0x25,
           concat({le64(static_cast<std::uint64_t>(now)), device, bytes_of("vibration value=5")}));
    append(0x65, concat({le64(static_cast<std::uint64_t>(now)),
                         {0x04},
                         bytes_of("gone"),
                         {0x00, 0x00},
                         bytes_of("vibration value=7")}));
    // Unparsable: a timed record shorter than its time, a device length past the end, a topic
    // length past the end.
    append(0x22, Bytes{1, 2, 3, 4});
    append(0x02, concat({{0x09}, bytes_of("dev")}));
    append(0x62, concat({le64(static_cast<std::uint64_t>(now)),
                         {0x04},
                         bytes_of("gone"),
                         {0x40, 0x00},
                         bytes_of("devices/dev-8")}));
    ASSERT_TRUE((*journal)->sync().ok());
  }
  auto port = testbed::pick_free_loopback_port();
  ASSERT_TRUE(port.ok());
  auto uplink_port = testbed::pick_free_loopback_port();  // nothing listens there
  ASSERT_TRUE(uplink_port.ok());
  create_agent(
      "[[input]]\nname = \"local\"\ntype = \"udp\"\n"
      "bind = \"127.0.0.1:" +
          std::to_string(*port) + "\"\n",
      "tcp://127.0.0.1:" + std::to_string(*uplink_port));
  EXPECT_EQ(m("edgesketch_agent_journal_replayed_total"), 4);
  EXPECT_EQ(m("edgesketch_agent_journal_replay_unparsable_total"), 3);
  ASSERT_TRUE(app_->start().ok());
  app_->stop(0);
  EXPECT_EQ(m("edgesketch_agent_readings_accepted_total"), 3);
  EXPECT_EQ(m("edgesketch_agent_readings_rejected_total{reason=\"clock_past\"}"), 1);
}

}  // namespace
}  // namespace edgesketch::agent
