// Fuzz target for decode_reading_batch: any bytes either fail with a reason or decode to readings
// that encode_reading_batch can always re-encode (they came from the device layout) and that
// decode back to the same readings. The wire keeps no order between columnar and row readings,
// so readings are compared in a canonical order, values bit for bit (NaN included).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <tuple>
#include <vector>

#include "edgesketch/wire/codec.h"
#include "fuzz_check.h"

namespace {

using namespace edgesketch;
using namespace edgesketch::wire;

// The receiver's clock the seeds in corpus/reading_batch_fuzz/ were made for.
constexpr std::int64_t kNowMs = 1'700'000'000'000;

using edgesketch::fuzz::check;

auto key_of(const Reading& r) {
  return std::tie(r.device_id, r.metric, r.ts_ms, r.tags, r.is_label, r.label);
}

std::vector<Reading> canonical(std::vector<Reading> readings) {
  std::sort(readings.begin(), readings.end(), [](const Reading& a, const Reading& b) {
    const auto ka =
        std::tuple_cat(key_of(a), std::make_tuple(std::bit_cast<std::uint64_t>(a.value)));
    const auto kb =
        std::tuple_cat(key_of(b), std::make_tuple(std::bit_cast<std::uint64_t>(b.value)));
    return ka < kb;
  });
  return readings;
}

bool same(const std::vector<Reading>& a, const std::vector<Reading>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (key_of(a[i]) != key_of(b[i]) ||
        std::bit_cast<std::uint64_t>(a[i].value) != std::bit_cast<std::uint64_t>(b[i].value)) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto decoded = decode_reading_batch(ByteSpan(data, size), Limits{}, kNowMs);
  if (!decoded.ok()) {
    check(error_reason(decoded.status()) != ErrorReason::kUnknown);
    return 0;
  }
  auto encoded = encode_reading_batch(*decoded);
  check(encoded.ok());
  auto again = decode_reading_batch(*encoded, Limits{}, kNowMs);
  check(again.ok());
  check(again->device_id == decoded->device_id && again->tags == decoded->tags &&
        again->batch_seq == decoded->batch_seq);
  check(same(canonical(again->readings), canonical(decoded->readings)));
  return 0;
}
