#include "app/clickhouse_backend.h"

#include <cstdio>
#include <utility>

namespace edgesketch::collector {

clickhouse::ClientOptions clickhouse_client_options(const ClickHouseConfig& c) {
  clickhouse::ClientOptions o;
  o.url = c.url;
  o.database = c.database;
  o.user = c.user;
  o.password = c.password;
  o.tls_ca_file = c.tls_ca_file;
  o.tls_cert_file = c.tls_cert_file;
  o.tls_key_file = c.tls_key_file;
  o.connect_timeout_ms = static_cast<int>(c.connect_timeout_ms);
  o.request_timeout_ms = static_cast<int>(c.request_timeout_ms);
  o.max_attempts = c.max_attempts;
  return o;
}

clickhouse::SchemaOptions clickhouse_schema_options(const CollectorConfig& config) {
  clickhouse::SchemaOptions o;
  o.database = config.clickhouse.database;
  o.tiers_ms.assign(config.store.tiers_ms.begin(), config.store.tiers_ms.end());
  return o;
}

int init_clickhouse(const CollectorConfig& config, const std::string& config_path) {
  if (config.clickhouse.url.empty()) {
    std::fprintf(stderr,
                 "edgesketch-collector --init-clickhouse: %s has no [clickhouse] url to set up\n",
                 config_path.c_str());
    return 1;
  }
  clickhouse::ClientOptions options = clickhouse_client_options(config.clickhouse);
  options.database.clear();  // it may not exist yet; the statements name it
  auto client = clickhouse::Client::create(std::move(options));
  if (!client.ok()) {
    std::fprintf(stderr, "edgesketch-collector --init-clickhouse: %s\n",
                 client.status().message().c_str());
    return 1;
  }
  const clickhouse::SchemaOptions schema = clickhouse_schema_options(config);
  if (Status s = clickhouse::init_schema(**client, schema); !s.ok()) {
    std::fprintf(stderr, "edgesketch-collector --init-clickhouse: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%s: database %s ready (schema version %d): tables", config.clickhouse.url.c_str(),
              schema.database.c_str(), clickhouse::kSchemaVersion);
  for (const clickhouse::TableSpec& t : clickhouse::schema_tables(schema)) {
    std::printf(" %s", t.name.c_str());
  }
  std::printf("\n");
  return 0;
}

}  // namespace edgesketch::collector
