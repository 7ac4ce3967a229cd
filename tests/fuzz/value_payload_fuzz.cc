// Fuzz target for the value parser (the property is in payload_fuzz.h), on a Shelly topic.
#include <cstddef>
#include <cstdint>

#include "payload_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgesketch::agent;
  static PayloadParser parser = [] {
    ParserOptions o;
    o.topic_template = *TopicTemplate::parse("shellies/{device}/sensor/{metric}");
    return PayloadParser(o);
  }();
  return fuzz::fuzz_payload(parser, PayloadFormat::kValue, data, size,
                            "shellies/shellyht-1/sensor/temperature");
}
