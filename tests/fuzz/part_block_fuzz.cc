// Fuzz target for the collector store's part block decoder (edgesketch/store/part_block.h): any
// bytes either fail with kCorruption or decode to sorted rows whose sketches the sketches' own
// hostile-input decoders accept or reject, and a decoded block re-encodes to a block that decodes
// to the same rows. The CRC normally rejects mutated bytes early; the fuzzer also tries the input
// with its CRC fixed up, so the column decoders behind the checksum get exercised.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "edgesketch/common/crc32c.h"
#include "edgesketch/sketch/exp_histogram.h"
#include "edgesketch/sketch/hyperloglog.h"
#include "edgesketch/sketch/topk.h"
#include "edgesketch/store/part_block.h"
#include "fuzz_check.h"

namespace {

using namespace edgesketch;
using namespace edgesketch::store;

using edgesketch::fuzz::check;

void exercise(ByteSpan bytes) {
  auto block = decode_part_block(bytes);
  if (!block.ok()) {
    check(block.status().code() == StatusCode::kCorruption);
    return;
  }
  check(block->rows() > 0);
  Bytes scratch;
  std::vector<PartRow> rows;
  std::vector<Bytes> hist(block->rows());
  for (std::size_t i = 0; i < block->rows(); ++i) {
    if (i > 0) {
      check(block->series_id(i) > block->series_id(i - 1) ||
            (block->series_id(i) == block->series_id(i - 1) &&
             block->window_start(i) > block->window_start(i - 1)));
    }
    PartRow r = block->row(i, scratch);
    hist[i].assign(r.histogram.begin(), r.histogram.end());
    r.histogram = hist[i];
    if (!r.histogram.empty()) (void)sketch::ExpHistogram::deserialize(r.histogram).ok();
    if (!r.distinct.empty()) (void)sketch::HyperLogLog::deserialize(r.distinct).ok();
    if (!r.topk.empty()) (void)sketch::TopK::deserialize(r.topk).ok();
    rows.push_back(r);
  }
  Bytes again;
  encode_part_block(rows, 1, again);
  auto back = decode_part_block(again);
  check(back.ok() && back->rows() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    check(back->series_id(i) == rows[i].series_id);
    check(back->window_start(i) == rows[i].window_start);
    check(back->count(i) == rows[i].count);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise(ByteSpan(data, size));
  if (size >= kPartBlockHeaderBytes) {
    // The same bytes with a correct CRC.
    std::vector<std::uint8_t> fixed(data, data + size);
    const std::uint32_t crc =
        crc32c_extend(crc32c(fixed.data(), 12), fixed.data() + kPartBlockHeaderBytes,
                      size - kPartBlockHeaderBytes);
    std::memcpy(fixed.data() + 12, &crc, 4);
    exercise(fixed);
  }
  return 0;
}
