#include "app/config.h"

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "edgesketch/common/units.h"
#include "edgesketch/config/mqtt_connection_reader.h"
#include "edgesketch/config/toml_reader.h"

namespace edgesketch::collector {

namespace {

Result<CollectorConfig> read(config::TomlDocument& doc) {
  CollectorConfig c;
  config::TomlTable root = doc.root();

  config::TomlTable col = root.table("collector");
  c.data_dir = col.string("data_dir", c.data_dir);
  c.log_level = col.string("log_level", c.log_level);
  c.retained_memory_bytes = col.bytes("retained_memory_bytes", c.retained_memory_bytes);
  c.gateways_file = col.string("gateways_file", c.gateways_file);
  col.finish();

  config::TomlTable mq = root.table("mqtt");
  MqttConfig& m = c.mqtt;
  m.enabled = mq.boolean("enabled", m.enabled);
  m.connection = config::read_mqtt_connection(mq, m.connection);
  m.topic_prefix = mq.string("topic_prefix", m.topic_prefix);
  m.share_group = mq.string("share_group", m.share_group);
  if (m.enabled && m.connection.uri.empty()) mq.error("broker", "is required (or enabled = false)");
  if (m.connection.client_id.empty()) mq.error("client_id", "must not be empty");
  mq.finish();

  config::TomlTable http = root.table("http");
  c.http_listen = http.string("listen", c.http_listen);
  c.lookback_ms = http.duration_ms("lookback", c.lookback_ms);
  c.query_cache_bytes = http.bytes("query_cache_bytes", c.query_cache_bytes);
  c.query_queue_timeout_ms = http.duration_ms("query_queue_timeout", c.query_queue_timeout_ms);
  c.http_worker_threads =
      static_cast<int>(http.integer("worker_threads", c.http_worker_threads, 2, 1024));
  c.http_reserved_workers =
      static_cast<int>(http.integer("reserved_workers", c.http_reserved_workers, 1, 1023));
  c.max_query_workers_per_tenant = static_cast<int>(
      http.integer("max_query_workers_per_tenant", c.max_query_workers_per_tenant, 0, 1024));
  c.header_timeout_ms = http.duration_ms("header_timeout", c.header_timeout_ms);
  c.max_streams = static_cast<int>(http.integer("max_streams", c.max_streams, 0, 4096));
  c.max_streams_per_tenant =
      static_cast<int>(http.integer("max_streams_per_tenant", c.max_streams_per_tenant, 0, 4096));
  c.stream_buffer_bytes = http.bytes("stream_buffer_bytes", c.stream_buffer_bytes);
  c.stream_keepalive_ms = http.duration_ms("stream_keepalive", c.stream_keepalive_ms);
  c.stream_delay_ms = http.duration_ms("stream_delay", c.stream_delay_ms);
  c.session_ttl_ms = http.duration_ms("session_ttl", c.session_ttl_ms);
  if (c.stream_buffer_bytes < 4096) http.error("stream_buffer_bytes", "must be at least 4KiB");
  if (c.stream_keepalive_ms <= 0) http.error("stream_keepalive", "must be positive");
  if (c.stream_delay_ms < 0) http.error("stream_delay", "must not be negative");
  if (c.session_ttl_ms <= 0) http.error("session_ttl", "must be positive");
  if (c.http_reserved_workers >= c.http_worker_threads) {
    http.error("reserved_workers", "must be less than worker_threads (queries need a worker)");
  }
  if (c.max_query_workers_per_tenant > c.http_worker_threads - c.http_reserved_workers) {
    http.error("max_query_workers_per_tenant",
               "must be at most worker_threads - reserved_workers (0: half of them)");
  }
  if (c.header_timeout_ms <= 0) http.error("header_timeout", "must be positive");
  http.finish();

  std::set<std::string> names, tokens;
  for (config::TomlTable t : root.tables("tenant")) {
    TenantConfig tc;
    tc.name = t.string("name");
    tc.tokens = t.strings("tokens");
    tc.max_series = static_cast<std::uint64_t>(t.integer(
        "max_series", static_cast<std::int64_t>(tc.max_series), 1, std::int64_t{1} << 40));
    tc.max_series_per_query = static_cast<std::uint64_t>(
        t.integer("max_series_per_query", static_cast<std::int64_t>(tc.max_series_per_query), 1,
                  std::int64_t{1} << 40));
    tc.max_points_per_query = static_cast<std::uint64_t>(
        t.integer("max_points_per_query", static_cast<std::int64_t>(tc.max_points_per_query), 1,
                  std::int64_t{1} << 40));
    tc.max_concurrent_queries = static_cast<std::uint64_t>(
        t.integer("max_concurrent_queries", static_cast<std::int64_t>(tc.max_concurrent_queries), 1,
                  std::int64_t{1} << 40));
    if (tc.name.empty() || tc.name.find_first_of("/+#") != std::string::npos) {
      t.error("name", "a tenant needs a name without '/', '+' or '#'");
    } else if (!names.insert(tc.name).second) {
      t.error("name", "tenant '" + tc.name + "' is defined twice");
    }
    for (const std::string& token : tc.tokens) {
      if (token.size() < 16) t.error("tokens", "a bearer token needs at least 16 characters");
      if (!tokens.insert(token).second) t.error("tokens", "a token belongs to two tenants");
    }
    t.finish();
    c.tenants.push_back(std::move(tc));
  }

  std::set<std::pair<std::string, std::string>> gateway_ids;
  auto check_gateway = [&](const GatewayConfig& g, const std::function<void(std::string)>& err) {
    if (g.id.empty() || g.id.find_first_of("/+#") != std::string::npos) {
      err("a gateway needs an id without '/', '+' or '#'");
    } else if (!names.count(g.tenant)) {
      err("gateway '" + g.id + "': tenant '" + g.tenant + "' is not a configured [[tenant]]");
    } else if (!gateway_ids.emplace(g.tenant, g.id).second) {
      err("gateway '" + g.id + "' of tenant '" + g.tenant + "' is defined twice");
    }
    if (g.token.size() < 16) {
      err("gateway '" + g.id + "': a token needs at least 16 characters");
    } else if (!tokens.insert(g.token).second) {
      err("gateway '" + g.id + "': its token is also another gateway's or a tenant's");
    }
  };
  for (config::TomlTable t : root.tables("gateway")) {
    GatewayConfig g;
    g.id = t.string("id");
    g.tenant = t.string("tenant");
    g.token = t.string("token");
    const std::string token_file = t.string("token_file");
    if (!token_file.empty()) {
      if (!g.token.empty()) t.error("token_file", "give token or token_file, not both");
      std::ifstream in(token_file);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        t.error("token_file", "cannot read '" + token_file + "'");
      } else {
        g.token = text.str();
        g.token.erase(g.token.find_last_not_of(" \t\r\n") + 1);
        g.token.erase(0, g.token.find_first_not_of(" \t\r\n"));
      }
    }
    check_gateway(g, [&](const std::string& m) { t.error("id", m); });
    t.finish();
    c.gateways.push_back(std::move(g));
  }

