// The daemons' shared flags and start-up output (edgesketch/daemon/command_line.h).
#include "edgesketch/daemon/command_line.h"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "edgesketch/common/version.h"

namespace edgesketch::daemon {

void add_daemon_flags(CLI::App& app, const std::string& program, DaemonFlags& flags) {
  app.add_option("-c,--config", flags.config_path, "Config file (TOML)");
  app.add_flag("--check-config", flags.check_only, "Validate the config file and exit");
  app.set_version_flag("--version", program + " " + std::string(kVersion));
}

void print_error(const std::string& program, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", program.c_str(), message.c_str());
}

void print_config_warnings(const std::string& program, const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) {
    std::fprintf(stderr, "%s: warning: %s\n", program.c_str(), w.c_str());
  }
}

bool start_logging(LogOptions options, const std::vector<std::string>& warnings) {
  options.journald_style = std::getenv("JOURNAL_STREAM") != nullptr;
  if (Status s = configure_logging(options); !s.ok()) {
    print_error(options.program, s.to_string());
    return false;
  }
  for (const std::string& w : warnings) spdlog::warn("{}", w);
  return true;
}

}  // namespace edgesketch::daemon
