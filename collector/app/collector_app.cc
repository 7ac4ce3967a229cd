// The collector daemon's wiring (collector_app.h): the store, the query side, the ingest
// service with its acks after the WAL fsync, the HTTP server, the MQTT link, the periodic flush
// and SIGHUP's gateway reload.
#include "app/collector_app.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "app/clickhouse_backend.h"
#include "app/store_metrics.h"
#include "app/store_source.h"
#include "edgesketch/clickhouse/series_source.h"
#include "edgesketch/daemon/daemon.h"
#include "edgesketch/daemon/metrics.h"
#include "edgesketch/http/http_server.h"
#include "edgesketch/net/mqtt_link.h"
#include "edgesketch/query/query_engine.h"
#include "edgesketch/query/range_query_cache.h"
#include "edgesketch/store/store.h"
#include "ingest/ingest_service.h"

namespace edgesketch::collector {
namespace {

// healthy() turns false while one periodic flush has not returned for this long.
constexpr std::int64_t kFlushStuckMs = 30'000;

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

// POST /api/v1/ingest goes through the same path as MQTT.
class HttpIngest final : public http::IngestSink {
 public:
  explicit HttpIngest(IngestService& service) : service_(service) {}
  Status ingest(std::string_view tenant, std::string_view gateway, ByteSpan body) override {
    return service_.ingest_http(tenant, gateway, body);
  }

 private:
  IngestService& service_;
};

// The gateway credentials of `config` whose tenant is one of `tenants`: the (tenant, id) pairs
// MQTT batches may come from and the HTTP ingest tokens.
struct GatewaySet {
  std::set<std::pair<std::string, std::string>> ids;
  std::map<std::string, http::IngestCredential> tokens;
  std::size_t skipped = 0;  // gateways of tenants not in `tenants`
};
GatewaySet gateway_set(const CollectorConfig& config, const std::set<std::string>& tenants) {
  GatewaySet out;
  for (const GatewayConfig& g : config.gateways) {
    if (!tenants.count(g.tenant)) {
      ++out.skipped;
      continue;
    }
    out.ids.emplace(g.tenant, g.id);
    out.tokens[g.token] = http::IngestCredential{g.tenant, g.id};
  }
  return out;
}

}  // namespace

struct CollectorApp::Impl {
  Impl(CollectorConfig c, const Clock& clk) : config(std::move(c)), clock(clk) {}
  // Monotonic milliseconds of `clock`: the flush interval and the flush thread's health.
  std::int64_t mono_ms() const { return clock.monotonic_ns() / 1'000'000; }
  void run_flusher();
  Status open_clickhouse();

  const CollectorConfig config;
  const Clock& clock;
  daemon::MetricsRegistry metrics;      // outlives everything that counts in it
  std::unique_ptr<store::Store> store;  // the embedded store; null with ClickHouse
  std::unique_ptr<BatchSink> sink;      // where ingest stores batches
  // The query side.
  std::unique_ptr<query::SeriesSource> source;
  std::unique_ptr<query::QueryEngine> engine;
  std::unique_ptr<query::RangeQueryCache> cache;
  // The ingest side. The link outlives the ingest service, whose ack thread publishes through
  // it.
  std::unique_ptr<net::MqttLink> link;
  std::set<std::string> tenants;  // configured at start; a reload keeps them
  std::unique_ptr<IngestService> ingest;
  std::unique_ptr<HttpIngest> http_ingest;
  std::string http_host;
  std::unique_ptr<http::HttpServer> server;

  // The flush thread's.
  std::thread flush_thread;
  std::mutex flush_mu;  // guards flush_stop
  std::condition_variable flush_cv;
  bool flush_stop = false;
  std::atomic<bool> flushing{false};
  std::atomic<std::int64_t> flush_started_ms{0};  // mono_ms() when the current flush began

