// Fuzz target for decode_window_batch: any bytes either fail with a reason or decode to a batch
// that re-encodes canonically and decodes back to an equal batch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/wire/codec.h"

namespace {

using namespace edgesketch;
using namespace edgesketch::wire;

// The receiver's clock the seeds in corpus/window_batch_fuzz/ were made for.
constexpr std::int64_t kNowMs = 1'700'000'000'000;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto decoded = decode_window_batch(ByteSpan(data, size), Limits{}, kNowMs);
  if (!decoded.ok()) {
    check(error_reason(decoded.status()) != ErrorReason::kUnknown);
    return 0;
  }
  const Bytes encoded = encode_window_batch(*decoded);
  auto again = decode_window_batch(encoded, Limits{}, kNowMs);
  check(again.ok() && *again == *decoded);
  check(encode_window_batch(*again) == encoded);
  return 0;
}
