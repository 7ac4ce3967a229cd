// Payload parsers: turn one received payload (an MQTT message or a UDP datagram) into readings.
// Formats (docs/agent.md, "Payload formats"):
//   nanopb       edgesketch.v1.ReadingBatch, decoded by es_wire (wire::decode_reading_batch)
//   json         {"device_id":"dev-0001","tags":{"site":"site-01"},"batch_seq":7,
//                 "readings":[{"metric":"vibration","ts_ms":1700000000005,"value":0.81},
//                             {"metric":"event","ts_ms":1700000000009,"label":"E017"}]}
//                (what `edgesketch-sim --format json` sends, plus the variants documented there)
//   line         InfluxDB line protocol, every field a reading, several lines per payload:
//                 iot,device=d0042,site=s1 temperature=22.13,humidity=45.2,state="ok" 1704067200
//                 (metrics iot_temperature, iot_humidity, iot_state; the field `value` is the
//                 metric `iot` itself and the string field `label` its label)
//   json_fields  any JSON object, every numeric, boolean or string leaf a reading named by its
//                key path: {"AM2301":{"Temperature":21.3}} -> AM2301_Temperature (Zigbee2MQTT,
//                Tasmota, Shelly Gen2)
//   value        the payload is one bare value: 21.5, true, or a short string as a label
//                (Home Assistant, ESPHome, Shelly state topics; the topic names the metric)
// The MQTT topic, read through the input's topic template (topic_template.h) or else as
// ".../devices/<id>/...", gives the device id to readings that carry none, the metric to
// `value` payloads and tags to readings that lack them.
//
// Every parser treats the payload as hostile: bounded work and allocation (Limits), a clear
// error naming the position, never a crash. Errors are Status values whose message ends with
// " [<reason>]" (parse_error_reason() recovers it) so the caller counts rejections by reason;
// the es_wire reasons (wire/error_reason.h) are reused where they fit and extended with the
// reasons of payload_text.h (malformed_json, malformed_line, bad_timestamp, ...).
//
// Whole or in part. nanopb, json and value payloads are taken whole or refused whole. Line
// protocol and json_fields payloads are made of items (lines; leaves) that stand alone: a bad
// item is skipped and counted in skipped() with its reason, and the rest of the payload is
// taken. A payload is refused (error Status, `out` left as it was) when it cannot be read at all
// (too large, not JSON, the topic does not match the template, a json_fields time that does not
// parse) or when none of its items could be taken (the error is the first item's).
//
// Steady state allocates nothing: the parser keeps its scratch buffers and ReadingBuffer its
// readings' strings, so payloads of similar shape reuse both.
//
// Thread safety: PayloadParser is not thread-safe (it keeps scratch buffers); use one per input
// thread. ReadingBuffer likewise belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/payload_format.h"
#include "edgesketch/wire/types.h"
#include "input/topic_template.h"

namespace edgesketch::agent {

class JsonReader;  // json_reader.h

using wire::parse_payload_format;
using wire::payload_format_name;
using wire::PayloadFormat;

// A vector of readings that keeps its elements (and their strings' capacity) when cleared, so
// refilling it from payloads of similar shape allocates nothing.
class ReadingBuffer {
 public:
  // The next slot, reset to an empty reading (strings cleared, capacity kept).
  wire::Reading& append();
  // The next slot with its device id, metric and tags as the slot's last use left them (the
  // label cleared, the numbers reset): the caller sets all three, which costs a comparison
  // where a payload of the same shape left the same strings (set_text(), set_tags()).
  wire::Reading& append_for_overwrite();
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

  // The heap memory the buffer holds, readings beyond size() included (their storage is kept):
  // the slots' array and every string and tag array that outgrew its object, each rounded as
  // glibc's malloc rounds a block. An estimate of what freeing the buffer would return, in one
  // pass over the slots (no allocation).
  std::size_t heap_bytes() const;
  // Frees all the storage (clear() keeps it): for a buffer that grew past what it should keep.
  void release_storage();

 private:
  std::vector<wire::Reading> items_;
  std::size_t size_ = 0;
};

// The reason name at the end of a parser error ("malformed_json"); "unknown" when none.
std::string_view parse_error_reason(const Status& status);

// The items (lines, leaves) a parse skipped, by reason, and the first one's error (for the log).
class SkippedItems {
 public:
  struct Count {
    std::string_view reason;  // a reason name of static storage (payload_text.h, error_reason.h)
    std::uint64_t items = 0;
  };

  void clear();
  // Counts one skipped item; `error` must carry a reason (parse_error_reason()).
  void add(const Status& error);
  std::uint64_t total() const { return total_; }
  bool empty() const { return total_ == 0; }
  // By reason, in the order the reasons first occurred.
  std::span<const Count> by_reason() const { return counts_; }
  // The first skipped item's error; OK when none was skipped.
  const Status& first() const { return first_; }