  bool started = false;  // the main thread's
  bool stopped = false;
};

// [store] backend = "clickhouse": the ingest sink and the query source over the tables. The
// tables must be there (--init-clickhouse); ClickHouse itself may be down at start, like any
// time later: batches then wait, unacked, until it answers.
Status CollectorApp::Impl::open_clickhouse() {
  const clickhouse::ClientOptions options = clickhouse_client_options(config.clickhouse);
  auto client = clickhouse::Client::create(options);
  if (!client.ok()) return client.status();
  const clickhouse::SchemaOptions schema = clickhouse_schema_options(config);
  Status checked = clickhouse::check_schema(**client, schema);
  if (checked.code() == StatusCode::kUnavailable) {
    spdlog::warn("ClickHouse at {} does not answer ({}); batches wait, unacked, until it does",
                 options.url, checked.message());
  } else if (!checked.ok()) {
    return Status::failed_precondition("the ClickHouse store at " + options.url +
                                       " is not ready: " + checked.message() +
                                       " (edgesketch-collector --init-clickhouse sets it up)");
  } else {
    spdlog::info("ClickHouse store at {}, database {} (schema version {})", options.url,
                 schema.database, clickhouse::kSchemaVersion);
  }
  sink = std::make_unique<ClickHouseBatchSink>(config, std::move(*client), metrics, clock);
  source = std::make_unique<clickhouse::ClickHouseSeriesSource>(options, schema);
  return Status();
}

CollectorApp::CollectorApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CollectorApp::~CollectorApp() { stop(); }

Result<std::unique_ptr<CollectorApp>> CollectorApp::create(CollectorConfig config_in,
                                                           CollectorDeps deps) {
  auto impl =
      std::make_unique<Impl>(std::move(config_in), deps.clock ? *deps.clock : system_clock());
  const CollectorConfig& config = impl->config;
  const Clock& clock = impl->clock;
  daemon::MetricsRegistry& metrics = impl->metrics;

  if (config.backend == StoreBackend::kClickHouse) {
    // Stateless: the tables in ClickHouse are the store, shared with the other collectors.
    ES_RETURN_IF_ERROR(impl->open_clickhouse());
  } else {
    const auto opened_at = std::chrono::steady_clock::now();
    store::StoreOptions store_options = config.store;
    store_options.clock = &clock;
    store_options.env = deps.env;
    auto store = store::Store::open(config.data_dir, store_options);
    if (!store.ok()) {
      return Status(store.status().code(), "cannot open the store in " + config.data_dir + ": " +
                                               store.status().message());
    }
    impl->store = std::move(*store);
    const double open_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_at).count();
    {
      const store::StoreStats st = impl->store->stats();
      spdlog::info(
          "store open in {:.2f} s: {} series, {} parts, {} batches replayed from the WAL, "
          "{} parts quarantined",
          open_s, st.series, st.parts, st.wal_replayed_batches, st.parts_quarantined);
    }
    register_store_metrics(metrics, *impl->store);
    metrics.gauge("edgesketch_collector_recovery_seconds", "Time the store took to open")
        .set(open_s);
    impl->sink = std::make_unique<StoreBatchSink>(*impl->store);
    impl->source = std::make_unique<StoreSeriesSource>(*impl->store);
  }
  daemon::Gauge& mqtt_up =
      metrics.gauge("edgesketch_collector_mqtt_connected", "1 while connected to the broker");

  // The query side.
  query::EngineOptions engine_options;
  engine_options.lookback_ms = config.lookback_ms;
  impl->engine = std::make_unique<query::QueryEngine>(*impl->source, engine_options);
  query::RangeQueryCacheOptions cache_options;
  cache_options.max_bytes = config.query_cache_bytes;
  // With ClickHouse, other collectors write too, and only a collector's own ingest invalidates
  // its cache: every query reads the tables instead, so that all collectors answer alike.
  if (config.backend == StoreBackend::kEmbedded) {
    impl->cache = std::make_unique<query::RangeQueryCache>(cache_options, clock);
  }

  // The ingest side; publishes acks through the MQTT link created below.
  IngestOptions ingest_options;
  ingest_options.topic_prefix = config.mqtt.topic_prefix;
  for (const TenantConfig& t : config.tenants) ingest_options.tenants.insert(t.name);
  impl->tenants = ingest_options.tenants;
  GatewaySet gateways = gateway_set(config, ingest_options.tenants);
  ingest_options.gateways = gateways.ids;
  metrics.gauge("edgesketch_collector_gateways", "Gateways with ingest credentials in effect")
      .set(static_cast<double>(gateways.ids.size()));
  impl->ingest = std::make_unique<IngestService>(
      *impl->sink, ingest_options,
      [&link = impl->link](const std::string& topic, ByteSpan payload) -> Status {
        if (!link) return Status::unavailable("no MQTT link");
        return link->publish(topic, payload, 1);
      },
      metrics, &clock);
  impl->http_ingest = std::make_unique<HttpIngest>(*impl->ingest);

  http::HttpServerOptions http_options;
  auto listen = daemon::parse_listen_address(config.http_listen);
  if (!listen.ok()) return listen.status();
  http_options.bind_address = listen->first;
  http_options.port = listen->second;
  http_options.query_queue_timeout_ms = config.query_queue_timeout_ms;
  http_options.max_ingest_bytes = config.store.limits.max_payload_bytes;
  http_options.ingest_tokens = gateways.tokens;
  http_options.worker_threads = config.http_worker_threads;
  http_options.reserved_workers = config.http_reserved_workers;
  http_options.max_query_workers_per_tenant = config.max_query_workers_per_tenant;
  http_options.header_timeout_ms = config.header_timeout_ms;
  http_options.max_streams = static_cast<std::size_t>(config.max_streams);
  http_options.max_streams_per_tenant = static_cast<std::size_t>(config.max_streams_per_tenant);
  http_options.stream_buffer_bytes = config.stream_buffer_bytes;
  http_options.stream_keepalive_ms = config.stream_keepalive_ms;
  http_options.stream_delay_ms = config.stream_delay_ms;
  http_options.session_ttl_ms = config.session_ttl_ms;
  for (const TenantConfig& t : config.tenants) {
    for (const std::string& token : t.tokens) http_options.tokens[token] = t.name;
    http::TenantLimits limits;
    limits.max_series_per_query = t.max_series_per_query;
    limits.max_points_per_query = t.max_points_per_query;
    limits.max_concurrent_queries = t.max_concurrent_queries;
    http_options.tenant_limits[t.name] = limits;
  }
  http_options.extra_metrics = [&metrics] { return metrics.render(); };
  impl->http_host = http_options.bind_address;
  impl->server = std::make_unique<http::HttpServer>(http_options, *impl->engine, clock,
                                                    impl->cache.get(), impl->http_ingest.get());
  impl->ingest->set_on_applied(
      [&server = *impl->server](const std::string& tenant, std::int64_t lo, std::int64_t hi) {
        server.data_applied(tenant, lo, hi);
      });

