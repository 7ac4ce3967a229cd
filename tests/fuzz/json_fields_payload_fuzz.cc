// Fuzz target for the json_fields parser (the property is in payload_fuzz.h). The first byte
// picks the options: no time field (the receive time), or a time leaf "t" in each time format;
// the topic's template names the device and a tag.
#include <cstddef>
#include <cstdint>

#include "payload_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgesketch::agent;
  static PayloadParser* parsers = [] {
    static PayloadParser p[5];
    for (int i = 0; i < 5; ++i) {
      ParserOptions o;
      o.topic_template = *TopicTemplate::parse("z/{site}/{device}");
      o.strings = i % 2 ? StringLeaves::kIgnore : StringLeaves::kLabels;
      if (i > 0) {
        o.time_field = std::string(1, 't');  // (GCC 12 -Wrestrict misfires on = "t")
        o.time_format = static_cast<TimeFormat>(i - 1);
      }
      p[i] = PayloadParser(o);
    }
    return p;
  }();
  const int pick = size > 0 ? data[0] % 5 : 0;
  return fuzz::fuzz_payload(parsers[pick], PayloadFormat::kJsonFields, data + (size > 0),
                            size - (size > 0), "z/site-1/dev-topic");
}
