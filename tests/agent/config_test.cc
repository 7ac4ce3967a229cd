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
  // The packaged file uses the current key names only.
  EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
  EXPECT_EQ(c->inputs[0].mqtt.uri, "tcp://127.0.0.1:1883");
  EXPECT_EQ(c->inputs[0].mqtt.backoff.min_ms, 500);
  EXPECT_EQ(c->inputs[0].mqtt.backoff.max_ms, 30'000);
  EXPECT_EQ(c->uplink.mqtt.uri, "tcp://collector.example.net:1883");
  EXPECT_EQ(c->uplink.mqtt.client_id, "edgesketch-agent-gateway-01");
  EXPECT_EQ(c->uplink.mqtt.backoff.min_ms, 500);
  EXPECT_EQ(c->uplink.mqtt.backoff.max_ms, 30'000);
  auto u = parse_agent_config(kMinimal + "[[input]]\ntype = \"udp\"\nreceive_buffer = \"4MiB\"\n",
                              "agent.toml");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(c->inputs[0].receive_buffer_bytes, 0u);
  EXPECT_EQ(u->inputs[1].receive_buffer_bytes, 4u << 20);
  // Every input's ring is bounded in bytes too: 16 MiB unless ring_bytes says otherwise.
  for (const InputConfig& in : c->inputs) EXPECT_EQ(in.ring_bytes, 16u << 20) << in.name;
  auto r =
      parse_agent_config(kMinimal +
                             "[[input]]\ntype = \"udp\"\nring_bytes = \"2MiB\"\n[[input]]\ntype = "
                             "\"mqtt\"\nring_bytes = 65536\n",
                         "agent.toml");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].ring_bytes, 16u << 20);
  EXPECT_EQ(r->inputs[1].ring_bytes, 2u << 20);
  EXPECT_EQ(r->inputs[2].ring_bytes, 65536u);
  EXPECT_EQ(c->self_metrics.interval_ms, 10'000);
  // Edge processing is off by default: the sections show the defaults.
  EXPECT_EQ(c->processing, ProcessingConfig{});
  EXPECT_EQ(c->rules[0].where, "");
  // The rules build an aggregator, and so does the self source's built-in rule.
  EXPECT_TRUE(Aggregator::create(aggregator_options(*c)).ok());
  EXPECT_TRUE(Aggregator::create(self_aggregator_options(*c)).ok());
}

// The commented inputs of packaging/agent.toml (Telegraf, Zigbee2MQTT, Tasmota, Shelly) parse
// once uncommented: "# [[input]]" and its "# key = value" lines lose their "# ".
TEST(AgentConfigTest, PackagedDeviceExamplesParseUncommented) {
  std::ifstream f(std::string(ES_SOURCE_DIR) + "/packaging/agent.toml");
  std::string line, inputs;
  const std::regex section(R"(^# \[\[?([a-z_]+)\]\]?.*$)");
  const std::regex setting(R"(^# [a-z_]+ = .*$)");
  bool in_input = false;  // inside a commented [[input]] (the file comments out other examples)
  std::smatch m;
  while (std::getline(f, line)) {
    if (std::regex_match(line, m, section)) {
      in_input = m[1] == "input";
      if (in_input) inputs += "[[input]]\n";
    } else if (line.empty() || line[0] != '#') {
      in_input = false;
    } else if (in_input && std::regex_match(line, setting)) {
      inputs += line.substr(2) + "\n";
    }
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
  EXPECT_EQ(c->inputs[0].mqtt.client_id, "edgesketch-agent-gw-1-mqtt0");
  EXPECT_EQ(c->inputs[0].topics, (std::vector<std::string>{"devices/+/readings"}));
  EXPECT_EQ(c->inputs[0].format, PayloadFormat::kNanopb);
  EXPECT_EQ(c->journal.dir, "/var/lib/edgesketch/agent/journal");
  EXPECT_EQ(c->outbox.path, "/var/lib/edgesketch/agent/outbox.db");
  EXPECT_EQ(c->uplink.mqtt.client_id, "edgesketch-agent-gw-1");
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

TEST(AgentConfigTest, InputsAndUplinkShareTheMqttConnectionKeys) {
  const std::string connection = R"(broker = "ssl://broker.lan:8883"
client_id = "id-X"
username = "acme/gw-1"
password_file = "/etc/edgesketch/X.pw"
tls_ca_file = "/etc/edgesketch/ca.crt"
tls_cert_file = "/etc/edgesketch/X.crt"
tls_key_file = "/etc/edgesketch/X.key"
reconnect_min = "200ms"
reconnect_max = "20s"
)";
  auto with = [&](const std::string& name) {
    std::string text = connection;
    for (std::size_t at; (at = text.find('X')) != std::string::npos;) text.replace(at, 1, name);
    return text;
  };
  auto c = parse_agent_config("[agent]\ngateway_id = \"gw-1\"\n[[input]]\ntype = \"mqtt\"\n" +
                                  with("in") + "[uplink]\n" + with("up"),
                              "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
  for (const auto& [m, name] : {std::pair{c->inputs[0].mqtt, "in"}, {c->uplink.mqtt, "up"}}) {
    EXPECT_EQ(m.uri, "ssl://broker.lan:8883");
    EXPECT_EQ(m.client_id, std::string("id-") + name);
    EXPECT_EQ(m.username, "acme/gw-1");
    EXPECT_EQ(m.password_file, std::string("/etc/edgesketch/") + name + ".pw");
    EXPECT_EQ(m.ca_file, "/etc/edgesketch/ca.crt");
    EXPECT_EQ(m.cert_file, std::string("/etc/edgesketch/") + name + ".crt");
    EXPECT_EQ(m.key_file, std::string("/etc/edgesketch/") + name + ".key");
    EXPECT_EQ(m.backoff.min_ms, 200);
    EXPECT_EQ(m.backoff.max_ms, 20'000);
    EXPECT_FALSE(m.clean_session);  // persistent sessions, whatever the file says
  }
  // One reader, one set of checks: the same mistake is named in either table.
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\npassword = \"x\"\n",
               "agent.toml: 'input[1].password': is set but 'input[1].username' is empty");
  expect_error(kMinimal + "password = \"x\"\n",
               "agent.toml: 'uplink.password': is set but 'uplink.username' is empty");
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\nbroker = \"\"\n",
               "agent.toml: 'input[1].broker': is required");
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\nbroker = \"mqtts://h:8883\"\n",
               "'input[1].broker': \"mqtts://h:8883\": TLS brokers are written");
  expect_error(kMinimal + "tls_ca_file = \"/ca\"\n",
               "'uplink.tls_ca_file': TLS files need an ssl:// broker");
  expect_error(kMinimal + "[[input]]\ntype = \"udp\"\npassword_file = \"/pw\"\n",
               "unknown key 'input[1].password_file'");
}