  config::TomlTable st = root.table("store");
  const std::string backend = st.string("backend", "embedded");
  if (backend == "clickhouse") {
    c.backend = StoreBackend::kClickHouse;
  } else if (backend != "embedded") {
    st.error("backend", "'" + backend + "' is not \"embedded\" or \"clickhouse\"");
  }
  std::vector<std::string> tiers = st.strings("tiers", {"10s", "1m", "1h"});
  std::vector<std::string> retention = st.strings("retention", {"7d", "90d", "0"});
  c.store.tiers_ms.clear();
  c.store.retention_ms.clear();
  for (const std::string& t : tiers) {
    auto ms = parse_duration_ms(t);
    if (!ms.ok() || *ms <= 0 || *ms > 86'400'000) {
      st.error("tiers", fmt::format("'{}' is not a tier resolution between 1s and 1d", t));
    } else {
      c.store.tiers_ms.push_back(static_cast<std::uint32_t>(*ms));
    }
  }
  for (const std::string& r : retention) {
    auto ms = parse_duration_ms(r);
    if (!ms.ok()) {
      st.error("retention", ms.status().message());
    } else {
      c.store.retention_ms.push_back(*ms);
    }
  }
  if (c.store.retention_ms.size() != c.store.tiers_ms.size()) {
    st.error("retention", "needs one entry per tier (\"0\" keeps a tier forever)");
  }
  c.store.memtable_bytes = st.bytes("memtable_bytes", c.store.memtable_bytes);
  c.store.group_commit_delay_us = static_cast<std::uint32_t>(
      st.duration_ms("group_commit_delay", c.store.group_commit_delay_us / 1000) * 1000);
  c.store.wal_segment_bytes = st.bytes("wal_segment_bytes", c.store.wal_segment_bytes);
  c.flush_interval_ms = st.duration_ms("flush_interval", c.flush_interval_ms);
  c.store.verify_parts_on_open = st.boolean("verify_parts_on_open", c.store.verify_parts_on_open);
  c.store.scan_dense_bytes = st.bytes("scan_memory_bytes", c.store.scan_dense_bytes);
  // 0: one per core, at most 4.
  c.store.scan_threads = static_cast<std::size_t>(
      st.integer("scan_threads", static_cast<std::int64_t>(c.store.scan_threads), 0, 64));
  // Label rollups: each entry a tag name or several joined by ',' ("site", "line,site").
  for (const std::string& set : st.strings("rollups")) {
    std::vector<std::string> labels;
    std::size_t from = 0;
    while (from <= set.size()) {
      const std::size_t comma = std::min(set.find(',', from), set.size());
      std::string label = set.substr(from, comma - from);
      label.erase(0, label.find_first_not_of(' '));
      label.erase(label.find_last_not_of(' ') + 1);
      if (label.empty() || label.starts_with("__")) {
        st.error("rollups", "'" + set + "': each entry is tag names joined by ',' (not '__…')");
        break;
      }
      labels.push_back(std::move(label));
      from = comma + 1;
    }
    c.store.rollups.push_back(std::move(labels));
  }
  st.finish();

