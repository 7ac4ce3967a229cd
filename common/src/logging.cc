// spdlog-based logging setup.
#include "edgesketch/common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace edgesketch {

Status configure_logging(const LogOptions& options) {
  spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (level == spdlog::level::off && options.level != "off") {
    return Status::invalid_argument("unknown log level '" + options.level +
                                    "' (use trace, debug, info, warn, error, critical or off)");
  }
  // Built outside spdlog's registry so configure_logging() may be called more than once.
  auto logger = std::make_shared<spdlog::logger>(options.program,
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(options.journald_style ? "%n[%l] %v" : "%Y-%m-%dT%H:%M:%S.%e %n[%l] %v");
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
  return Status();
}

}  // namespace edgesketch
