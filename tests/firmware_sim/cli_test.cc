// edgesketch-sim's command line: durations, loopback checks, usage errors exit with 2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli.h"

namespace edgesketch::sim {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'123;

CliOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "edgesketch-sim");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), kNow, 4242);
}

TEST(CliTest, Durations) {
  EXPECT_EQ(*parse_duration_ms("10s"), 10'000);
  EXPECT_EQ(*parse_duration_ms("250ms"), 250);
  EXPECT_EQ(*parse_duration_ms("1.5s"), 1'500);
  EXPECT_EQ(*parse_duration_ms("2m"), 120'000);
  EXPECT_EQ(*parse_duration_ms("1h"), 3'600'000);
  EXPECT_EQ(*parse_duration_ms("3600"), 3'600'000);
  EXPECT_FALSE(parse_duration_ms("").ok());
  EXPECT_FALSE(parse_duration_ms("10 s").ok());
  EXPECT_FALSE(parse_duration_ms("-1s").ok());
  EXPECT_FALSE(parse_duration_ms("1d").ok());
  EXPECT_FALSE(parse_duration_ms("s").ok());
}

TEST(CliTest, Loopback) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("example.com"));
}

TEST(CliTest, StandardFleetRun) {
  CliOutcome o = parse({"--fleet", "standard", "--broker", "tcp://127.0.0.1:1883", "--seed", "9",
                        "--duration", "1h", "--speed", "0", "--qos", "1"});
  ASSERT_TRUE(o.command.has_value());
  const auto& c = std::get<SimCommand>(*o.command);
  EXPECT_EQ(c.fleet.devices, 1000u);
  EXPECT_EQ(c.fleet.rate_hz[ES_METRIC_VIBRATION], 100.0);
  EXPECT_EQ(c.fleet.seed, 9u);
  EXPECT_EQ(c.fleet.duration_ms, 3'600'000);
  EXPECT_EQ(c.fleet.start_ms, 1'700'000'000'000);  // now, floored to the second
  EXPECT_EQ(c.run.speed, 0.0);
  EXPECT_EQ(c.output, OutputKind::kMqtt);
  EXPECT_EQ(c.mqtt.qos, 1);
  EXPECT_EQ(c.mqtt.client_id, "edgesketch-sim-4242");
}

TEST(CliTest, CustomFleetWithRatesAndFaults) {
  CliOutcome o = parse({"--devices", "50", "--rate", "vibration=1", "--rate", "event=0", "--udp",
                        "127.0.0.1:9000", "--format", "line", "--start-ms", "5", "--dup-ratio",
                        "0.1", "--late-ratio", "0.01", "--late", "30s"});
  ASSERT_TRUE(o.command.has_value());
  const auto& c = std::get<SimCommand>(*o.command);
  EXPECT_EQ(c.fleet.devices, 50u);
  EXPECT_EQ(c.fleet.rate_hz[ES_METRIC_VIBRATION], 1.0);
  EXPECT_EQ(c.fleet.rate_hz[ES_METRIC_EVENT], 0.0);
  EXPECT_EQ(c.fleet.start_ms, 5);
  EXPECT_EQ(c.output, OutputKind::kUdp);
  EXPECT_EQ(c.udp_port, 9000);
  EXPECT_EQ(c.run.format, PayloadFormat::kLine);
  EXPECT_EQ(c.faults.duplicate_ratio, 0.1);
  EXPECT_EQ(c.faults.late_ms, 30'000);
}

TEST(CliTest, EveryFormatTheAgentReads) {
  for (const auto& [name, want] :
       std::vector<std::pair<std::string, SimFormat>>{{"line-fields", {PayloadFormat::kLine, true}},
                                                      {"json-fields", {PayloadFormat::kJsonFields}},
                                                      {"value", {PayloadFormat::kValue}}}) {
    CliOutcome o = parse({"--dry-run", "--format", name});
    ASSERT_TRUE(o.command.has_value()) << name;
    EXPECT_EQ(std::get<SimCommand>(*o.command).run.format, want) << name;
  }
  CliOutcome o = parse({"--dry-run", "--format", "line-fields", "--message-lines", "250"});
  ASSERT_TRUE(o.command.has_value());
  EXPECT_EQ(std::get<SimCommand>(*o.command).run.message_lines, 250u);
}

TEST(CliTest, Truth) {
  CliOutcome o =
      parse({"truth", "--record", "r.rec", "--window", "10s", "--group-by", "site,line", "--metric",
             "vibration", "--distinct", "device", "--topk", "label", "--k", "5", "--dedupe"});
  ASSERT_TRUE(o.command.has_value());
  const auto& t = std::get<TruthCommand>(*o.command);
  EXPECT_EQ(t.options.record_path, "r.rec");
  EXPECT_EQ(t.options.group_by, (std::vector<std::string>{"site", "line"}));
  EXPECT_EQ(t.options.metrics, (std::vector<std::string>{"vibration"}));
  EXPECT_EQ(t.options.distinct_of, (std::vector<std::string>{"device"}));
  EXPECT_EQ(t.options.topk_of, "label");
  EXPECT_EQ(t.options.k, 5u);
  EXPECT_TRUE(t.options.dedupe);
}

TEST(CliTest, UsageErrorsExitWithTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"--dry-run", "--devices", "0"},
      {"--dry-run", "--devices", "lots"},
      {"--dry-run", "--fleet", "huge"},
      {"--dry-run", "--fleet", "standard", "--devices", "3"},
      {"--devices", "3"},                      // no destination
      {"--dry-run", "--udp", "127.0.0.1:9"},   // two destinations
      {"--broker", "tcp://192.168.1.1:1883"},  // off loopback
      {"--broker", "mqtt://127.0.0.1:1883"},
      {"--udp", "127.0.0.1"},
      {"--udp", "127.0.0.1:70000"},
      {"--dry-run", "--rate", "voltage=3"},
      {"--dry-run", "--rate", "vibration=fast"},
      {"--dry-run", "--rate", "vibration=5000"},
      {"--dry-run", "--batch", "300"},
      {"--dry-run", "--format", "xml"},
      {"--dry-run", "--format", "json_fields"},  // the agent's spelling, not the simulator's
      {"--dry-run", "--format", "line", "--message-lines", "10"},
      {"--dry-run", "--format", "line-fields", "--message-lines", "0"},
      {"--dry-run", "--duration", "forever"},
      {"--dry-run", "--dup-ratio", "1.5"},
      {"--dry-run", "--speed", "-1"},
      {"--dry-run", "--bogus"},
      {"--broker", "tcp://127.0.0.1:1883", "--qos", "2"},
      {"truth"},  // --record is required
      {"truth", "--record", "r", "--window", "0s"},
  };
  for (const auto& args : bad) {
    CliOutcome o = parse(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_FALSE(o.command.has_value()) << joined;
    EXPECT_EQ(o.exit_code, 2) << joined;
  }
}

}  // namespace
}  // namespace edgesketch::sim
