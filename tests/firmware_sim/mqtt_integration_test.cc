// edgesketch-sim against a real mosquitto: a subscriber receives exactly what the record file
// says, in each payload format. Also exercises the broker fixture (tests/support).
#include <gtest/gtest.h>

#include <sys/types.h>

#include <csignal>

#include "child_process.h"
#include "decoded_message.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "mqtt_subscriber.h"
#include "sim_fixtures.h"

namespace edgesketch::sim {
namespace {

using test::DecodedMessage;
using testbed::MosquittoBroker;
using testbed::MosquittoOptions;

MosquittoOptions roomy_broker() {
  MosquittoOptions o;
  // A QoS 1 subscriber must not lose messages while it catches up.
  o.extra_config = "max_queued_messages 1000000\nmax_inflight_messages 0\n";
  return o;
}

std::vector<std::string> base_args(const std::string& broker_uri, const std::string& record) {
  return {"--devices", "15",      "--sites", "3",       "--lines",  "2",          "--duration",
          "20s",       "--speed", "0",       "--batch", "40",       "--start-ms", "1700000000000",
          "--seed",    "11",      "--qos",   "1",       "--broker", broker_uri,   "--record",
          record,      "--quiet"};
}

// Runs the simulator and checks that what arrived equals the record, message by message.
void run_and_compare(PayloadFormat format, std::vector<std::string> extra_args) {
  MosquittoBroker broker(roomy_broker());
  ASSERT_TRUE(broker.start().ok());
  auto sub = test::MqttSubscriber::connect(broker.uri(), "devices/+/readings", 1);
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  const std::string record =
      test::temp_path(std::string("mqtt-") + std::string(payload_format_name(format)) + ".rec");
  std::vector<std::string> args = base_args(broker.uri(), record);
  args.push_back("--format");
  args.push_back(std::string(payload_format_name(format)));
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  test::ChildResult child = test::run_child(ES_SIM_BINARY, args, 30'000);
  ASSERT_EQ(child.exit_code, 0) << child.stderr_text;

  const bool with_seq = format != PayloadFormat::kLine;
  auto recorded = test::read_record_messages(record, with_seq);
  ASSERT_TRUE(recorded.ok()) << recorded.status().to_string();
  ASSERT_GT(recorded->size(), 100u);
  (*sub)->wait_for(recorded->size(), 20'000);
  std::vector<test::ReceivedPayload> got = (*sub)->take();
  std::vector<DecodedMessage> received;
  for (const auto& p : got) {
    auto d = test::decode_payload(format, p.payload);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(p.topic, "devices/" + d->device_id + "/readings");
    if (!with_seq) d->batch_seq.reset();
    received.push_back(std::move(d).value());
  }
  ASSERT_EQ(received.size(), recorded->size());
  for (std::size_t i = 0; i < received.size(); ++i) {
    ASSERT_EQ(received[i], (*recorded)[i])
        << "message " << i << ": received " << test::describe(received[i]) << ", recorded "
        << test::describe((*recorded)[i]);
  }
}

TEST(MqttIntegrationTest, SubscriberReceivesTheRecordNanopb) {
  run_and_compare(PayloadFormat::kNanopb, {});
}

TEST(MqttIntegrationTest, SubscriberReceivesTheRecordJson) {
  run_and_compare(PayloadFormat::kJson, {});
}

TEST(MqttIntegrationTest, SubscriberReceivesTheRecordLineProtocol) {
  run_and_compare(PayloadFormat::kLine, {});
}

TEST(MqttIntegrationTest, SubscriberReceivesTheRecordUnderFaults) {
  run_and_compare(PayloadFormat::kNanopb,
                  {"--dup-ratio", "0.1", "--late-ratio", "0.05", "--late", "3s", "--skew-ratio",
                   "0.5", "--skew", "2s", "--offline-ratio", "0.02", "--offline", "2s"});
}

TEST(MqttIntegrationTest, UnreachableBrokerIsARuntimeError) {
  auto port = testbed::pick_free_loopback_port();
  ASSERT_TRUE(port.ok());
  test::ChildResult child =
      test::run_child(ES_SIM_BINARY,
                      {"--devices", "2", "--duration", "1s", "--speed", "0", "--broker",
                       "tcp://127.0.0.1:" + std::to_string(*port), "--quiet"},
                      20'000);
  EXPECT_EQ(child.exit_code, 1) << child.stderr_text;
  EXPECT_NE(child.stderr_text.find("cannot connect"), std::string::npos) << child.stderr_text;
}

TEST(MqttIntegrationTest, BadFlagsExitWithTwo) {
  test::ChildResult child = test::run_child(ES_SIM_BINARY, {"--devices", "-3", "--dry-run"}, 5000);
  EXPECT_EQ(child.exit_code, 2);
  EXPECT_NE(child.stderr_text.find("--help"), std::string::npos);
}

TEST(MosquittoBrokerTest, StopAndStartKeepThePort) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  const int port = broker.port();
  const pid_t first = broker.pid();
  EXPECT_GT(port, 0);
  EXPECT_EQ(broker.uri(), "tcp://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(broker.stop().ok());
  EXPECT_FALSE(broker.running());
  EXPECT_NE(::kill(first, 0), 0);  // the process is gone (and reaped)
  ASSERT_TRUE(broker.start().ok());
  EXPECT_EQ(broker.port(), port);
  auto sub = test::MqttSubscriber::connect(broker.uri(), "x/#", 1);
  EXPECT_TRUE(sub.ok());
  sub->reset();
  ASSERT_TRUE(broker.kill().ok());
  EXPECT_FALSE(broker.running());
}

TEST(MosquittoBrokerTest, SecondBrokerGetsAnotherPort) {
  MosquittoBroker a, b;
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  EXPECT_NE(a.port(), b.port());
}

}  // namespace
}  // namespace edgesketch::sim
