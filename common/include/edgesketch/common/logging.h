// Logging setup for edgesketch programs (spdlog). Libraries log through spdlog's default logger;
// programs call configure_logging() once in main before starting threads.
#pragma once

#include <string>

#include "edgesketch/common/status.h"

namespace edgesketch {

struct LogOptions {
  // One of trace, debug, info, warn, error, critical, off.
  std::string level = "info";
  // Prefix every line with the program name (useful when several daemons share a terminal).
  std::string program = "edgesketch";
  // Log to stderr without timestamps (journald adds its own) instead of with them.
  bool journald_style = false;
};

// Replaces the default logger with a thread-safe stderr logger. Fails on an unknown level.
Status configure_logging(const LogOptions& options);

}  // namespace edgesketch
