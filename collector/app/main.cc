// edgesketch-collector: subscribes to the agents' window batches, stores them exactly once in
// the columnar sketch store and serves the Prometheus-compatible query API.
//
//   edgesketch-collector --config /etc/edgesketch/collector.toml
//   edgesketch-collector --check-config --config FILE
//
// Signals: SIGTERM/SIGINT stop ingest, let the last acks out, flush the memtable and exit;
// SIGHUP puts the config's gateway credentials in effect again ([[gateway]], gateways_file); the
// rest of the config is read at start. systemd: READY=1 once the store is open and
// the HTTP API listens, WATCHDOG=1 from the main loop.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "app/config.h"
#include "app/store_source.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/common/logging.h"
#include "edgesketch/common/version.h"
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

// Store statistics as metrics, read at most once per scrape.
void register_store_metrics(daemon::MetricsRegistry& m, store::Store& store) {
  struct Cached {
    std::mutex mu;
    std::chrono::steady_clock::time_point at{};
    store::StoreStats stats;
  };
  auto cached = std::make_shared<Cached>();
  auto read = [cached, &store](auto field) {
    return [cached, &store, field]() -> double {
      std::lock_guard lock(cached->mu);
      const auto now = std::chrono::steady_clock::now();
      if (now - cached->at > std::chrono::milliseconds(500)) {
        cached->stats = store.stats();
        cached->at = now;
      }
      return static_cast<double>(field(cached->stats));
    };
  };
  using S = store::StoreStats;
  m.gauge_fn("edgesketch_collector_series", "Series in the catalog", {},
             read([](const S& s) { return s.series; }));
  m.counter_fn("edgesketch_collector_store_batches_total", "Batches the store applied", {},
               read([](const S& s) { return s.batches_applied; }));
  m.counter_fn("edgesketch_collector_store_duplicates_total",
               "Batches the dedupe ledger recognised as already applied", {},
               read([](const S& s) { return s.batches_duplicate; }));
  m.gauge_fn("edgesketch_collector_memtable_bytes", "Memtable size (estimated bytes)", {},
             read([](const S& s) { return s.memtable_bytes; }));
  m.gauge_fn("edgesketch_collector_wal_bytes", "WAL bytes on disk", {},
             read([](const S& s) { return s.wal_bytes; }));
  m.counter_fn("edgesketch_collector_wal_fsyncs_total", "WAL fsyncs (group commits)", {},
               read([](const S& s) { return s.wal_fsyncs; }));
  m.gauge_fn("edgesketch_collector_parts", "Immutable parts", {},
             read([](const S& s) { return s.parts; }));
  m.gauge_fn("edgesketch_collector_part_bytes", "Bytes of all parts", {},
             read([](const S& s) { return s.part_bytes; }));
  m.counter_fn("edgesketch_collector_merges_total", "Part merges", {},
               read([](const S& s) { return s.merges; }));
  m.counter_fn("edgesketch_collector_flushes_total", "Memtable flushes", {},
               read([](const S& s) { return s.flushes; }));
  m.counter_fn("edgesketch_collector_partitions_dropped_total", "Partitions dropped by retention",
               {}, read([](const S& s) { return s.partitions_dropped; }));
  m.gauge_fn("edgesketch_collector_parts_quarantined",
             "Parts moved to quarantine/ at the last start (failed checksums)", {},
             read([](const S& s) { return s.parts_quarantined; }));
  m.counter_fn("edgesketch_collector_corrupt_blocks_total",
               "Corrupt part blocks found by scans and merges", {},
               read([](const S& s) { return s.corrupt_blocks; }));
  m.counter_fn("edgesketch_collector_ledger_forced_gaps",
               "Gaps in a gateway's batch seqs the dedupe ledger declared applied to stay within "
               "its bound (a batch from such a gap would be taken for a duplicate)",
               {}, read([](const S& s) { return s.ledger_forced_gaps; }));
  m.gauge_fn("edgesketch_collector_ledger_gateways", "Gateways the dedupe ledger knows", {},
             read([](const S& s) { return s.ledger_gateways; }));
  m.gauge_fn("edgesketch_collector_wal_segments_quarantined",
             "Closed WAL segments found damaged and moved to quarantine/ at the last start", {},
             read([](const S& s) { return s.wal_segments_quarantined; }));
  m.gauge_fn("edgesketch_collector_wal_batches_unreadable",
             "WAL batches that no longer decode or resolve, skipped at the last start", {},
             read([](const S& s) { return s.wal_batches_unreadable; }));
  const char* stall_help =
      "1 while that stage of the write path is stalled by a temporary fault (disk full, I/O "
      "error, failed fsync): batches are not acked and agents resend";
  m.gauge_fn("edgesketch_collector_store_stalled", stall_help, {{"stage", "wal"}},
             read([](const S& s) { return s.stalled_wal; }));
  m.gauge_fn("edgesketch_collector_store_stalled", stall_help, {{"stage", "catalog"}},
             read([](const S& s) { return s.stalled_catalog; }));
  m.gauge_fn("edgesketch_collector_store_stalled", stall_help, {{"stage", "flush"}},
             read([](const S& s) { return s.stalled_flush; }));
  m.counter_fn("edgesketch_collector_store_stalls_total",
               "Stall episodes of the store's write path since start", {},
               read([](const S& s) { return s.stalls; }));
}

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

