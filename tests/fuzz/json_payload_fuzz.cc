// Fuzz target for the JSON payload parser (the property is in payload_fuzz.h).
#include <cstddef>
#include <cstdint>

#include "payload_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgesketch::agent;
  return fuzz::fuzz_payload(PayloadFormat::kJson, data, size);
}
