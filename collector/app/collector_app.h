// CollectorApp: the edgesketch-collector daemon's parts wired together (docs/collector-store.md,
// docs/query.md, docs/operations.md). The same shape as the agent's AgentApp: create(),
// start(), stop(), healthy(), and the SIGHUP hooks main() calls through daemon::run_main_loop.
//
//   MQTT link (Paho's thread) -> IngestService::on_message -> Store::submit -> ack queue
//   HTTP workers: POST /api/v1/ingest -> IngestService::ingest_http (returns once durable)
//                 queries -> QueryEngine over StoreSeriesSource, RangeQueryCache
//   ack thread (IngestService): Store::wait_durable (the WAL fsync) -> Ack on .../ack
//   flush thread: Store::flush() every flush_interval_ms (bounds the WAL replayed at a start)
//
// Thread safety: create(), start(), reload_gateways(), reload_rejected() and stop() are called
// by the main thread only; healthy(), render_metrics(), http_port() and http_host() from any
// thread.
#pragma once

#include <memory>
#include <string>

#include "app/config.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/env/env.h"

namespace edgesketch::collector {

// What the daemon uses besides its config: main() passes the defaults; tests pass storage that
// fails or hangs on demand and a clock of their own.
struct CollectorDeps {
  // The file system the store writes through (StoreOptions::env); nullptr = env::Env::posix().
  // Not owned; must outlive the CollectorApp.
  env::Env* env = nullptr;
  // The clock of the store, the ingest checks (clock bounds), the query cache and the flush
  // interval; nullptr = the system clock. Not owned; must outlive the CollectorApp.
  const Clock* clock = nullptr;
};

class CollectorApp {
 public:
  // Opens the store (replaying its WAL; the time it took is logged and in
  // edgesketch_collector_recovery_seconds), registers the metrics and builds the query side, the
  // ingest service, the HTTP server and the MQTT link. Nothing serves yet (the store's
  // background merges aside). Errors name the part that failed.
  static Result<std::unique_ptr<CollectorApp>> create(CollectorConfig config,
                                                      CollectorDeps deps = {});
  ~CollectorApp();  // stop()
  CollectorApp(const CollectorApp&) = delete;
  CollectorApp& operator=(const CollectorApp&) = delete;

  // Starts the ack thread, the HTTP server (listening when this returns), the MQTT link and
  // the flush thread. Fails when the HTTP address cannot be bound.
  Status start();
  // SIGHUP with a config that loaded: puts its gateway credentials ([[gateway]], gateways_file)
  // in effect for the tenants configured at start (added gateways may ingest, removed ones are
  // refused; gateways of new tenants wait for a restart), shown in
  // edgesketch_collector_gateways and counted in
  // edgesketch_collector_config_reloads_total{result="applied"}. The rest of `fresh` applies at
  // the next restart.
  void reload_gateways(const CollectorConfig& fresh);
  // SIGHUP with a config that did not load: nothing changes; counted as result="rejected".
  void reload_rejected();
  // SIGTERM: /-/ready answers 503, no new MQTT batches, the acks of what is durable go out, the
  // HTTP server finishes its requests and stops, the memtable is flushed. Idempotent.
  void stop();

  // False while one periodic flush has not returned for 30 s (a hung disk): the watchdog then
  // restarts the collector.
  bool healthy() const;
  // Prometheus text of the collector's own metrics (what /metrics serves besides the HTTP
  // server's).
  std::string render_metrics() const;
  // The HTTP server's bound address (after start()).
  const std::string& http_host() const;
  int http_port() const;

  struct Impl;

 private:
  explicit CollectorApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgesketch::collector
