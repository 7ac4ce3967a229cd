// Command line of edgesketch-sim: `edgesketch-sim [run flags]` simulates and sends,
// `edgesketch-sim truth [flags]` computes exact answers from a record file,
// `edgesketch-sim export [flags]` converts one for a peer system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "edgesketch/common/status.h"
#include "mqtt_transport.h"
#include "record_export.h"
#include "sim_options.h"
#include "truth.h"

namespace edgesketch::sim {

enum class OutputKind { kMqtt, kUdp, kNone };

struct SimCommand {
  FleetOptions fleet;
  FaultOptions faults;
  RunOptions run;
  OutputKind output = OutputKind::kNone;
  MqttOptions mqtt;
  std::string udp_host;
  int udp_port = 0;
  // Empty: no record file.
  std::string record_path;
  // Also print the final summary as one JSON object on stdout.
  bool summary_json = false;
};

struct TruthCommand {
  TruthOptions options;
  // Empty: stdout.
  std::string output_path;
};

struct ExportCommand {
  ExportOptions options;
  // Empty: stdout.
  std::string output_path;
};

using Command = std::variant<SimCommand, TruthCommand, ExportCommand>;

// A parsed command, or the exit code to leave with: 0 after --help, 2 after a usage error
// (already reported on stderr).
struct CliOutcome {
  std::optional<Command> command;
  int exit_code = 0;
};

// `now_ms` is the default --start-ms (floored to the second); `pid` names the MQTT client.
CliOutcome parse_command_line(int argc, char** argv, std::int64_t now_ms, int pid);

// "250ms", "10s", "1.5s", "2m", "1h"; a bare number is seconds. Must be >= 0.
Result<std::int64_t> parse_duration_ms(std::string_view text);

// True for localhost, 127.0.0.0/8 and ::1 (bracketed or not).
bool is_loopback_host(std::string_view host);

}  // namespace edgesketch::sim
