// Fuzz target for the collector store's part block decoder (edgesketch/store/part_block.h), both
// block formats: any bytes either fail with kCorruption or decode to sorted rows whose sketches
// the sketches' own hostile-input decoders accept or reject, and a decoded block re-encodes to a
// block that decodes to the same rows, bit for bit. The CRC normally rejects mutated bytes early;
// the fuzzer also tries the input with its CRC fixed up, and the input as the raw columns of a
// block (first byte: rows - 1; the harness compresses and frames the rest), so the column
// decoders behind the checksum and the zstd frame (decimal runs, compact histograms) get
// exercised directly.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <zstd.h>

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

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

void exercise(ByteSpan bytes, std::uint32_t format) {
  auto block = decode_part_block(bytes, format);
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
  Bytes again_scratch;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    check(back->series_id(i) == rows[i].series_id);
    check(back->window_start(i) == rows[i].window_start);
    check(back->count(i) == rows[i].count);
    check(same_bits(back->sum(i), rows[i].sum));
    check(same_bits(back->min(i), rows[i].min));
    check(same_bits(back->max(i), rows[i].max));
    const ByteSpan h = back->histogram(i, again_scratch);
    check(std::equal(h.begin(), h.end(), rows[i].histogram.begin(), rows[i].histogram.end()));
  }
}

// `raw` as the raw columns of a block of `rows` rows, framed as encode_part_block() frames.
Bytes frame(ByteSpan raw, std::uint32_t rows) {
  Bytes out(kPartBlockHeaderBytes + ZSTD_compressBound(raw.size()));
  const std::size_t n =
      ZSTD_compress(out.data() + kPartBlockHeaderBytes, out.size() - kPartBlockHeaderBytes,
                    raw.data(), raw.size(), 1);
  check(!ZSTD_isError(n));
  out.resize(kPartBlockHeaderBytes + n);
  const auto clen = static_cast<std::uint32_t>(n);
  const auto rlen = static_cast<std::uint32_t>(raw.size());
  std::memcpy(out.data(), &clen, 4);
  std::memcpy(out.data() + 4, &rlen, 4);
  std::memcpy(out.data() + 8, &rows, 4);
  const std::uint32_t crc =
      crc32c_extend(crc32c(out.data(), 12), out.data() + kPartBlockHeaderBytes, n);
  std::memcpy(out.data() + 12, &crc, 4);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const std::uint32_t format : {std::uint32_t{1}, kPartBlockFormat}) {
    exercise(ByteSpan(data, size), format);
    if (size >= kPartBlockHeaderBytes) {
      // The same bytes with a correct CRC.
      std::vector<std::uint8_t> fixed(data, data + size);
      const std::uint32_t crc =
          crc32c_extend(crc32c(fixed.data(), 12), fixed.data() + kPartBlockHeaderBytes,
                        size - kPartBlockHeaderBytes);
      std::memcpy(fixed.data() + 12, &crc, 4);
      exercise(fixed, format);
    }
    if (size >= 2) exercise(frame(ByteSpan(data + 1, size - 1), data[0] + 1u), format);
  }
  return 0;
}
