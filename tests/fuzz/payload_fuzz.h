// The property the text payload fuzz targets (json_payload_fuzz, line_payload_fuzz,
// json_fields_payload_fuzz, value_payload_fuzz) check: any bytes either are refused with a
// reason (and leave the buffer as it was) or yield readings that pass the parser's own checks,
// and every item skipped on the way carries a reason. Aborts on a violation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_check.h"
#include "input/payload_parser.h"

namespace edgesketch::agent::fuzz {

using ::edgesketch::fuzz::check;

inline int fuzz_payload(PayloadParser& parser, PayloadFormat format, const std::uint8_t* data,
                        std::size_t size, std::string_view topic) {
  ReadingBuffer buf;
  buf.append().metric = "sentinel";
  Status s = parser.parse(format, ByteSpan(data, size), 1'700'000'000'000, buf, topic);
  for (const SkippedItems::Count& c : parser.skipped().by_reason()) {
    check(c.reason != "unknown" && c.items > 0);
  }
  if (!s.ok()) {
    check(parse_error_reason(s) != "unknown");
    check(buf.size() == 1 && buf[0].metric == "sentinel");
    return 0;
  }
  const wire::Limits limits;
  for (std::size_t i = 1; i < buf.size(); ++i) {
    const wire::Reading& r = buf[i];
    check(!r.device_id.empty() && !r.metric.empty());
    check(r.device_id.size() <= limits.max_name_bytes && r.metric.size() <= limits.max_name_bytes);
    check(!r.is_label || r.label.size() <= limits.max_label_bytes);
    check(r.ts_ms >= limits.min_ts_ms);
    check(r.tags.size() <= limits.max_tags);
    for (std::size_t t = 1; t < r.tags.size(); ++t) check(r.tags[t - 1].key < r.tags[t].key);
  }
  check(buf.size() <= 1 + limits.max_readings_per_batch);
  return 0;
}

// The formats' default options, a payload on devices/dev-topic/readings.
inline int fuzz_payload(PayloadFormat format, const std::uint8_t* data, std::size_t size) {
  static PayloadParser parser;
  return fuzz_payload(parser, format, data, size, "devices/dev-topic/readings");
}

}  // namespace edgesketch::agent::fuzz
