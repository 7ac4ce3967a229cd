// Fuzz target for the HyperLogLog decoder: any bytes either fail with kCorruption or decode to
// a sketch that re-serializes to an equal sketch, has a finite estimate, and merges the same way
// through merge_serialized.
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/sketch/hyperloglog.h"

using edgesketch::ByteSpan;
using edgesketch::StatusCode;
using edgesketch::sketch::HllOptions;
using edgesketch::sketch::HyperLogLog;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan bytes(data, size);
  auto decoded = HyperLogLog::deserialize(bytes);

  HllOptions options;
  if (decoded.ok()) {
    options.precision = decoded->precision();
    options.seed = decoded->seed();
  }
  HyperLogLog fresh(options);
  const edgesketch::Status merged = fresh.merge_serialized(bytes);

  if (!decoded.ok()) {
    if (decoded.status().code() != StatusCode::kCorruption) std::abort();
    if (!(merged == decoded.status())) std::abort();
    if (!(fresh == HyperLogLog(options))) std::abort();  // unchanged on error
    return 0;
  }
  if (!merged.ok() || !(fresh == *decoded)) std::abort();
  if (!std::isfinite(decoded->estimate()) || decoded->estimate() < 0) std::abort();
  auto again = HyperLogLog::deserialize(decoded->serialize());
  if (!again.ok() || !(*again == *decoded)) std::abort();
  return 0;
}
