// The agent's TOML config: the packaged example parses, defaults fill in, and every kind of
// mistake is an error naming the key and line.
#include "config/agent_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>

namespace edgesketch::agent {
namespace {

const std::string kMinimal = R"(
[agent]
gateway_id = "gw-1"

[[input]]
type = "mqtt"

[uplink]
broker = "tcp://collector:1883"
)";

Status parse_error(const std::string& text) {
  auto c = parse_agent_config(text, "agent.toml");
  EXPECT_FALSE(c.ok()) << "parsed: " << text;
  return c.status();
}

void expect_error(const std::string& text, const std::string& needle) {
  Status s = parse_error(text);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(AgentConfigTest, PackagedExampleParses) {
  auto c = load_agent_config(std::string(ES_SOURCE_DIR) + "/packaging/agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->agent.gateway_id, "gateway-01");
  ASSERT_EQ(c->inputs.size(), 3u);
  EXPECT_EQ(c->inputs[0].name, "devices");
  EXPECT_EQ(c->inputs[1].format, PayloadFormat::kJson);
  EXPECT_EQ(c->inputs[2].type, InputType::kUdp);
  ASSERT_EQ(c->rules.size(), 3u);
  EXPECT_EQ(c->rules[1].group_by, (std::vector<std::string>{"site", "line"}));
  EXPECT_EQ(c->rules[2].topk, "label");
  EXPECT_EQ(c->rules[0].group_by, (std::vector<std::string>{"device", "site", "line"}));
  EXPECT_EQ(c->rules[0].output, "");
  EXPECT_EQ(c->rules[1].output, "vibration_by_line");
  EXPECT_EQ(c->rules[2].output, "event_by_site");
  EXPECT_EQ(c->journal.fsync_interval_ms, 100);
  EXPECT_EQ(c->journal.segment_bytes, 8u << 20);
  EXPECT_EQ(c->outbox.max_bytes, 64u << 20);
  EXPECT_EQ(c->outbox.coarsen_ms, (std::vector<std::uint32_t>{60'000, 3'600'000}));
  EXPECT_EQ(c->window.max_past_ms, 7LL * 86'400'000);
  EXPECT_EQ(c->uplink.batch_max_bytes, 512u << 10);
  EXPECT_EQ(c->metrics.listen, "127.0.0.1:9781");
  EXPECT_TRUE(c->self_metrics.enabled);
  auto u = parse_agent_config(kMinimal + "[[input]]\ntype = \"udp\"\nreceive_buffer = \"4MiB\"\n",
                              "agent.toml");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(c->inputs[0].receive_buffer_bytes, 0u);
  EXPECT_EQ(u->inputs[1].receive_buffer_bytes, 4u << 20);
  EXPECT_EQ(c->self_metrics.interval_ms, 10'000);
  // The rules build an aggregator, and so does the self source's built-in rule.
  EXPECT_TRUE(Aggregator::create(aggregator_options(*c)).ok());
  EXPECT_TRUE(Aggregator::create(self_aggregator_options(*c)).ok());
}

// The commented inputs of packaging/agent.toml (Telegraf, Zigbee2MQTT, Tasmota, Shelly) parse
// once uncommented: "# [[input]]" and "# key = value" lines lose their "# ".
TEST(AgentConfigTest, PackagedDeviceExamplesParseUncommented) {
  std::ifstream f(std::string(ES_SOURCE_DIR) + "/packaging/agent.toml");
  std::string line, inputs;
  const std::regex setting(R"(^# (\[\[input\]\]|[a-z_]+ = .*)$)");
  while (std::getline(f, line)) {
    if (std::regex_match(line, setting)) inputs += line.substr(2) + "\n";
  }
  auto c = parse_agent_config(kMinimal + inputs, "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string() << "\n" << inputs;
  ASSERT_EQ(c->inputs.size(), 5u) << inputs;
  EXPECT_EQ(c->inputs[1].device_tag, "host");
  EXPECT_EQ(c->inputs[2].format, PayloadFormat::kJsonFields);
  EXPECT_EQ(c->inputs[2].topics, (std::vector<std::string>{"zigbee2mqtt/+"}));
  EXPECT_EQ(c->inputs[3].time_field, "Time");
  EXPECT_EQ(c->inputs[4].format, PayloadFormat::kValue);
}

TEST(AgentConfigTest, MinimalConfigGetsDefaults) {
  auto c = parse_agent_config(kMinimal, "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->agent.tenant, "default");
  ASSERT_EQ(c->inputs.size(), 1u);
  EXPECT_EQ(c->inputs[0].name, "mqtt0");
  EXPECT_EQ(c->inputs[0].client_id, "edgesketch-agent-gw-1-mqtt0");
  EXPECT_EQ(c->inputs[0].topics, (std::vector<std::string>{"devices/+/readings"}));
  EXPECT_EQ(c->inputs[0].format, PayloadFormat::kNanopb);
  EXPECT_EQ(c->journal.dir, "/var/lib/edgesketch/agent/journal");
  EXPECT_EQ(c->outbox.path, "/var/lib/edgesketch/agent/outbox.db");
  EXPECT_EQ(c->uplink.client_id, "edgesketch-agent-gw-1");
  ASSERT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(c->rules[0], default_rule());
  EXPECT_TRUE(c->rules[0].quantiles);
  EXPECT_EQ(c->rules[0].window_ms, 10'000u);
  EXPECT_TRUE(c->self_metrics.enabled);
  EXPECT_EQ(c->self_metrics.interval_ms, 10'000);
}

TEST(AgentConfigTest, SelfMetricsSection) {
  auto c = parse_agent_config(kMinimal + "[self_metrics]\nenabled = false\ninterval = \"7s\"\n",
                              "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_FALSE(c->self_metrics.enabled);
  EXPECT_EQ(c->self_metrics.interval_ms, 7'000);
  // 7 s is not a valid window; the built-in rule rounds it up.
  EXPECT_EQ(self_aggregator_options(*c).rules[0].window_ms, 10'000u);
  expect_error(kMinimal + "[self_metrics]\nintervall = \"5s\"\n",
               "agent.toml: unknown key 'self_metrics.intervall'");
  expect_error(kMinimal + "[self_metrics]\nenabled = \"yes\"\n",
               "'self_metrics.enabled': expected true or false");
  expect_error(kMinimal + "[self_metrics]\ninterval = 10\n",
               "'self_metrics.interval': expected a duration string");
  expect_error(kMinimal + "[self_metrics]\ninterval = \"500ms\"\n",
               "'self_metrics.interval': 500 ms is out of range [1000, 3600000]");
  expect_error(kMinimal + "[self_metrics]\ninterval = \"2h\"\n", "'self_metrics.interval'");
}

TEST(AgentConfigTest, UplinkCompression) {
  auto c = parse_agent_config(kMinimal, "agent.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->uplink.zstd_level, 3);  // zstd by default
  c = parse_agent_config(kMinimal + "compression = \"none\"\n", "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->uplink.zstd_level, 0);
  c = parse_agent_config(kMinimal + "compression = \"zstd\"\ncompression_level = 9\n",
                         "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->uplink.zstd_level, 9);
  expect_error(kMinimal + "compression = \"gzip\"\n", "uplink.compression");
  expect_error(kMinimal + "compression_level = 30\n", "uplink.compression_level");
}

TEST(AgentConfigTest, DurationsAndSizes) {
  auto c = parse_agent_config(kMinimal + R"(
[journal]
fsync_interval = "250ms"
segment_bytes = 1048576
[window]
allowed_lateness = "2s"
idle_timeout = "1m"
max_future = "1h"
[[rule]]
name = "hourly"
window = "1h"
)",
                              "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->journal.fsync_interval_ms, 250);
  EXPECT_EQ(c->journal.segment_bytes, 1u << 20);
  EXPECT_EQ(c->window.allowed_lateness_ms, 2'000);
  EXPECT_EQ(c->window.idle_timeout_ms, 60'000);
  EXPECT_EQ(c->window.max_future_ms, 3'600'000);
  EXPECT_EQ(c->rules[0].window_ms, 3'600'000u);
}

TEST(AgentConfigTest, UnknownKeysNameTheirPath) {
  expect_error(kMinimal + "[[rule]]\nname = \"a\"\n[[rule]]\nname = \"b\"\nwindw = \"10s\"\n",
               "agent.toml: unknown key 'rule[1].windw'");
  expect_error(kMinimal + "[window]\nlateness = \"1s\"\n", "unknown key 'window.lateness'");
  expect_error(kMinimal + "[metric]\nlisten = \"\"\n", "unknown key 'metric'");
  expect_error("[agent]\ngateway_id = \"g\"\ngatway = 1\n", "unknown key 'agent.gatway'");
  expect_error(kMinimal + "[[input]]\ntype = \"udp\"\ntopics = [\"x\"]\n",
               "unknown key 'input[1].topics'");
}

TEST(AgentConfigTest, TypeErrorsNameTheKey) {
  expect_error(kMinimal + "[window]\nallowed_lateness = 5\n",
               "agent.toml: 'window.allowed_lateness': expected a duration string like \"10s\"");
  expect_error(kMinimal + "[[rule]]\nquantiles = \"yes\"\n",
               "'rule[0].quantiles': expected true or false");
  expect_error(kMinimal + "[journal]\nfsync_interval = \"fast\"\n",
               "'journal.fsync_interval': 'fast' is not a duration");
  expect_error(kMinimal + "[[rule]]\ngroup_by = [\"site\", 3]\n",
               "'rule[0].group_by': expected an array of strings");
  expect_error("agent = 3\n", "'agent': expected a table");
  expect_error(kMinimal + "[uplink.extra]\n", "unknown key 'uplink.extra'");
}

TEST(AgentConfigTest, BadValues) {
  expect_error("[[input]]\ntype = \"mqtt\"\n[uplink]\nbroker = \"tcp://c:1\"\n",
               "'agent.gateway_id': is required");
  expect_error("[agent]\ngateway_id = \"g\"\n[uplink]\nbroker = \"tcp://c:1\"\n", "no [[input]]");
  expect_error("[agent]\ngateway_id = \"g\"\n[[input]]\ntype = \"mqtt\"\n",
               "agent.toml: 'uplink.broker': is required");
  expect_error(kMinimal + "[[input]]\ntype = \"serial\"\n",
               "'input[1].type': must be \"mqtt\" or \"udp\"");
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\nqos = 2\n",
               "'input[1].qos': 2 is out of range [0, 1]");
  expect_error(kMinimal + "[[input]]\ntype = \"udp\"\nbind = \"nowhere\"\n", "'input[1].bind'");
  expect_error(kMinimal + "[[input]]\ntype = \"udp\"\nreceive_buffer = \"2GiB\"\n",
               "'input[1].receive_buffer'");
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\nreceive_buffer = \"1MiB\"\n",
               "unknown key 'input[1].receive_buffer'");
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\nformat = \"xml\"\n", "'input[1].format'");
  expect_error(kMinimal + "[[rule]]\nname = \"r\"\nwindow = \"7s\"\n",
               "rule 'r': window_ms 7000 does not divide");
  expect_error(kMinimal + "[[rule]]\nname = \"r\"\n[[rule]]\nname = \"r\"\n",
               "rule 'r': the name is used twice");
  expect_error(kMinimal + "[outbox]\ncoarsen = [\"1m\", \"90s\"]\n",
               "'outbox.coarsen': level \"90s\"");
  expect_error(kMinimal + "[agent]\n", "");  // a table defined twice is a TOML syntax error
  expect_error("[agent\n", "agent.toml:1:");
}

TEST(AgentConfigTest, FormatKeysOfTheInputs) {
  auto c = parse_agent_config(kMinimal + R"(
[[input]]
name = "telegraf"
type = "mqtt"
format = "line"
topics = ["telegraf/#"]
device_tag = "host"
[[input]]
name = "zigbee"
type = "mqtt"
format = "json_fields"
topic_template = "zigbee2mqtt/{device}"
time_field = "last_seen"
time_format = "unix_ms"
strings = "ignore"
[[input]]
name = "shelly"
type = "mqtt"
format = "value"
topic_template = "shellies/{device}/sensor/{metric}"
)",
                              "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_EQ(c->inputs.size(), 4u);
  EXPECT_EQ(c->inputs[0].device_tag, "device");
  EXPECT_TRUE(c->inputs[0].topic_template.empty());
  const InputConfig& line = c->inputs[1];
  EXPECT_EQ(line.format, PayloadFormat::kLine);
  EXPECT_EQ(line.device_tag, "host");
  EXPECT_EQ(line.topics, (std::vector<std::string>{"telegraf/#"}));
  const InputConfig& zigbee = c->inputs[2];
  EXPECT_EQ(zigbee.format, PayloadFormat::kJsonFields);
  EXPECT_EQ(zigbee.topic_template.text(), "zigbee2mqtt/{device}");
  EXPECT_EQ(zigbee.topics, (std::vector<std::string>{"zigbee2mqtt/+"}));  // the template's
  EXPECT_EQ(zigbee.time_field, "last_seen");
  EXPECT_EQ(zigbee.time_format, TimeFormat::kUnixMs);
  EXPECT_EQ(zigbee.strings, StringLeaves::kIgnore);
  const ParserOptions po = parser_options(zigbee);
  EXPECT_EQ(po.time_field, "last_seen");
  EXPECT_EQ(po.topic_template.text(), "zigbee2mqtt/{device}");
  const InputConfig& shelly = c->inputs[3];
  EXPECT_EQ(shelly.format, PayloadFormat::kValue);
  EXPECT_TRUE(shelly.topic_template.names_metric());
  EXPECT_EQ(shelly.topics, (std::vector<std::string>{"shellies/+/sensor/+"}));
}

TEST(AgentConfigTest, FormatKeysThatDoNotFitAreErrors) {
  const std::string mqtt = kMinimal + "[[input]]\ntype = \"mqtt\"\n";
  expect_error(mqtt + "format = \"value\"\n",
               "'input[1].format': \"value\" needs a topic_template");
  expect_error(mqtt + "format = \"value\"\ntopic_template = \"s/{device}\"\n",
               "needs a topic_template naming {device} and {metric}");
  expect_error(mqtt + "format = \"json_fields\"\ntopic_template = \"z/{name}\"\n",
               "'input[1].topic_template': must name {device}");
  expect_error(mqtt + "format = \"line\"\ntopic_template = \"t/{device}/{metric}\"\n",
               "{metric} names the metric of format = \"value\" payloads");
  expect_error(mqtt + "topic_template = \"a/dev-{device}\"\n",
               "'input[1].topic_template': topic template \"a/dev-{device}\"");
  expect_error(mqtt + "device_tag = \"host\"\n",
               "'input[1].device_tag': applies to format = \"line\" only, not \"nanopb\"");
  expect_error(mqtt + "format = \"line\"\ndevice_tag = \"\"\n", "'input[1].device_tag'");
  expect_error(mqtt + "strings = \"ignore\"\n", "'input[1].strings': applies to format");
  expect_error(mqtt + "format = \"json_fields\"\nstrings = \"drop\"\n",
               "'input[1].strings': must be \"labels\" or \"ignore\"");
  expect_error(mqtt + "format = \"json_fields\"\ntime_format = \"unix_ms\"\n",
               "'input[1].time_format': needs time_field");
  expect_error(mqtt + "format = \"json_fields\"\ntime_field = \"t\"\ntime_format = \"iso\"\n",
               "'input[1].time_format': must be");
  expect_error(mqtt + "format = \"line\"\ntime_field = \"t\"\n", "'input[1].time_field': applies");
  expect_error(kMinimal + "[[input]]\ntype = \"udp\"\ntopic_template = \"d/{device}\"\n",
               "'input[1].topic_template': UDP datagrams have no topic");
  expect_error(mqtt + "name = \"" + std::string(65, 'n') + "\"\n", "'input[1].name'");
}

TEST(AgentConfigTest, MissingFileIsNotFound) {
  auto c = load_agent_config("/nonexistent/agent.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace edgesketch::agent
