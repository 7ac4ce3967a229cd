// edgesketch-agent: the gateway daemon. Ingests device readings from the local MQTT broker and
// UDP, aggregates them into windowed sketches and forwards them, store-and-forward, upstream.
//
//   edgesketch-agent --config /etc/edgesketch/agent.toml
//   edgesketch-agent --check-config --config FILE
//
// Signals: SIGTERM/SIGINT flush every open window to the outbox and exit 0; SIGHUP re-reads the
// config file's rules, [enrich] (and its registry file), [privacy] and [[filter]]s. systemd:
// READY=1 once the journal is replayed and every thread runs, WATCHDOG=1 from the main loop
// (daemon::run_main_loop) while the aggregator thread is alive.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "app/agent_app.h"
#include "config/agent_config.h"
#include "edgesketch/common/logging.h"
#include "edgesketch/common/version.h"
#include "edgesketch/daemon/command_line.h"
#include "edgesketch/daemon/daemon.h"
#include "process/edge_processor.h"

namespace edgesketch::agent {
namespace {

int run(AgentConfig config, const std::string& config_path) {
  daemon::Signals signals;  // before any thread starts
  daemon::Notifier notifier;
  auto app = AgentApp::create(std::move(config));
  if (!app.ok()) {
    spdlog::critical("cannot start: {}", app.status().to_string());
    return 1;
  }
  if (Status s = (*app)->start(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.to_string());
    return 1;
  }
  spdlog::info("edgesketch-agent {} running (config {}, metrics port {})", kVersion, config_path,
               (*app)->metrics_port());

  daemon::MainLoopHooks hooks;
  hooks.ready_status = "running";
  hooks.reload = [&] {
    auto fresh = load_agent_config(config_path);
    if (!fresh.ok()) {
      spdlog::error("SIGHUP: {} not reloaded, keeping the old rules: {}", config_path,
                    fresh.status().message());
      (*app)->reload_rejected();
      return;
    }
    // The registry and key files are read here, off the aggregator thread.
    auto processor = EdgeProcessor::create(fresh->processing);
    if (!processor.ok()) {
      spdlog::error("SIGHUP: {} not reloaded, keeping the old rules, registry and filters: {}",
                    config_path, processor.status().message());
      (*app)->reload_rejected();
      return;
    }
    const std::size_t n = fresh->rules.size();
    const std::size_t devices = (*processor)->stats().registry_devices;
    if (Status s = (*app)->reload(std::move(fresh->rules), std::move(*processor)); s.ok()) {
      spdlog::info(
          "SIGHUP: {} rules, {} filters and a registry of {} devices of {} in effect (other "
          "sections need a restart)",
          n, fresh->processing.filters.size(), devices, config_path);
    } else if (s.code() == StatusCode::kUnavailable) {
      spdlog::warn("SIGHUP: the rules of {}: {}", config_path, s.message());
    } else {
      spdlog::error("SIGHUP: the rules of {} were refused, keeping the old rules: {}", config_path,
                    s.message());
    }
  };
  hooks.healthy = [&] { return (*app)->healthy(); };
  hooks.unhealthy_message = "the aggregator thread is stuck";
  daemon::run_main_loop(signals, notifier, hooks);

  spdlog::info("stopping: inputs, then flushing every open window to the outbox");
  (*app)->stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace edgesketch::agent

int main(int argc, char** argv) {
  using namespace edgesketch;
  const std::string program = "edgesketch-agent";
  CLI::App app{"edgesketch-agent: windowed sketches of device readings, durable store-and-forward",
               program};
  daemon::DaemonFlags flags{.config_path = "/etc/edgesketch/agent.toml"};
  daemon::add_daemon_flags(app, program, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto config = agent::load_agent_config(flags.config_path);
  if (!config.ok()) {
    daemon::print_error(program, config.status().message());
    return 2;
  }
  if (flags.check_only) {
    daemon::print_config_warnings(program, config->warnings);
    // The registry and the key file are part of the config: a registry that does not parse
    // fails here with its line, not at start.
    auto processor = agent::EdgeProcessor::create(config->processing);
    if (!processor.ok()) {
      daemon::print_error(program, processor.status().message());
      return 2;
    }
    std::printf("%s: OK (%zu inputs, %zu rules, %zu filters, registry of %llu devices)\n",
                flags.config_path.c_str(), config->inputs.size(), config->rules.size(),
                config->processing.filters.size(),
                static_cast<unsigned long long>((*processor)->stats().registry_devices));
    return 0;
  }
  if (!daemon::start_logging(LogOptions{.program = program}, config->warnings)) return 2;
  return agent::run(std::move(*config), flags.config_path);
}
