// Fuzz target for decode_ack: any bytes either fail with a reason or decode to an ack that
// re-encodes canonically and decodes back to an equal ack.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/wire/codec.h"
#include "fuzz_check.h"

namespace {

using namespace edgesketch;
using namespace edgesketch::wire;

using edgesketch::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto decoded = decode_ack(ByteSpan(data, size), Limits{});
  if (!decoded.ok()) {
    check(error_reason(decoded.status()) != ErrorReason::kUnknown);
    return 0;
  }
  const Bytes encoded = encode_ack(*decoded);
  auto again = decode_ack(encoded, Limits{});
  check(again.ok() && *again == *decoded);
  check(encode_ack(*again) == encoded);
  return 0;
}