  config::TomlTable ch = root.table("clickhouse");
  ClickHouseConfig& chc = c.clickhouse;
  chc.url = ch.string("url");
  chc.database = ch.string("database", chc.database);
  chc.user = ch.string("user", chc.user);
  chc.password_file = ch.string("password_file");
  chc.tls_ca_file = ch.string("tls_ca_file");
  chc.tls_cert_file = ch.string("tls_cert_file");
  chc.tls_key_file = ch.string("tls_key_file");
  chc.connect_timeout_ms = ch.duration_ms("connect_timeout", chc.connect_timeout_ms, 1, 600'000);
  chc.request_timeout_ms = ch.duration_ms("request_timeout", chc.request_timeout_ms, 1, 3'600'000);
  chc.max_attempts = static_cast<int>(ch.integer("max_attempts", chc.max_attempts, 1, 100));
  if (!chc.url.empty() && !chc.url.starts_with("http://") && !chc.url.starts_with("https://")) {
    ch.error("url", "'" + chc.url + "' is not http://HOST:PORT or https://HOST:PORT");
  }
  if (c.backend == StoreBackend::kClickHouse && chc.url.empty()) {
    ch.error("url", "[store] backend = \"clickhouse\" needs the server's url");
  }
  if (chc.database.empty() ||
      chc.database.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_") != std::string::npos) {
    ch.error("database", "'" + chc.database + "' is not a name of letters, digits and '_'");
  }
  if (chc.tls_cert_file.empty() != chc.tls_key_file.empty()) {
    ch.error("tls_cert_file", "a client certificate needs tls_key_file, and a key its certificate");
  }
  if (!chc.password_file.empty()) {
    std::ifstream in(chc.password_file);
    if (!std::getline(in, chc.password)) {
      ch.error("password_file", "cannot read '" + chc.password_file + "'");
    }
  }
  ch.finish();

  config::TomlTable lim = root.table("limits");
  wire::Limits& l = c.store.limits;
  l.max_payload_bytes = lim.bytes("max_payload_bytes", l.max_payload_bytes);
  l.max_records_per_batch = static_cast<std::size_t>(
      lim.integer("max_records_per_batch", static_cast<std::int64_t>(l.max_records_per_batch), 1,
                  std::int64_t{1} << 30));
  l.max_tags = static_cast<std::size_t>(
      lim.integer("max_tags", static_cast<std::int64_t>(l.max_tags), 1, std::int64_t{1} << 30));
  l.max_name_bytes = static_cast<std::size_t>(lim.integer(
      "max_name_bytes", static_cast<std::int64_t>(l.max_name_bytes), 1, std::int64_t{1} << 30));
  l.max_label_bytes = static_cast<std::size_t>(lim.integer(
      "max_label_bytes", static_cast<std::int64_t>(l.max_label_bytes), 1, std::int64_t{1} << 30));
  l.max_future_ms = lim.duration_ms("max_future", l.max_future_ms);
  l.max_past_ms = lim.duration_ms("max_past", l.max_past_ms);
  lim.finish();

  root.finish();
  ES_RETURN_IF_ERROR(doc.status());
  if (c.tenants.empty()) {
    return Status::invalid_argument(
        "no [[tenant]] configured: the HTTP API needs at least one tenant with a token");
  }
  if (!c.gateways_file.empty()) {
    ES_ASSIGN_OR_RETURN(auto listed, load_gateways_file(c.gateways_file));
    Status first;
    for (GatewayConfig& g : listed) {
      check_gateway(g, [&](const std::string& m) {
        if (first.ok()) first = Status::invalid_argument(c.gateways_file + ": " + m);
      });
      c.gateways.push_back(std::move(g));
    }
    ES_RETURN_IF_ERROR(first);
  }
  // Each tenant's own series limit.
  for (const TenantConfig& t : c.tenants) c.store.max_series_by_tenant[t.name] = t.max_series;
  c.warnings = doc.warnings();
  return c;
}

}  // namespace

Result<std::vector<GatewayConfig>> load_gateways_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::io_error("cannot read gateways file '" + path + "'");
  std::vector<GatewayConfig> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    GatewayConfig g;
    std::string extra;
    if (!(fields >> g.tenant)) continue;  // blank or comment
    if (!(fields >> g.id >> g.token) || (fields >> extra)) {
      return Status::invalid_argument(fmt::format(
          "{}:{}: expected '<tenant> <gateway_id> <token>' separated by blanks", path, n));
    }
    out.push_back(std::move(g));
  }
  return out;
}

Result<CollectorConfig> parse_collector_config(std::string_view text, const std::string& name) {
  ES_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::parse(text, name));
  return read(*doc);
}

Result<CollectorConfig> load_collector_config(const std::string& path) {
  ES_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::parse_file(path));
  return read(*doc);
}

}  // namespace edgesketch::collector
