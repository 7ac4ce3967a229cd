// Fuzz target for decode_window_batch_view: it must agree with decode_window_batch on every
// input (the same Status when both reject, an equal batch when both accept), under the default
// limits and under tight ones that make every limit reachable by small inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/codec.h"
#include "fuzz_check.h"

namespace {

using namespace edgesketch;
using namespace edgesketch::wire;

// The receiver's clock the seeds in corpus/window_batch_view_fuzz/ were made for.
constexpr std::int64_t kNowMs = 1'700'000'000'000;

using edgesketch::fuzz::check;

void agree(ByteSpan input, const Limits& limits, WindowBatchView& view) {
  auto batch = decode_window_batch(input, limits, kNowMs);
  const Status st = decode_window_batch_view(input, limits, kNowMs, view);
  check(st.ok() == batch.ok());
  if (!st.ok()) {
    check(st.to_string() == batch.status().to_string());
    check(view.records().empty());
    return;
  }
  auto materialized = to_window_batch(view);
  check(materialized.ok() && *materialized == *batch);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan input(data, size);
  WindowBatchView view;
  agree(input, Limits{}, view);
  Limits tight;
  tight.max_payload_bytes = 4096;
  tight.max_records_per_batch = 3;
  tight.max_tags = 2;
  tight.max_name_bytes = 12;
  tight.max_sketch_bytes = 40;
  agree(input, tight, view);  // reusing the view
  return 0;
}