  if (config.mqtt.enabled) {
    net::MqttLinkOptions o;
    o.connection = config.mqtt.connection;
    o.name = "uplink";
    std::string filter = config.mqtt.topic_prefix + "/+/+/windows";
    if (!config.mqtt.share_group.empty())
      filter = "$share/" + config.mqtt.share_group + "/" + filter;
    o.subscriptions = {{filter, 1}};
    auto created = net::MqttLink::create(
        o,
        [&ingest = *impl->ingest](const std::string& topic, ByteSpan payload) {
          ingest.on_message(topic, payload);
        },
        [&mqtt_up](bool connected) { mqtt_up.set(connected ? 1 : 0); });
    if (!created.ok()) return created.status();
    impl->link = std::move(*created);
  }
  return std::unique_ptr<CollectorApp>(new CollectorApp(std::move(impl)));
}

Status CollectorApp::start() {
  Impl& m = *impl_;
  m.ingest->start();
  Status started = m.server->start();
  if (!started.ok()) {
    m.ingest->stop();
    return started;
  }
  if (m.link) m.link->start();
  if (m.store) m.flush_thread = std::thread([&m] { m.run_flusher(); });
  m.started = true;
  return Status();
}

void CollectorApp::Impl::run_flusher() {
  std::int64_t last_flush = mono_ms();
  std::unique_lock lock(flush_mu);
  for (;;) {
    const std::int64_t due_in = config.flush_interval_ms - (mono_ms() - last_flush);
    if (due_in > 0) {
      // At most a second at a time: the clock may be one a test moves.
      flush_cv.wait_for(lock, std::chrono::milliseconds(std::min<std::int64_t>(due_in, 1000)),
                        [&] { return flush_stop; });
    }
    if (flush_stop) return;
    if (mono_ms() - last_flush < config.flush_interval_ms) continue;
    lock.unlock();
    flush_started_ms.store(mono_ms());
    flushing.store(true);
    Status f = store->flush();
    if (!f.ok()) spdlog::error("periodic flush failed: {}", f.to_string());
    flushing.store(false);
    last_flush = mono_ms();
    lock.lock();
  }
}

void CollectorApp::reload_gateways(const CollectorConfig& fresh) {
  Impl& m = *impl_;
  GatewaySet set = gateway_set(fresh, m.tenants);
  const std::size_t n = set.ids.size();
  m.ingest->set_gateways(std::move(set.ids));
  m.server->set_ingest_tokens(std::move(set.tokens));
  m.metrics.gauge("edgesketch_collector_gateways", "Gateways with ingest credentials in effect")
      .set(static_cast<double>(n));
  m.metrics
      .counter("edgesketch_collector_config_reloads_total", "SIGHUP reloads, by result",
               {{"result", "applied"}})
      .inc();
  spdlog::info(
      "SIGHUP: {} gateways in effect{}; other config changes (tenants, store, ...) apply at the "
      "next restart",
      n,
      set.skipped ? fmt::format(" ({} of tenants that need a restart left out)", set.skipped)
                  : std::string());
}

void CollectorApp::reload_rejected() {
  impl_->metrics
      .counter("edgesketch_collector_config_reloads_total", "SIGHUP reloads, by result",
               {{"result", "rejected"}})
      .inc();
}

void CollectorApp::stop() {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  if (!m.started) return;
  {
    std::lock_guard lock(m.flush_mu);
    m.flush_stop = true;
  }
  m.flush_cv.notify_all();
  if (m.flush_thread.joinable()) m.flush_thread.join();
  m.server->set_ready(false);
  if (m.link) m.link->stop();  // no new messages; the ack thread may still publish (ignored)
  m.ingest->stop();
  m.server->stop();
  Status f = m.store ? m.store->flush() : Status();
  if (!f.ok()) {
    spdlog::error("final flush failed (the WAL still holds the data): {}", f.to_string());
  }
}

bool CollectorApp::healthy() const {
  const Impl& m = *impl_;
  return !m.flushing.load() || m.mono_ms() - m.flush_started_ms.load() < kFlushStuckMs;
}

std::string CollectorApp::render_metrics() const { return impl_->metrics.render(); }

const std::string& CollectorApp::http_host() const { return impl_->http_host; }

int CollectorApp::http_port() const { return impl_->server->port(); }

}  // namespace edgesketch::collector
