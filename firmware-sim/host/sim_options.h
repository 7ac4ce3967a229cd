// Options of an edgesketch-sim run: the fleet it simulates, the faults it injects, how it paces
// itself and in which format it sends. main.cc fills them from flags; tests fill them directly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgesketch/wire/payload_format.h"
#include "es_device/names.h"

namespace edgesketch::sim {

// The simulator writes every format the agent parses (docs/firmware-sim.md): nanopb as columnar
// Samples, JSON as one object per message in row form, line protocol as one line per reading
// with ms timestamps, json_fields as one Zigbee2MQTT-shaped object per row of readings, value
// as one message per reading. Line protocol has a second shape of its own, line-fields
// (SimFormat::line_fields): a line per row of readings, every metric a field.
using wire::parse_payload_format;
using wire::payload_format_name;
using wire::PayloadFormat;

// What the simulator sends: a format the agent parses and, for line protocol, its shape.
struct SimFormat {
  constexpr SimFormat(PayloadFormat p = PayloadFormat::kNanopb, bool fields = false)  // NOLINT
      : payload(p), line_fields(fields) {}

  PayloadFormat payload = PayloadFormat::kNanopb;
  // kLine only: a row of readings per line, every metric a field of measurement
  // kLineFieldsMeasurement, lines of many devices packed into one message ("line-fields").
  bool line_fields = false;

  friend bool operator==(const SimFormat&, const SimFormat&) = default;
};

// The measurement of line-fields lines: its fields f become the agent's metrics iot_<f>.
inline constexpr std::string_view kLineFieldsMeasurement = "iot";

// The --format names: "nanopb", "json", "line", "line-fields", "json-fields", "value".
std::string_view sim_format_name(SimFormat format);
std::optional<SimFormat> parse_sim_format(std::string_view name);

struct FleetOptions {
  // Devices dev-0000..dev-(N-1); site = index % sites, line = (index / sites) % lines.
  std::uint32_t devices = 1000;
  std::uint32_t sites = 10;
  std::uint32_t lines = 5;
  // Sampling rate per metric in Hz, indexed by es_metric; 0 turns a metric off. The defaults are
  // the standard fleet's (DESIGN.md): 103.1 readings/s per device.
  std::array<double, ES_METRIC_COUNT> rate_hz = {1.0, 1.0, 1.0, 100.0, 0.1};
  // Seeds every sensor; the same seed and options give the same readings.
  std::uint64_t seed = 1;
  // Unix ms of the schedule's origin (true time of the first samples).
  std::int64_t start_ms = 1'700'000'000'000;
  // Simulated time covered: readings with true time in [start_ms, start_ms + duration_ms).
  std::int64_t duration_ms = 60'000;
  // Readings per message, 1..256.
  std::uint32_t batch = 100;
  // A batch is sent at the latest this long (simulated) after its first reading.
  std::int64_t max_delay_ms = 1'000;
  // Event labels: Zipf over this many codes (E000 most frequent) with exponent zipf_s.
  std::uint32_t event_codes = 200;
  double zipf_s = 1.1;
};

// The standard fleet of DESIGN.md: 1,000 devices in 10 sites x 5 lines, temperature, humidity and
// pressure at 1 Hz, vibration at 100 Hz, events at 0.1 Hz.
FleetOptions standard_fleet();

// Every ratio is a probability in [0, 1]; faults are drawn from their own seeded streams, so
// turning one on never changes the sensor values.
struct FaultOptions {
  // Fraction of devices whose clock is off by a fixed amount uniform in [-skew_ms, skew_ms].
  double skew_ratio = 0;
  std::int64_t skew_ms = 0;
  // Per message: probability that the device starts holding its messages back for late_ms and
  // then sends them all at once (a late burst).
  double late_ratio = 0;
  std::int64_t late_ms = 0;
  // Per message: probability that it is sent twice (the second copy is flagged in the record).
  double duplicate_ratio = 0;
  // Per message: probability that the device goes offline for offline_ms; the messages that
  // become ready meanwhile are never sent.
  double offline_ratio = 0;
  std::int64_t offline_ms = 0;
  // Per message: probability that the payload is replaced by a truncated or garbage one that
  // every decoder must reject; its readings are not recorded.
  double malformed_ratio = 0;
};

struct RunOptions {
  // Simulated seconds per wall-clock second; 0 runs as fast as possible.
  double speed = 1.0;
  // Simulated time per loop step. Messages are sent in (step, device index) order, so the step
  // is part of what makes the record deterministic; it also bounds the pacing latency.
  std::int64_t tick_ms = 100;
  SimFormat format;
  // line-fields: most lines per message; a message also goes out once its first line is
  // max_delay_ms (simulated) old, and before it would exceed 4,096 readings (the agent's
  // max_readings_per_batch).
  std::uint32_t message_lines = 1000;
  // Wall-clock interval of progress lines on stderr; 0 prints none.
  std::int64_t progress_interval_ms = 1'000;
};

}  // namespace edgesketch::sim
