// Fuzz target for TopK::deserialize: any input decodes to an error or to a sketch that
// round-trips, answers queries and merges into an empty sketch unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/sketch/topk.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using edgesketch::sketch::TopK;
  using edgesketch::sketch::TopKOptions;
  edgesketch::Result<TopK> decoded = TopK::deserialize(edgesketch::ByteSpan(data, size));
  if (!decoded.ok()) {
    check(decoded.status().code() == edgesketch::StatusCode::kCorruption);
    return 0;
  }
  const TopK& sketch = *decoded;
  edgesketch::Result<TopK> again = TopK::deserialize(sketch.serialize());
  check(again.ok() && *again == sketch);

  const auto top = sketch.top(10);
  check(top.size() <= 10 && top.size() <= sketch.size());
  for (std::size_t i = 1; i < top.size(); ++i) check(top[i - 1].count >= top[i].count);

  TopK fresh(TopKOptions{sketch.capacity(), sketch.seed(), sketch.max_key_bytes()});
  check(fresh.merge(sketch).ok());
  check(fresh == sketch);
  // Merging and adding keep the decoded invariants, so the result re-decodes (unless the counts
  // saturate at 2^64, where the bounds no longer hold).
  if (sketch.total() < (std::uint64_t{1} << 62)) {
    check(fresh.merge(sketch).ok());
    fresh.add("fuzz-key", 3);
    check(TopK::deserialize(fresh.serialize()).ok());
  }
  return 0;
}
