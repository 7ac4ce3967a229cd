// The collector's configuration (/etc/edgesketch/collector.toml): see packaging/collector.toml
// for every key with its default and meaning. The [mqtt] connection keys are read by es_config's
// config::read_mqtt_connection, the same reader as the agent's [[input]] and [uplink].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_connection.h"
#include "edgesketch/store/store.h"

namespace edgesketch::collector {

// [mqtt]
struct MqttConfig {
  bool enabled = true;
  // The broker the agents publish to (the keys of config::read_mqtt_connection). client_id must
  // be stable and unique on the broker: the persistent session (queued batches) is kept under it.
  net::MqttConnection connection{.client_id = "edgesketch-collector"};
  std::string topic_prefix = "edgesketch/v1";
  // Non-empty: subscribe as $share/<group>/... so several collectors split the load.
  std::string share_group;
};

struct TenantConfig {
  std::string name;
  // Read tokens of this tenant: the query API only (POST /api/v1/ingest with one is 403).
  std::vector<std::string> tokens;
  std::uint64_t max_series = 1'000'000;
  std::uint64_t max_series_per_query = 10'000;
  std::uint64_t max_points_per_query = 5'000'000;
  std::uint64_t max_concurrent_queries = 8;
};

// One gateway's ingest credential ([[gateway]] or a line of gateways_file): its token may
// POST /api/v1/ingest batches whose gateway_id is `id`, for `tenant`.
struct GatewayConfig {
  std::string id;
  std::string tenant;
  std::string token;
};

// [store] backend: where the window rows live.
enum class StoreBackend {
  kEmbedded,    // the collector's own store under data_dir (docs/collector-store.md)
  kClickHouse,  // the tables of [clickhouse], shared by any number of collectors (docs/scaling.md)
};

// [clickhouse]: the server of the ClickHouse store, and of `--init-clickhouse`.
struct ClickHouseConfig {
  std::string url;  // http(s)://HOST:PORT of ClickHouse's HTTP interface; "" = not configured
  std::string database = "edgesketch";
  std::string user = "default";
  std::string password;  // the first line of password_file, read with the config
  std::string password_file;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::int64_t connect_timeout_ms = 2'000;
  std::int64_t request_timeout_ms = 30'000;
  int max_attempts = 3;
};

inline constexpr std::uint64_t kDefaultRetainedMemoryBytes = 1ull << 30;

struct CollectorConfig {
  std::string data_dir = "/var/lib/edgesketch/collector";
  std::string log_level = "info";
  MqttConfig mqtt;
  std::string http_listen = "127.0.0.1:9780";
  std::int64_t lookback_ms = 300'000;
  std::uint64_t query_cache_bytes = 64ull << 20;
  // A query over its tenant's max_concurrent_queries waits this long for a slot, then 503.
  std::int64_t query_queue_timeout_ms = 10'000;
  // HTTP worker threads, those queries never occupy, and those one tenant's queries may occupy
  // (0: half of the query workers); see http::HttpServerOptions.
  int http_worker_threads = 16;
  int http_reserved_workers = 2;
  int max_query_workers_per_tenant = 0;
  // A client must send a request's line and headers within this time from its first byte.
  std::int64_t header_timeout_ms = 10'000;
  // Live streams (GET /api/v1/stream) and the live page's sessions; see http::HttpServerOptions.
  int max_streams = 64;
  int max_streams_per_tenant = 16;
  std::uint64_t stream_buffer_bytes = 1ull << 20;
  std::int64_t stream_keepalive_ms = 15'000;
  std::int64_t stream_delay_ms = 6'000;
  std::int64_t session_ttl_ms = 12 * 3600 * 1000;
  std::vector<TenantConfig> tenants;
  // [[gateway]] blocks and the lines of [collector] gateways_file. When there is at least one,
  // MQTT batches of gateways not listed are rejected (unknown_gateway).
  std::vector<GatewayConfig> gateways;
  std::string gateways_file;
  // Freed heap memory kept mapped for the next queries (glibc's M_TRIM_THRESHOLD, with one malloc
  // arena); 0 leaves glibc's defaults. See daemon::tune_allocator().
  std::uint64_t retained_memory_bytes = kDefaultRetainedMemoryBytes;
  store::StoreOptions store;
  StoreBackend backend = StoreBackend::kEmbedded;
  ClickHouseConfig clickhouse;
  // How often the memtable is flushed into parts even when under its budget (bounds WAL replay).
  std::int64_t flush_interval_ms = 300'000;
  // What loads but deserves the operator's attention (deprecated key spellings), one
  // "<file>: '<key path>': <what>" line each. The daemon logs them at start and --check-config
  // prints them.
  std::vector<std::string> warnings;
};

// Reads and validates a config file: unknown keys, type errors and inconsistent values are
// errors naming the key; deprecated key spellings load, with a line in `warnings`.
Result<CollectorConfig> load_collector_config(const std::string& path);
Result<CollectorConfig> parse_collector_config(std::string_view text, const std::string& name);

// Reads a gateways file: one gateway per line, "<tenant> <gateway_id> <token>", separated by
// blanks; '#' starts a comment. Errors name the file and line.
Result<std::vector<GatewayConfig>> load_gateways_file(const std::string& path);

}  // namespace edgesketch::collector
