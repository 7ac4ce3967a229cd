// The property the text payload fuzz targets (json_payload_fuzz, line_payload_fuzz) check: any
// bytes either fail with a reason (and leave the buffer as it was) or yield readings that pass
// the parser's own checks. Aborts on a violation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "input/payload_parser.h"

namespace edgesketch::agent::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

inline int fuzz_payload(PayloadFormat format, const std::uint8_t* data, std::size_t size) {
  static PayloadParser parser;
  ReadingBuffer buf;
  buf.append().metric = "sentinel";
  Status s = parser.parse(format, ByteSpan(data, size), 1'700'000'000'000, buf, "dev-topic");
  if (!s.ok()) {
    check(parse_error_reason(s) != "unknown");
    check(buf.size() == 1 && buf[0].metric == "sentinel");
    return 0;
  }
  for (std::size_t i = 1; i < buf.size(); ++i) {
    const wire::Reading& r = buf[i];
    check(!r.device_id.empty() && !r.metric.empty());
    check(r.ts_ms >= wire::Limits{}.min_ts_ms);
    for (std::size_t t = 1; t < r.tags.size(); ++t) check(r.tags[t - 1].key < r.tags[t].key);
  }
  check(buf.size() <= 1 + wire::Limits{}.max_readings_per_batch);
  return 0;
}

}  // namespace edgesketch::agent::fuzz
