// Names of the payload formats.
#include "edgesketch/wire/payload_format.h"

namespace edgesketch::wire {

std::string_view payload_format_name(PayloadFormat format) {
  switch (format) {
    case PayloadFormat::kNanopb:
      return "nanopb";
    case PayloadFormat::kJson:
      return "json";
    case PayloadFormat::kLine:
      return "line";
    case PayloadFormat::kJsonFields:
      return "json_fields";
    case PayloadFormat::kValue:
      return "value";
  }
  return "unknown";
}

std::optional<PayloadFormat> parse_payload_format(std::string_view name) {
  for (PayloadFormat f : kPayloadFormats) {
    if (name == payload_format_name(f)) return f;
  }
  return std::nullopt;
}

}  // namespace edgesketch::wire
