// The collector's TOML config: the packaged example loads without warnings, and [mqtt] takes the
// MQTT connection keys of every other MQTT table (config::read_mqtt_connection), its old
// spellings with a warning.
#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace edgesketch::collector {
namespace {

const std::string kTenant = "[[tenant]]\nname = \"t\"\ntokens = [\"0123456789abcdef0123\"]\n";

void expect_error(const std::string& text, const std::string& needle) {
  auto c = parse_collector_config(text, "collector.toml");
  ASSERT_FALSE(c.ok()) << "parsed: " << text;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status().message();
}

TEST(CollectorConfigTest, PackagedExampleLoadsWithoutWarnings) {
  auto c = load_collector_config(std::string(ES_SOURCE_DIR) + "/packaging/collector.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
  EXPECT_TRUE(c->mqtt.enabled);
  EXPECT_EQ(c->mqtt.connection.uri, "tcp://127.0.0.1:1883");
  EXPECT_EQ(c->mqtt.connection.client_id, "edgesketch-collector");
  EXPECT_EQ(c->mqtt.connection.backoff.min_ms, 500);
  EXPECT_EQ(c->mqtt.connection.backoff.max_ms, 30'000);
  EXPECT_EQ(c->mqtt.topic_prefix, "edgesketch/v1");
  ASSERT_EQ(c->tenants.size(), 1u);
}

TEST(CollectorConfigTest, MqttTakesTheSharedConnectionKeys) {
  auto c = parse_collector_config(R"([mqtt]
broker = "ssl://broker.lan:8883"
client_id = "collector-2"
share_group = "g"
username = "edgesketch-collector"
password_file = "/etc/edgesketch/collector.pw"
tls_ca_file = "/etc/edgesketch/ca.crt"
tls_cert_file = "/etc/edgesketch/collector.crt"
tls_key_file = "/etc/edgesketch/collector.key"
reconnect_min = "1s"
reconnect_max = "1m"
)" + kTenant,
                                  "collector.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
  const net::MqttConnection& m = c->mqtt.connection;
  EXPECT_EQ(m.uri, "ssl://broker.lan:8883");
  EXPECT_EQ(m.client_id, "collector-2");
  EXPECT_EQ(c->mqtt.share_group, "g");
  EXPECT_EQ(m.username, "edgesketch-collector");
  EXPECT_EQ(m.password_file, "/etc/edgesketch/collector.pw");
  EXPECT_EQ(m.ca_file, "/etc/edgesketch/ca.crt");
  EXPECT_EQ(m.cert_file, "/etc/edgesketch/collector.crt");
  EXPECT_EQ(m.key_file, "/etc/edgesketch/collector.key");
  EXPECT_EQ(m.backoff.min_ms, 1'000);
  EXPECT_EQ(m.backoff.max_ms, 60'000);
  EXPECT_FALSE(m.clean_session);
}

TEST(CollectorConfigTest, OldTlsKeysLoadWithAWarning) {
  auto c = parse_collector_config(R"([mqtt]
broker = "ssl://broker.lan:8883"
ca_file = "/ca.crt"
cert_file = "/c.crt"
key_file = "/c.key"
)" + kTenant,
                                  "collector.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->mqtt.connection.ca_file, "/ca.crt");
  EXPECT_EQ(c->mqtt.connection.cert_file, "/c.crt");
  EXPECT_EQ(c->mqtt.connection.key_file, "/c.key");
  EXPECT_EQ(c->warnings, (std::vector<std::string>{
                             "collector.toml: 'mqtt.ca_file': deprecated, rename it to "
                             "'tls_ca_file' (the old name is refused from edgesketch 0.2)",
                             "collector.toml: 'mqtt.cert_file': deprecated, rename it to "
                             "'tls_cert_file' (the old name is refused from edgesketch 0.2)",
                             "collector.toml: 'mqtt.key_file': deprecated, rename it to "
                             "'tls_key_file' (the old name is refused from edgesketch 0.2)"}));
  expect_error(
      "[mqtt]\nbroker = \"ssl://b:8883\"\nca_file = \"/a\"\ntls_ca_file = \"/b\"\n" + kTenant,
      "collector.toml: 'mqtt.ca_file': deprecated name of 'mqtt.tls_ca_file', which "
      "gives a different value: keep only 'tls_ca_file'");
}

TEST(CollectorConfigTest, MqttMistakesNameTheKey) {
  expect_error("[mqtt]\nbroker = \"\"\n" + kTenant,
               "collector.toml: 'mqtt.broker': is required (or enabled = false)");
  auto off = parse_collector_config("[mqtt]\nenabled = false\nbroker = \"\"\n" + kTenant, "c");
  EXPECT_TRUE(off.ok()) << off.status().to_string();
  expect_error("[mqtt]\nbroker = \"broker:1883\"\n" + kTenant, "'mqtt.broker': must look like");
  expect_error("[mqtt]\nclient_id = \"\"\n" + kTenant, "'mqtt.client_id': must not be empty");
  expect_error("[mqtt]\nreconnect_min = \"5s\"\nreconnect_max = \"1s\"\n" + kTenant,
               "'mqtt.reconnect_max': 1000 ms is below 'mqtt.reconnect_min' (5000 ms)");
  expect_error("[mqtt]\nca_file = \"/ca\"\n" + kTenant,
               "'mqtt.ca_file': TLS files need an ssl:// broker");
  expect_error("[mqtt]\npassword_file = \"/pw\"\n" + kTenant,
               "'mqtt.password_file': is set but 'mqtt.username' is empty");
  expect_error("[mqtt]\nbackoff = \"1s\"\n" + kTenant, "unknown key 'mqtt.backoff'");
}

TEST(CollectorConfigTest, ClickHouseStore) {
  auto embedded = parse_collector_config(kTenant, "c");
  ASSERT_TRUE(embedded.ok());
  EXPECT_EQ(embedded->backend, StoreBackend::kEmbedded);
  EXPECT_TRUE(embedded->clickhouse.url.empty());

  const std::string pw = ::testing::TempDir() + "/clickhouse.pw";
  {
    std::FILE* f = std::fopen(pw.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("s3cret\nignored\n", f);
    std::fclose(f);
  }
  auto c = parse_collector_config(R"([store]
backend = "clickhouse"
tiers = ["10s", "5m"]
retention = ["7d", "0"]
[clickhouse]
url = "https://ch.lan:8443"
database = "fleet_2"
user = "edgesketch"
password_file = ")" + pw + R"("
tls_ca_file = "/etc/edgesketch/ca.crt"
connect_timeout = "500ms"
request_timeout = "1m"
max_attempts = 5
)" + kTenant,
                                  "collector.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->backend, StoreBackend::kClickHouse);
  EXPECT_EQ(c->clickhouse.url, "https://ch.lan:8443");
  EXPECT_EQ(c->clickhouse.database, "fleet_2");
  EXPECT_EQ(c->clickhouse.user, "edgesketch");
  EXPECT_EQ(c->clickhouse.password, "s3cret");
  EXPECT_EQ(c->clickhouse.tls_ca_file, "/etc/edgesketch/ca.crt");
  EXPECT_EQ(c->clickhouse.connect_timeout_ms, 500);
  EXPECT_EQ(c->clickhouse.request_timeout_ms, 60'000);
  EXPECT_EQ(c->clickhouse.max_attempts, 5);

  expect_error("[store]\nbackend = \"clickhouse\"\n" + kTenant,
               "'clickhouse.url': [store] backend = \"clickhouse\" needs the server's url");
  expect_error("[store]\nbackend = \"rocks\"\n" + kTenant, "'store.backend': 'rocks' is not");
  expect_error("[clickhouse]\nurl = \"tcp://ch:9000\"\n" + kTenant,
               "'clickhouse.url': 'tcp://ch:9000' is not http://");
  expect_error("[clickhouse]\nurl = \"http://ch:8123\"\ndatabase = \"a-b\"\n" + kTenant,
               "'clickhouse.database': 'a-b' is not a name");
  expect_error("[clickhouse]\nurl = \"http://ch:8123\"\ntls_key_file = \"/k\"\n" + kTenant,
               "'clickhouse.tls_cert_file': a client certificate needs tls_key_file");
  expect_error(
      "[clickhouse]\nurl = \"http://ch:8123\"\npassword_file = \"/nonexistent/pw\"\n" + kTenant,
      "'clickhouse.password_file': cannot read");
  expect_error("[clickhouse]\nhost = \"ch\"\n" + kTenant, "unknown key 'clickhouse.host'");
}

}  // namespace
}  // namespace edgesketch::collector