 private:
  std::vector<Count> counts_;
  std::uint64_t total_ = 0;
  Status first_;
};

// json_fields: what string leaves become.
enum class StringLeaves : std::uint8_t {
  kLabels,  // a label reading of the leaf's metric (strings = "labels")
  kIgnore,  // nothing (strings = "ignore")
};

// json_fields: how the time leaf (`time_field`) is written.
enum class TimeFormat : std::uint8_t {
  kRfc3339,  // "2026-12-07T14:00:00Z", "...+01:00"; without an offset UTC (Tasmota's "Time")
  kUnixS,    // seconds since the epoch, a number (fraction allowed) or a numeric string
  kUnixMs,   // milliseconds (Zigbee2MQTT's last_seen with `last_seen: epoch`)
  kUnixNs,   // nanoseconds
};

// "rfc3339", "unix_s", "unix_ms", "unix_ns".
std::string_view time_format_name(TimeFormat format);
std::optional<TimeFormat> parse_time_format(std::string_view name);

struct ParserOptions {
  // Size, count and string bounds. The text formats leave the clock bounds to the aggregator
  // except min_ts_ms: an earlier timestamp is an unset device clock (bad_timestamp).
  // nanopb payloads get the full wire validation, clock bounds included.
  wire::Limits limits;
  // line: the tag whose value is a line's device id (not kept as a tag); Telegraf's is "host".
  std::string device_tag = "device";
  // json_fields: string leaves as labels or ignored.
  StringLeaves strings = StringLeaves::kLabels;
  // json_fields: the key path (joined with '_') of the leaf holding the payload's time, not
  // itself a reading; "" = every reading gets the receive time.
  std::string time_field;
  TimeFormat time_format = TimeFormat::kRfc3339;
  // Which topic levels name the device, the metric and tags; empty: the device id is the level
  // after "devices" (".../devices/<id>/...").
  TopicTemplate topic_template;
};

// Line protocol timestamps carry no unit; the magnitude tells it (each range covers the years
// 1973..5138): below 1e11 seconds, below 1e14 milliseconds (what edgesketch-sim sends), below
// 1e17 microseconds, else nanoseconds (InfluxDB's default). Returns Unix milliseconds (floor).
std::int64_t line_timestamp_to_ms(std::int64_t ts);

class PayloadParser {
 public:
  explicit PayloadParser(ParserOptions options = {});

  const ParserOptions& options() const { return options_; }

  // Appends the payload's readings to `out` (see the header comment for what is taken when).
  // `now_ms` is the agent's clock: the time of readings without one of their own (line protocol
  // may omit it, value and json_fields without time_field have none) and the reference of the
  // nanopb clock bounds. `topic` is the MQTT topic the payload came on ("" or "udp://..." for
  // none); with a topic template a topic that does not match is refused (topic_mismatch).
  Status parse(PayloadFormat format, ByteSpan payload, std::int64_t now_ms, ReadingBuffer& out,
               std::string_view topic = {});
  // The same with what the topic says already resolved (journal records of earlier versions
  // kept the topic's device id only).
  Status parse_resolved(PayloadFormat format, ByteSpan payload, std::int64_t now_ms,
                        ReadingBuffer& out, const TopicFields& topic);

  // What the last parse left out of its payload (empty after a payload taken whole; after a
  // refused payload, the items that were skipped before it was refused).
  const SkippedItems& skipped() const { return skipped_; }

 private:
  Status parse_nanopb(ByteSpan payload, std::int64_t now_ms, ReadingBuffer& out,
                      const TopicFields& topic);
  Status parse_json(std::string_view payload, ReadingBuffer& out, const TopicFields& topic);
  Status parse_line(std::string_view payload, std::int64_t now_ms, ReadingBuffer& out,
                    const TopicFields& topic);
  Status parse_json_fields(std::string_view payload, std::int64_t now_ms, ReadingBuffer& out,
                           const TopicFields& topic);
  Status parse_value(std::string_view payload, std::int64_t now_ms, ReadingBuffer& out,
                     const TopicFields& topic);
  // One line of a line protocol payload: all its readings appended, or none and the error.
  Status parse_one_line(std::string_view line, std::size_t line_no, std::int64_t now_ms,
                        ReadingBuffer& out, std::size_t first, const TopicFields& topic);
  // One json_fields value at the current key path (path_) and what is under it.
  Status json_fields_value(JsonReader& j, int depth, ReadingBuffer& out, std::size_t first);

  // Completes and checks the readings [from, out.size()) of a JSON payload: device id
  // fallback, batch and topic tags merged in, tags sorted, limits.
  Status finish_readings(ReadingBuffer& out, std::size_t from, std::string_view batch_device,
                         const TopicFields& topic);
  // Adds the topic's tags a reading lacks, keeping the tags sorted.
  Status merge_topic_tags(wire::Reading& r, const TopicFields& topic) const;

  ParserOptions options_;
  SkippedItems skipped_;
  TopicFields topic_fields_;           // parse()'s view of the topic
  std::vector<wire::Tag> batch_tags_;  // the JSON batch's "tags"
  std::string batch_device_;           // the JSON batch's "device_id"

  // Scratch of the line protocol and json_fields parsers (line_payload.cc,
  // json_fields_payload.cc).
  struct LineField {
    std::string_view key;
    std::string_view text;  // a string field's value (unescaped)
    double value = 0;
    bool is_string = false;
  };
  std::string unescaped_;  // escaped tokens of one line, unescaped
  std::vector<TopicTag> line_tags_;
  std::vector<LineField> line_fields_;
  std::string key_;        // one JSON key, decoded
  std::string path_;       // the key path of the current JSON leaf
  std::string text_;       // one JSON string value, decoded
  std::string time_text_;  // the time leaf: a string's text or a number's token
  bool time_seen_ = false;
  bool time_quoted_ = false;
};

// The device id in an MQTT topic of the form ".../devices/<id>/readings" or "devices/<id>/...",
// or "" when there is none.
std::string_view device_from_topic(std::string_view topic);

}  // namespace edgesketch::agent
