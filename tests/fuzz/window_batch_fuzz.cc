// Fuzz target for decode_window_batch: any bytes either fail with a reason or decode to a batch
// that re-encodes canonically and decodes back to an equal batch. Inputs that start with the
// zstd magic exercise the decompression of hostile frames; every other input is also decoded
// from its zstd-compressed form, which must give the same answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/compression.h"
#include "fuzz_check.h"

namespace {

using namespace edgesketch;
using namespace edgesketch::wire;

// The receiver's clock the seeds in corpus/window_batch_fuzz/ were made for.
constexpr std::int64_t kNowMs = 1'700'000'000'000;

using edgesketch::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan input(data, size);
  auto decoded = decode_window_batch(input, Limits{}, kNowMs);
  if (!is_compressed_payload(input)) {
    auto via_zstd = decode_window_batch(compress_window_batch(input, 1), Limits{}, kNowMs);
    check(via_zstd.ok() == decoded.ok());
    check(decoded.ok() ? *via_zstd == *decoded
                       : error_reason(via_zstd.status()) == error_reason(decoded.status()));
  }
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
