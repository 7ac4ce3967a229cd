// Payload parsers: turn one received payload (an MQTT message or a UDP datagram) into readings.
// Formats (docs/agent.md, "Payload formats"):
//   nanopb  edgesketch.v1.ReadingBatch, decoded by es_wire (wire::decode_reading_batch)
//   json    {"device_id":"dev-0001","tags":{"site":"site-01"},"batch_seq":7,
//            "readings":[{"metric":"vibration","ts_ms":1700000000005,"value":0.81},
//                        {"metric":"event","ts_ms":1700000000009,"label":"E017"}]}
//           (what `edgesketch-sim --format json` sends, plus the variants documented there)
//   line    InfluxDB line protocol, one reading per line:
//            vibration,device=dev-0001,line=line-0,site=site-01 value=0.81 1700000000005
//            event,device=dev-0001,site=site-01 label="E017" 1700000000009
//
// Every parser treats the payload as hostile: bounded work and allocation (Limits), a clear
// error naming the position, never a crash. Errors are Status values whose message ends with
// " [<reason>]" (parse_error_reason() recovers it) so the caller counts rejections by reason;
// the es_wire reasons (wire/error_reason.h) are reused where they fit and extended with
// malformed_json, malformed_line and bad_timestamp. A payload is accepted or rejected whole:
// on error `out` is left as it was before the call.
//
// Thread safety: PayloadParser is not thread-safe (it keeps scratch buffers); use one per input
// thread. ReadingBuffer likewise belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/payload_format.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::agent {

using wire::parse_payload_format;
using wire::payload_format_name;
using wire::PayloadFormat;

// A vector of readings that keeps its elements (and their strings' capacity) when cleared, so
// refilling it from payloads of similar shape allocates nothing.
class ReadingBuffer {
 public:
  // The next slot, reset to an empty reading (strings cleared, capacity kept).
  wire::Reading& append();
  // Drops the last reading (keeps its storage).
  void pop_back() { --size_; }
  // Forgets every reading, keeping the storage.
  void clear() { size_ = 0; }
  // Back to `n` readings (n <= size()).
  void truncate(std::size_t n) { size_ = n; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  wire::Reading& operator[](std::size_t i) { return items_[i]; }
  const wire::Reading& operator[](std::size_t i) const { return items_[i]; }
  std::span<const wire::Reading> view() const { return {items_.data(), size_}; }

 private:
  std::vector<wire::Reading> items_;
  std::size_t size_ = 0;
};

// The reason name at the end of a parser error ("malformed_json"); "unknown" when none.
std::string_view parse_error_reason(const Status& status);

struct ParserOptions {
  // Size, count and string bounds. JSON and line protocol leave the clock bounds to the
  // aggregator except min_ts_ms: an earlier timestamp is an unset device clock (bad_timestamp).
  // nanopb payloads get the full wire validation, clock bounds included.
  wire::Limits limits;
};

// Line protocol timestamps carry no unit; the magnitude tells it (each range covers the years
// 1973..5138): below 1e11 seconds, below 1e14 milliseconds (what edgesketch-sim sends), below
// 1e17 microseconds, else nanoseconds (InfluxDB's default). Returns Unix milliseconds (floor).
std::int64_t line_timestamp_to_ms(std::int64_t ts);

class PayloadParser {
 public:
  explicit PayloadParser(ParserOptions options = {});

  // Appends the payload's readings to `out`. `now_ms` is the agent's clock (nanopb decoding
  // applies the wire clock bounds with it). `topic_device` is the device id taken from the MQTT
  // topic (devices/<id>/readings) or "": readings that carry no device id of their own get it.
  // Line protocol readings without a timestamp get now_ms (as InfluxDB does).
  Status parse(PayloadFormat format, ByteSpan payload, std::int64_t now_ms, ReadingBuffer& out,
               std::string_view topic_device = {});

  Status parse_nanopb(ByteSpan payload, std::int64_t now_ms, ReadingBuffer& out);
  Status parse_json(std::string_view payload, ReadingBuffer& out,
                    std::string_view topic_device = {});
  Status parse_line(std::string_view payload, std::int64_t now_ms, ReadingBuffer& out,
                    std::string_view topic_device = {});

 private:
  // Completes and checks the readings [from, out.size()) of a JSON or line payload: device id
  // fallback, batch tags merged in, tags sorted, limits.
  Status finish_readings(ReadingBuffer& out, std::size_t from, std::string_view batch_device,
                         std::string_view topic_device);

  ParserOptions options_;
  std::vector<wire::Tag> batch_tags_;  // the JSON batch's "tags"
  std::string batch_device_;           // the JSON batch's "device_id"
};

// The device id in an MQTT topic of the form ".../devices/<id>/readings" or "devices/<id>/...",
// or "" when there is none.
std::string_view device_from_topic(std::string_view topic);

}  // namespace edgesketch::agent
