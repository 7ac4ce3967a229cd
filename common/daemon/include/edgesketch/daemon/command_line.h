// What both daemons' main() does before its app exists: the flags they share (-c/--config,
// --check-config, --version), what they print before logging is set up, and the logging setup.
#pragma once

#include <string>
#include <vector>

#include "edgesketch/common/logging.h"

namespace CLI {
class App;
}  // namespace CLI

namespace edgesketch::daemon {

// The flags every daemon takes. Set config_path to the daemon's default before parsing.
struct DaemonFlags {
  // -c, --config FILE: the TOML config file.
  std::string config_path;
  // --check-config: validate the config file and exit.
  bool check_only = false;
};

// Adds -c/--config, --check-config and --version (which prints "<program> <version>") to `app`,
// bound to `flags`, which must outlive app.parse().
void add_daemon_flags(CLI::App& app, const std::string& program, DaemonFlags& flags);

// "<program>: <message>" on stderr: what main reports before logging is set up (a config that
// does not load, then exit 2).
void print_error(const std::string& program, const std::string& message);

// --check-config: each of the config's warnings on stderr as "<program>: warning: <warning>".
void print_config_warnings(const std::string& program, const std::vector<std::string>& warnings);

// Sets up the daemon's logging with `options` (program and level from the caller; lines without
// timestamps when JOURNAL_STREAM says journald reads stderr), then logs each of the config's
// `warnings`. False when configure_logging() fails, after print_error() said why (main then
// exits 2).
bool start_logging(LogOptions options, const std::vector<std::string>& warnings);

}  // namespace edgesketch::daemon
