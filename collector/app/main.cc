// edgesketch-collector: subscribes to the agents' window batches, stores them exactly once in
// the columnar sketch store and serves the Prometheus-compatible query API.
//
//   edgesketch-collector --config /etc/edgesketch/collector.toml
//   edgesketch-collector --check-config --config FILE
//   edgesketch-collector --init-clickhouse --config FILE   # the ClickHouse store's tables
//
// Signals: SIGTERM/SIGINT stop ingest, let the last acks out, flush the memtable and exit;
// SIGHUP puts the config's gateway credentials in effect again ([[gateway]], gateways_file); the
// rest of the config is read at start. systemd: READY=1 once the store is open and the HTTP API
// listens, RELOADING=1 and READY=1 around a SIGHUP, WATCHDOG=1 from the main loop
// (daemon::run_main_loop) unless a periodic flush is stuck. The daemon is CollectorApp
// (app/collector_app.h); this file parses the flags and runs it.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <utility>

#include "app/clickhouse_backend.h"
#include "app/collector_app.h"
#include "app/config.h"
#include "edgesketch/common/logging.h"
#include "edgesketch/common/version.h"
#include "edgesketch/daemon/command_line.h"
#include "edgesketch/daemon/daemon.h"
#include "edgesketch/store/store.h"

namespace edgesketch::collector {
namespace {

int run(CollectorConfig config, const std::string& config_path) {
  // A scan allocates and frees its cells and answer (hundreds of MB for a large one): keep
  // that memory mapped, in one arena that every thread reuses, rather than faulting it in again
  // for every query.
  if (config.retained_memory_bytes > 0 &&
      !daemon::tune_allocator(config.retained_memory_bytes, 1)) {
    spdlog::warn("malloc settings (M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX) refused");
  }
  daemon::Signals signals;  // before any thread starts
  daemon::Notifier notifier;
  const std::string data_dir = config.data_dir;
  auto app = CollectorApp::create(std::move(config));
  if (!app.ok()) {
    spdlog::critical("cannot start: {}", app.status().to_string());
    return 1;
  }
  if (Status s = (*app)->start(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.to_string());
    return 1;
  }
  spdlog::info("edgesketch-collector {} serving http://{}:{} (config {}), data in {}", kVersion,
               (*app)->http_host(), (*app)->http_port(), config_path, data_dir);

  daemon::MainLoopHooks hooks;
  hooks.ready_status = "serving";
  // SIGHUP: reads the config again and puts its [[gateway]] blocks and gateways_file in effect
  // (added gateways may ingest, removed ones are refused). Everything else applies at restart.
  hooks.reload = [&] {
    auto fresh = load_collector_config(config_path);
    if (!fresh.ok()) {
      (*app)->reload_rejected();
      spdlog::error("SIGHUP: {} does not load, the gateways in effect stay: {}", config_path,
                    fresh.status().to_string());
      return;
    }
    (*app)->reload_gateways(*fresh);
  };
  hooks.healthy = [&] { return (*app)->healthy(); };
  hooks.unhealthy_message = "a periodic flush of the store has not returned for 30 s";
  daemon::run_main_loop(signals, notifier, hooks);

  spdlog::info("stopping: no new batches, acking what is durable, flushing the memtable");
  (*app)->stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace edgesketch::collector

int main(int argc, char** argv) {
  using namespace edgesketch;
  const std::string program = "edgesketch-collector";
  CLI::App app{
      "edgesketch-collector: exactly-once ingest of window sketches, columnar sketch "
      "store and Prometheus-compatible query API",
      program};
  daemon::DaemonFlags flags{.config_path = "/etc/edgesketch/collector.toml"};
  daemon::add_daemon_flags(app, program, flags);
  bool init_ch = false;
  app.add_flag("--init-clickhouse", init_ch,
               "Create or migrate the tables of the ClickHouse store ([clickhouse] in the config; "
               "idempotent), check them and exit");
  std::string backup_dest;
  CLI::App* backup = app.add_subcommand(
      "backup",
      "Copy the store of the config's data_dir into DEST, consistently, while the collector "
      "runs (restore: stop it, put DEST in place of data_dir, start it)");
  backup->add_option("-c,--config", flags.config_path, "Config file (TOML)");
  backup->add_option("dest", backup_dest, "An empty or missing directory")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto config = collector::load_collector_config(flags.config_path);
  if (!config.ok()) {
    daemon::print_error(program, config.status().message());
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
  if (init_ch) return collector::init_clickhouse(*config, flags.config_path);
  if (flags.check_only) {
    daemon::print_config_warnings(program, config->warnings);
    std::printf("%s: OK (%zu tenants, tiers", flags.config_path.c_str(), config->tenants.size());
    for (auto t : config->store.tiers_ms) std::printf(" %us", t / 1000);
    std::printf(")\n");
    return 0;
  }
  if (!daemon::start_logging(LogOptions{.level = config->log_level, .program = program},
                             config->warnings)) {
    return 2;
  }
  return collector::run(std::move(*config), flags.config_path);
}
