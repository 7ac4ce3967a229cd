// read_mqtt_connection: every key lands in its field, absent keys keep the caller's defaults,
// the old spellings load with a warning that names the new one, two spellings of one key must
// agree, and every bad value is an error naming the key as written.
#include "edgesketch/config/mqtt_connection_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace edgesketch::config {
namespace {

// The outcome of reading an [mqtt] table of `body` (plus one key the caller reads itself).
struct Read {
  net::MqttConnection connection;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

Read read(const std::string& body, net::MqttConnection defaults = {}) {
  auto doc = TomlDocument::parse("[mqtt]\n" + body, "test.toml");
  EXPECT_TRUE(doc.ok()) << doc.status().to_string();
  TomlTable root = (*doc)->root();
  TomlTable mqtt = root.table("mqtt");
  Read r;
  r.connection = read_mqtt_connection(mqtt, std::move(defaults));
  mqtt.string("topic_prefix");
  mqtt.finish();
  root.finish();
  r.errors = (*doc)->errors();
  r.warnings = (*doc)->warnings();
  return r;
}

// The single error of reading `body`.
std::string error_of(const std::string& body) {
  Read r = read(body);
  EXPECT_EQ(r.errors.size(), 1u) << body;
  return r.errors.empty() ? std::string() : r.errors.front();
}

TEST(MqttConnectionReaderTest, ReadsEveryKey) {
  Read r = read(R"(
broker = "ssl://broker.example.net:8883"
client_id = "gw-7"
username = "acme/gw-7"
password = "pw"
password_file = "/etc/edgesketch/uplink.pw"
tls_ca_file = "/etc/edgesketch/ca.crt"
tls_cert_file = "/etc/edgesketch/gw.crt"
tls_key_file = "/etc/edgesketch/gw.key"
reconnect_min = "250ms"
reconnect_max = "2m"
topic_prefix = "x"
)");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  const net::MqttConnection& c = r.connection;
  EXPECT_EQ(c.uri, "ssl://broker.example.net:8883");
  EXPECT_EQ(c.client_id, "gw-7");
  EXPECT_EQ(c.username, "acme/gw-7");
  EXPECT_EQ(c.password, "pw");
  EXPECT_EQ(c.password_file, "/etc/edgesketch/uplink.pw");
  EXPECT_EQ(c.ca_file, "/etc/edgesketch/ca.crt");
  EXPECT_EQ(c.cert_file, "/etc/edgesketch/gw.crt");
  EXPECT_EQ(c.key_file, "/etc/edgesketch/gw.key");
  EXPECT_EQ(c.backoff.min_ms, 250);
  EXPECT_EQ(c.backoff.max_ms, 120'000);
}

TEST(MqttConnectionReaderTest, AbsentKeysKeepTheDefaults) {
  net::MqttConnection defaults;
  defaults.uri = "tcp://10.0.0.1:1883";
  defaults.client_id = "default-id";
  defaults.backoff.min_ms = 700;
  defaults.backoff.max_ms = 9'000;
  defaults.backoff.jitter = 0.5;
  defaults.keepalive_s = 12;
  Read r = read("", defaults);
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(r.connection.uri, "tcp://10.0.0.1:1883");
  EXPECT_EQ(r.connection.client_id, "default-id");
  EXPECT_EQ(r.connection.backoff.min_ms, 700);
  EXPECT_EQ(r.connection.backoff.max_ms, 9'000);
  EXPECT_EQ(r.connection.backoff.jitter, 0.5);
  EXPECT_EQ(r.connection.keepalive_s, 12);
  EXPECT_TRUE(r.connection.username.empty());
  EXPECT_TRUE(r.connection.ca_file.empty());
  // An empty broker is the caller's to judge (the agent's uplink may have none).
  r = read("broker = \"\"\n");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(r.connection.uri, "");
}

TEST(MqttConnectionReaderTest, OldSpellingsLoadWithAWarning) {
  Read r = read(R"(
broker = "ssl://127.0.0.1:8883"
ca_file = "/ca.crt"
cert_file = "/gw.crt"
key_file = "/gw.key"
backoff_min = "100ms"
backoff_max = "5s"
)");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(r.connection.ca_file, "/ca.crt");
  EXPECT_EQ(r.connection.cert_file, "/gw.crt");
  EXPECT_EQ(r.connection.key_file, "/gw.key");
  EXPECT_EQ(r.connection.backoff.min_ms, 100);
  EXPECT_EQ(r.connection.backoff.max_ms, 5'000);
  EXPECT_EQ(r.warnings,
            (std::vector<std::string>{
                "test.toml: 'mqtt.ca_file': deprecated, rename it to 'tls_ca_file' (the old name "
                "is refused from edgesketch 0.2)",
                "test.toml: 'mqtt.cert_file': deprecated, rename it to 'tls_cert_file' (the old "
                "name is refused from edgesketch 0.2)",
                "test.toml: 'mqtt.key_file': deprecated, rename it to 'tls_key_file' (the old "
                "name is refused from edgesketch 0.2)",
                "test.toml: 'mqtt.backoff_min': deprecated, rename it to 'reconnect_min' (the "
                "old name is refused from edgesketch 0.2)",
                "test.toml: 'mqtt.backoff_max': deprecated, rename it to 'reconnect_max' (the "
                "old name is refused from edgesketch 0.2)",
            }));
  // Every renamed key is in the table the docs are written from, and only those.
  EXPECT_EQ(kDeprecatedMqttKeys.size(), 5u);
}

TEST(MqttConnectionReaderTest, BothSpellingsMustAgree) {
  Read same = read("reconnect_min = \"1s\"\nbackoff_min = \"1000ms\"\n");
  EXPECT_TRUE(same.errors.empty()) << same.errors.front();
  EXPECT_EQ(same.connection.backoff.min_ms, 1'000);
  EXPECT_EQ(same.warnings,
            (std::vector<std::string>{
                "test.toml: 'mqtt.backoff_min': deprecated, and 'mqtt.reconnect_min' gives the "
                "same setting: remove 'backoff_min' (the old name is refused from edgesketch "
                "0.2)"}));

  Read different = read(
      "broker = \"ssl://127.0.0.1:8883\"\ntls_ca_file = \"/new.crt\"\nca_file = \"/old.crt\"\n");
  EXPECT_EQ(different.errors,
            (std::vector<std::string>{"'mqtt.ca_file': deprecated name of 'mqtt.tls_ca_file', "
                                      "which gives a different value: keep only 'tls_ca_file'"}));
  EXPECT_TRUE(different.warnings.empty());
  EXPECT_EQ(different.connection.ca_file, "/new.crt");
}

TEST(MqttConnectionReaderTest, BadTypesNameTheKeyAsWritten) {
  EXPECT_EQ(error_of("broker = 1883\n"), "'mqtt.broker': expected a string");
  EXPECT_EQ(error_of("client_id = true\n"), "'mqtt.client_id': expected a string");
  EXPECT_EQ(error_of("username = [\"a\"]\n"), "'mqtt.username': expected a string");
  EXPECT_EQ(error_of("username = \"u\"\npassword = 1\n"), "'mqtt.password': expected a string");
  EXPECT_EQ(error_of("username = \"u\"\npassword_file = {}\n"),
            "'mqtt.password_file': expected a string");
  EXPECT_EQ(error_of("broker = \"ssl://h:1\"\ntls_ca_file = 3\n"),
            "'mqtt.tls_ca_file': expected a string");
  EXPECT_EQ(error_of("broker = \"ssl://h:1\"\ncert_file = 3\n"),
            "'mqtt.cert_file': expected a string");
  EXPECT_EQ(error_of("reconnect_min = 500\n"),
            "'mqtt.reconnect_min': expected a duration string like \"10s\"");
  EXPECT_EQ(error_of("backoff_max = \"soon\"\n"),
            "'mqtt.backoff_max': 'soon' is not a duration (use e.g. 250ms, 10s, 5m, 2h, 7d)");
}

TEST(MqttConnectionReaderTest, BrokerMustBeTcpMqttOrSsl) {
  for (const char* ok : {"tcp://127.0.0.1:1883", "mqtt://broker:1883", "ssl://broker.lan:8883",
                         "tcp://[::1]:1883"}) {
    Read r = read(std::string("broker = \"") + ok + "\"\n");
    EXPECT_TRUE(r.errors.empty()) << ok << ": " << r.errors.front();
  }
  EXPECT_EQ(error_of("broker = \"127.0.0.1:1883\"\n"),
            "'mqtt.broker': must look like \"tcp://HOST:PORT\" or \"ssl://HOST:PORT\", not "
            "\"127.0.0.1:1883\"");
  EXPECT_EQ(error_of("broker = \"mqtts://broker:8883\"\n"),
            "'mqtt.broker': \"mqtts://broker:8883\": TLS brokers are written \"ssl://HOST:PORT\"");
  for (const char* bad : {"tcp://broker", "tcp://:1883", "tcp://broker:", "tcp://broker:0",
                          "tcp://broker:65536", "tcp://broker:18x3", "ws://broker:80"}) {
    EXPECT_NE(error_of(std::string("broker = \"") + bad + "\"\n").find("'mqtt.broker': must look"),
              std::string::npos)
        << bad;
  }
}

TEST(MqttConnectionReaderTest, TlsFilesNeedSslAndCertificatesTheirKey) {
  EXPECT_EQ(error_of("broker = \"tcp://h:1883\"\ntls_ca_file = \"/ca.crt\"\n"),
            "'mqtt.tls_ca_file': TLS files need an ssl:// broker, and 'mqtt.broker' is "
            "\"tcp://h:1883\"");
  // The default broker is plain TCP too; the old spelling is the one named.
  Read r = read("key_file = \"/k\"\ncert_file = \"/c\"\n");
  EXPECT_EQ(r.errors, (std::vector<std::string>{"'mqtt.cert_file': TLS files need an ssl:// "
                                                "broker, and 'mqtt.broker' is "
                                                "\"tcp://127.0.0.1:1883\""}));
  EXPECT_EQ(error_of("broker = \"ssl://h:8883\"\ntls_cert_file = \"/c\"\n"),
            "'mqtt.tls_cert_file': a client certificate needs both 'mqtt.tls_cert_file' and "
            "'mqtt.tls_key_file'");
  EXPECT_EQ(error_of("broker = \"ssl://h:8883\"\nkey_file = \"/k\"\n"),
            "'mqtt.key_file': a client certificate needs both 'mqtt.tls_cert_file' and "
            "'mqtt.tls_key_file'");
  r = read("broker = \"ssl://h:8883\"\ntls_ca_file = \"/ca\"\n");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
}

TEST(MqttConnectionReaderTest, APasswordNeedsAUsername) {
  EXPECT_EQ(error_of("password = \"pw\"\n"),
            "'mqtt.password': is set but 'mqtt.username' is empty: MQTT sends a password only "
            "with a username");
  EXPECT_EQ(error_of("password_file = \"/pw\"\n"),
            "'mqtt.password_file': is set but 'mqtt.username' is empty: MQTT sends a password "
            "only with a username");
  Read r = read("username = \"u\"\npassword_file = \"/pw\"\npassword = \"\"\n");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(r.connection.password_file, "/pw");
}

TEST(MqttConnectionReaderTest, ReconnectDelaysInRangeAndOrdered) {
  EXPECT_EQ(error_of("reconnect_min = \"0s\"\n"),
            "'mqtt.reconnect_min': 0 ms is out of range [1, 3600000]");
  EXPECT_EQ(error_of("reconnect_max = \"2h\"\n"),
            "'mqtt.reconnect_max': 7200000 ms is out of range [1, 3600000]");
  EXPECT_EQ(error_of("backoff_min = \"0ms\"\n"),
            "'mqtt.backoff_min': 0 ms is out of range [1, 3600000]");
  EXPECT_EQ(error_of("reconnect_min = \"10s\"\nreconnect_max = \"1s\"\n"),
            "'mqtt.reconnect_max': 1000 ms is below 'mqtt.reconnect_min' (10000 ms)");
  EXPECT_EQ(error_of("backoff_min = \"10s\"\nbackoff_max = \"1s\"\n"),
            "'mqtt.backoff_max': 1000 ms is below 'mqtt.backoff_min' (10000 ms)");
  // Against the default maximum (30 s).
  EXPECT_EQ(error_of("reconnect_min = \"1m\"\n"),
            "'mqtt.reconnect_min': 60000 ms is above 'mqtt.reconnect_max' (30000 ms by default)");
}

TEST(MqttConnectionReaderTest, LeavesOtherKeysToTheCaller) {
  Read r = read("broker = \"tcp://h:1\"\ntopics = [\"a\"]\nkeepalive = \"10s\"\n");
  std::sort(r.errors.begin(), r.errors.end());
  EXPECT_EQ(r.errors, (std::vector<std::string>{"unknown key 'mqtt.keepalive'",
                                                "unknown key 'mqtt.topics'"}));
}

}  // namespace
}  // namespace edgesketch::config