TEST(AgentConfigTest, OldUplinkKeysLoadWithAWarning) {
  auto c = parse_agent_config(kMinimal + "backoff_min = \"100ms\"\nbackoff_max = \"1s\"\n",
                              "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->uplink.mqtt.backoff.min_ms, 100);
  EXPECT_EQ(c->uplink.mqtt.backoff.max_ms, 1'000);
  EXPECT_EQ(c->warnings, (std::vector<std::string>{
                             "agent.toml: 'uplink.backoff_min': deprecated, rename it to "
                             "'reconnect_min' (the old name is refused from edgesketch 0.2)",
                             "agent.toml: 'uplink.backoff_max': deprecated, rename it to "
                             "'reconnect_max' (the old name is refused from edgesketch 0.2)"}));
  expect_error(kMinimal + "backoff_min = \"100ms\"\nreconnect_min = \"200ms\"\n",
               "agent.toml: 'uplink.backoff_min': deprecated name of 'uplink.reconnect_min', "
               "which gives a different value");
  expect_error(kMinimal + "backoff_min = \"10s\"\nbackoff_max = \"1s\"\n",
               "agent.toml: 'uplink.backoff_max': 1000 ms is below 'uplink.backoff_min'");
  expect_error(kMinimal + "backoff_min = 100\n",
               "agent.toml: 'uplink.backoff_min': expected a duration string");
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
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\nring_bytes = \"4KiB\"\n",
               "'input[1].ring_bytes': 4096 bytes is out of range [65536, 1073741824]");
  expect_error(kMinimal + "[[input]]\ntype = \"udp\"\nring_bytes = \"2GiB\"\n",
               "'input[1].ring_bytes'");
  expect_error(kMinimal + "[[input]]\ntype = \"mqtt\"\nring_bytes = \"lots\"\n",
               "'input[1].ring_bytes'");
  expect_error(kMinimal + "[[rule]]\nname = \"r\"\nwindow = \"7s\"\n",
               "rule 'r': window_ms 7000 does not divide");
  expect_error(kMinimal + "[[rule]]\nname = \"r\"\n[[rule]]\nname = \"r\"\n",
               "rule 'r': the name is used twice");
  expect_error(kMinimal + "[outbox]\ncoarsen = [\"1m\", \"90s\"]\n",
               "'outbox.coarsen': level \"90s\"");
  expect_error(kMinimal + "[agent]\n", "");  // a table defined twice is a TOML syntax error
  expect_error("[agent\n", "agent.toml:1:");
}

TEST(AgentConfigTest, EdgeProcessingSections) {
  auto c = parse_agent_config(kMinimal + R"(
[enrich]
registry = "/etc/edgesketch/devices.csv"
unknown = "drop"
max_bytes = "1MiB"

[privacy]
drop_tags = ["operator"]
hash_tags = ["mac", "badge"]
hash_key_file = "/etc/edgesketch/hash.key"

[[filter]]
match = "debug_*"

[[filter]]
name = "cold"
match = "temp*"
where = "value < -40"
action = "drop"

[[rule]]
name = "spikes"
match = "vibration"
where = 'value > 5 and site == "s1"'
output = "vibration_spikes"
)",
                              "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  const ProcessingConfig& p = c->processing;
  EXPECT_EQ(p.enrich.registry, "/etc/edgesketch/devices.csv");
  EXPECT_EQ(p.enrich.unknown, UnknownDevice::kDrop);
  EXPECT_EQ(p.enrich.max_bytes, 1u << 20);
  EXPECT_EQ(p.privacy.drop_tags, (std::vector<std::string>{"operator"}));
  EXPECT_EQ(p.privacy.hash_tags, (std::vector<std::string>{"mac", "badge"}));
  EXPECT_EQ(p.privacy.hash_key_file, "/etc/edgesketch/hash.key");
  ASSERT_EQ(p.filters.size(), 2u);
  EXPECT_EQ(p.filters[0], (FilterSpec{.name = "filter0", .match = "debug_*"}));
  EXPECT_EQ(p.filters[1], (FilterSpec{.name = "cold", .match = "temp*", .where = "value < -40"}));
  ASSERT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(c->rules[0].where, "value > 5 and site == \"s1\"");
  EXPECT_TRUE(Aggregator::create(aggregator_options(*c)).ok());
}

TEST(AgentConfigTest, EdgeProcessingErrorsNameTheKeyAndColumn) {
  expect_error(kMinimal +
                   "[[rule]]\nname = \"a\"\n[[rule]]\nname = \"b\"\n[[rule]]\nname = "
                   "\"spikes\"\nwhere = \"value > \"\n",
               "agent.toml: 'rule[2].where': rule 'spikes': column 9: expected a value after '>'");
  expect_error(kMinimal + "[[rule]]\nname = \"s\"\nwhere = 'site > \"a\"'\n",
               "'rule[0].where': rule 's': column 6: 'site' is a string: compare it with ==, "
               "!=, =~ or !~");
  expect_error(kMinimal + "[[filter]]\nname = \"f\"\nwhere = \"value >> 1\"\n",
               "'filter[0].where': filter 'f': column 8: expected a value after '>'");
  expect_error(kMinimal + "[[filter]]\naction = \"keep\"\n",
               "'filter[0].action': must be \"drop\", not \"keep\"");
  expect_error(kMinimal + "[[filter]]\nname = \"f\"\n[[filter]]\nname = \"f\"\n",
               "'filter[1].name': filter 'f': the name is used twice");
  expect_error(kMinimal + "[[filter]]\nmatch = \"\"\n", "'filter[0].match': is empty");
  expect_error(kMinimal + "[[filter]]\nmatch = \"x\"\nwehre = \"\"\n",
               "unknown key 'filter[0].wehre'");
  expect_error(kMinimal + "[enrich]\nunknown = \"ignore\"\n",
               "'enrich.unknown': must be \"keep\" or \"drop\", not \"ignore\"");
  expect_error(kMinimal + "[enrich]\nregistry = 3\n", "'enrich.registry'");
  expect_error(kMinimal + "[enrich]\nmax_bytes = \"2GiB\"\n", "'enrich.max_bytes'");
  expect_error(kMinimal + "[privacy]\nhash_tags = [\"mac\"]\n",
               "'privacy.hash_key_file': is required with hash_tags");
  expect_error(kMinimal + "[privacy]\ndrop_tags = [\"device\"]\n",
               "'privacy.drop_tags': 'device' is the device id, not a tag");
  expect_error(kMinimal +
                   "[privacy]\ndrop_tags = [\"a\"]\nhash_tags = [\"a\"]\nhash_key_file "
                   "= \"k\"\n",
               "'privacy.hash_tags': tag 'a' is listed twice");
  expect_error(kMinimal + "[privacy]\ndrop_tags = [\"\"]\n", "'privacy.drop_tags': holds an empty");
  expect_error(kMinimal + "[privacy]\nhash = [\"a\"]\n", "unknown key 'privacy.hash'");
  // A condition on a tag privacy removes before it runs could never see it.
  expect_error(kMinimal +
                   "[privacy]\ndrop_tags = [\"operator\"]\n[[rule]]\nname = \"r\"\nwhere "
                   "= 'operator == \"alice\"'\n",
               "'rule[0].where': rule 'r': tag 'operator' is removed by [privacy] drop_tags");
  expect_error(kMinimal +
                   "[privacy]\ndrop_tags = [\"operator\"]\n[[filter]]\nwhere = "
                   "'operator =~ \"a.*\"'\n",
               "'filter[0].where': filter 'filter0': tag 'operator' is removed");
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