// SIGHUP: reads the config again and puts its [[gateway]] blocks and gateways_file in effect
// (added gateways may ingest, removed ones are refused). Everything else applies at restart.
void reload_gateways(const std::string& config_path, const std::set<std::string>& tenants,
                     IngestService& ingest, http::HttpServer& server,
                     daemon::MetricsRegistry& metrics) {
  auto fresh = load_collector_config(config_path);
  if (!fresh.ok()) {
    metrics
        .counter("edgesketch_collector_config_reloads_total", "SIGHUP reloads, by result",
                 {{"result", "rejected"}})
        .inc();
    spdlog::error("SIGHUP: {} does not load, the gateways in effect stay: {}", config_path,
                  fresh.status().to_string());
    return;
  }
  GatewaySet set = gateway_set(*fresh, tenants);
  const std::size_t n = set.ids.size();
  ingest.set_gateways(std::move(set.ids));
  server.set_ingest_tokens(std::move(set.tokens));
  metrics.gauge("edgesketch_collector_gateways", "Gateways with ingest credentials in effect")
      .set(static_cast<double>(n));
  metrics
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

int run(const CollectorConfig& config, const std::string& config_path) {
  // A scan allocates and frees its cells and answer (hundreds of MB for a large one): keep
  // that memory mapped, in one arena that every thread reuses, rather than faulting it in again
  // for every query.
  if (config.retained_memory_bytes > 0 &&
      !daemon::tune_allocator(config.retained_memory_bytes, 1)) {
    spdlog::warn("malloc settings (M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX) refused");
  }
  daemon::Signals signals;  // before any thread starts
  daemon::Notifier notifier;
  SystemClock clock;

  const auto opened_at = std::chrono::steady_clock::now();
  store::StoreOptions store_options = config.store;
  store_options.clock = &clock;
  auto store = store::Store::open(config.data_dir, store_options);
  if (!store.ok()) {
    spdlog::critical("cannot open the store in {}: {}", config.data_dir,
                     store.status().to_string());
    return 1;
  }
  const double open_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_at).count();
  {
    const store::StoreStats st = (*store)->stats();
    spdlog::info(
        "store open in {:.2f} s: {} series, {} parts, {} batches replayed from the WAL, "
        "{} parts quarantined",
        open_s, st.series, st.parts, st.wal_replayed_batches, st.parts_quarantined);
  }

  daemon::MetricsRegistry metrics;
  register_store_metrics(metrics, **store);
  metrics.gauge("edgesketch_collector_recovery_seconds", "Time the store took to open").set(open_s);
  daemon::Gauge& mqtt_up =
      metrics.gauge("edgesketch_collector_mqtt_connected", "1 while connected to the broker");

  // The query side.
  StoreSeriesSource source(**store);
  query::EngineOptions engine_options;
  engine_options.lookback_ms = config.lookback_ms;
  query::QueryEngine engine(source, engine_options);
  query::RangeQueryCacheOptions cache_options;
  cache_options.max_bytes = config.query_cache_bytes;
  query::RangeQueryCache cache(cache_options, clock);

  // The ingest side; publishes acks through the MQTT link created below.
  std::unique_ptr<net::MqttLink> link;
  IngestOptions ingest_options;
  ingest_options.topic_prefix = config.mqtt.topic_prefix;
  for (const TenantConfig& t : config.tenants) ingest_options.tenants.insert(t.name);
  GatewaySet gateways = gateway_set(config, ingest_options.tenants);
  ingest_options.gateways = gateways.ids;
  metrics.gauge("edgesketch_collector_gateways", "Gateways with ingest credentials in effect")
      .set(static_cast<double>(gateways.ids.size()));
  IngestService ingest(
      **store, ingest_options,
      [&link](const std::string& topic, ByteSpan payload) -> Status {
        if (!link) return Status::unavailable("no MQTT link");
        return link->publish(topic, payload, 1);
      },
      metrics, &clock);
  HttpIngest http_ingest(ingest);

  http::HttpServerOptions http_options;
  auto listen = daemon::parse_listen_address(config.http_listen);
  if (!listen.ok()) {
    spdlog::critical("{}", listen.status().to_string());
    return 1;
  }
  http_options.bind_address = listen->first;
  http_options.port = listen->second;
  http_options.query_queue_timeout_ms = config.query_queue_timeout_ms;
  http_options.max_ingest_bytes = config.store.limits.max_payload_bytes;
  http_options.ingest_tokens = gateways.tokens;
  http_options.worker_threads = config.http_worker_threads;
  http_options.reserved_workers = config.http_reserved_workers;
  http_options.max_query_workers_per_tenant = config.max_query_workers_per_tenant;
  http_options.header_timeout_ms = config.header_timeout_ms;
  for (const TenantConfig& t : config.tenants) {
    for (const std::string& token : t.tokens) http_options.tokens[token] = t.name;
    http::TenantLimits limits;
    limits.max_series_per_query = t.max_series_per_query;
    limits.max_points_per_query = t.max_points_per_query;
    limits.max_concurrent_queries = t.max_concurrent_queries;
    http_options.tenant_limits[t.name] = limits;
  }
  http_options.extra_metrics = [&metrics] { return metrics.render(); };
  http::HttpServer server(http_options, engine, clock, &cache, &http_ingest);
  ingest.set_on_applied([&server](const std::string& tenant, std::int64_t lo, std::int64_t hi) {
    server.invalidate_cache(tenant, lo, hi);
  });
  ingest.start();

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
        [&ingest](const std::string& topic, ByteSpan payload) {
          ingest.on_message(topic, payload);
        },
        [&mqtt_up](bool connected) { mqtt_up.set(connected ? 1 : 0); });
    if (!created.ok()) {
      spdlog::critical("{}", created.status().to_string());
      return 1;
    }
    link = std::move(*created);
  }

  Status started = server.start();
  if (!started.ok()) {
    spdlog::critical("{}", started.to_string());
    return 1;
  }
  if (link) link->start();
  spdlog::info("edgesketch-collector {} serving http://{}:{} (config {}), data in {}", kVersion,
               http_options.bind_address, server.port(), config_path, config.data_dir);
  notifier.ready("serving");

  auto last_flush = std::chrono::steady_clock::now();
  const auto tick =
      notifier.watchdog_interval()
          ? std::chrono::duration_cast<std::chrono::milliseconds>(*notifier.watchdog_interval() / 3)
          : std::chrono::milliseconds(1000);
  for (;;) {
    const auto sig = signals.wait(std::min(tick, std::chrono::milliseconds(1000)));
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP)
      reload_gateways(config_path, ingest_options.tenants, ingest, server, metrics);
    notifier.watchdog();
    if (std::chrono::steady_clock::now() - last_flush >=
        std::chrono::milliseconds(config.flush_interval_ms)) {
      Status f = (*store)->flush();
      if (!f.ok()) spdlog::error("periodic flush failed: {}", f.to_string());
      last_flush = std::chrono::steady_clock::now();
    }
  }

  spdlog::info("stopping: no new batches, acking what is durable, flushing the memtable");
  notifier.stopping();
  server.set_ready(false);
  if (link) link->stop();  // no new messages; the ack thread may still publish (ignored)
  ingest.stop();
  server.stop();
  Status f = (*store)->flush();
  if (!f.ok()) {
    spdlog::error("final flush failed (the WAL still holds the data): {}", f.to_string());
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace edgesketch::collector

int main(int argc, char** argv) {
  using namespace edgesketch;
  CLI::App app{
      "edgesketch-collector: exactly-once ingest of window sketches, columnar sketch "
      "store and Prometheus-compatible query API",
      "edgesketch-collector"};
  std::string config_path = "/etc/edgesketch/collector.toml";
  bool check_only = false;
  app.add_option("-c,--config", config_path, "Config file (TOML)");
  app.add_flag("--check-config", check_only, "Validate the config file and exit");
  app.set_version_flag("--version", "edgesketch-collector " + std::string(kVersion));
  std::string backup_dest;
  CLI::App* backup = app.add_subcommand(
      "backup",
      "Copy the store of the config's data_dir into DEST, consistently, while the collector "
      "runs (restore: stop it, put DEST in place of data_dir, start it)");
  backup->add_option("-c,--config", config_path, "Config file (TOML)");
  backup->add_option("dest", backup_dest, "An empty or missing directory")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto config = collector::load_collector_config(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "edgesketch-collector: %s\n", config.status().message().c_str());
    return 2;
  }
  if (backup->parsed()) {
    store::BackupReport report;
    const auto t0 = std::chrono::steady_clock::now();
    Status s = store::backup_store(config->data_dir, backup_dest, report);
    if (!s.ok()) {
      std::fprintf(stderr, "edgesketch-collector backup: %s\n", s.to_string().c_str());
      return 1;
    }
    std::printf("backed up %s to %s: %" PRIu64 " parts (%" PRIu64 " bytes), %" PRIu64
                " WAL segments, the catalog and the MANIFEST in %.2f s (%d attempt%s)\n",
                config->data_dir.c_str(), backup_dest.c_str(), report.parts, report.part_bytes,
                report.wal_segments,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                report.attempts, report.attempts == 1 ? "" : "s");
    return 0;
  }
  if (check_only) {
    for (const std::string& w : config->warnings) {
      std::fprintf(stderr, "edgesketch-collector: warning: %s\n", w.c_str());
    }
    std::printf("%s: OK (%zu tenants, tiers", config_path.c_str(), config->tenants.size());
    for (auto t : config->store.tiers_ms) std::printf(" %us", t / 1000);
    std::printf(")\n");
    return 0;
  }
  LogOptions log;
  log.level = config->log_level;
  log.program = "edgesketch-collector";
  log.journald_style = std::getenv("JOURNAL_STREAM") != nullptr;
  if (Status s = configure_logging(log); !s.ok()) {
    std::fprintf(stderr, "edgesketch-collector: %s\n", s.to_string().c_str());
    return 2;
  }
  for (const std::string& w : config->warnings) spdlog::warn("{}", w);
  return collector::run(*config, config_path);
}
