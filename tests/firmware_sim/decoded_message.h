// Decoders for what a subscriber receives from edgesketch-sim, written independently of the
// simulator's encoders: nanopb payloads through the generated C structs and pb_decode, JSON
// through nlohmann-json, line protocol through a small strict parser. Also reads a record file
// into the same shape, so tests compare "received" with "recorded" directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "sim_options.h"

namespace edgesketch::sim::test {

struct DecodedReading {
  std::string metric;
  std::int64_t ts_ms = 0;
  bool categorical = false;
  double value = 0;
  std::string label;
  bool operator==(const DecodedReading&) const = default;
};

struct DecodedMessage {
  std::string device_id;
  // Absent in line protocol, which has no batch counter.
  std::optional<std::uint64_t> batch_seq;
  std::vector<DecodedReading> readings;
  std::uint8_t record_flags = 0;  // record files only
  bool operator==(const DecodedMessage& o) const {
    return device_id == o.device_id && batch_seq == o.batch_seq && readings == o.readings;
  }
};

Result<DecodedMessage> decode_nanopb_payload(std::string_view payload);
Result<DecodedMessage> decode_json_payload(std::string_view payload);
Result<DecodedMessage> decode_line_payload(std::string_view payload);
Result<DecodedMessage> decode_payload(PayloadFormat format, std::string_view payload);

// The readings of one message of any simulator format, each with its device (a line-fields
// message carries many devices), as a subscriber on `topic` (the levels after the prefix) reads
// them: json-fields through nlohmann-json ("last_seen" the time), value from the topic and the
// bare text (no time: ts_ms 0), line-fields line by line with the line parser above (metrics
// iot_<field>). A line-fields line that does not decode is counted in bad_lines, not fatal; any
// other undecodable message is an error.
struct DecodedReadings {
  std::vector<std::pair<std::string, DecodedReading>> readings;  // (device, reading)
  std::size_t bad_lines = 0;
};
Result<DecodedReadings> decode_sim_message(SimFormat format, std::string_view topic,
                                           std::string_view payload);

// Every message of a record file, in order. with_batch_seq = false drops the counter (to compare
// with line protocol).
Result<std::vector<DecodedMessage>> read_record_messages(const std::string& path,
                                                         bool with_batch_seq = true);

// For failure messages.
std::string describe(const DecodedMessage& m);

}  // namespace edgesketch::sim::test
