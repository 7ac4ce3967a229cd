// Part blocks: the unit of compression and checksumming inside a part file. A block holds up to
// ~8k consecutive rows of a part (sorted by (series_id, window_start), strictly increasing) in
// column form, compressed with zstd as one frame.
//
// Framed block (little-endian):
//   | field            | encoding | notes                                                     |
//   |------------------|----------|-----------------------------------------------------------|
//   | compressed_len   | u32      | bytes of the zstd frame that follows the header           |
//   | raw_len          | u32      | bytes after decompression, <= kMaxBlockRawBytes           |
//   | rows             | u32      | 1..kMaxBlockRows, <= raw_len                              |
//   | crc              | u32      | crc32c over the 12 bytes above and the zstd frame         |
//   | frame            | bytes    | zstd frame of the raw columns                             |
// Raw columns, each preceded by its byte length (varint), in this order. Format 2 (written):
//   1. series_id     runs: (svarint id - previous id, varint run length - 1) until `rows` ids
//   2. window_start  svarint first value, then svarint delta-of-delta per row (previous delta
//                    starts at 0)
//   3. count         varint per row
//   4. min           per series run (the rows of one series id), a scalar run:
//   5. max             mode u8: 0xff = Gorilla: varint byte length + the run's Gorilla XOR
//   6. sum             stream (below); else bits 0-3 = k decimal digits (0..9), bit 4 = ulps
//                      follow, bit 5 = predicted, bits 6-7 = 0; then per row svarint
//                      m - reference, then (bit 4) per row svarint ulps, where
//                      bits(value) = bits(m / 10^k) + ulps and the reference is the previous
//                      row's m in the run (0 for the first) or, when predicted, the m at k of
//                      the row's prediction: for max the row's min, for sum
//                      count * ((min + max) / 2); min is never predicted.
//   7. sketch flags  u8 per row: bit 0 histogram, bit 1 HyperLogLog, bit 2 top-K present;
//                    bits 3/4/5: the histogram's min/max/sum were stripped because they equal
//                    the row's (bitwise); bit 6: the histogram is in column 9 (bits 3-5 then 0)
//   8. sketch blobs  per row, per present sketch in flag order except a compact histogram:
//                    varint length + bytes. The histogram is its serialize() layout without the
//                    stripped f64 fields; the others are exactly their serialize() layout.
//   9. compact histograms  the compact entries of the rows with flag bit 6, in row order
//                    (layout in collector/store/src/histogram_compact.h: a few bytes for a
//                    window of a few readings).
// Format 1 (parts written before format 2; read only) has columns 4-6 as sum, min, max, each
// one Gorilla stream over all rows, no flag bit 6 and no column 9. The Gorilla stream
// (MSB-first bits, zero-padded to a byte): the first value's 64 bits; then per value '0' when
// equal to the previous, '10' + meaningful bits inside the previous leading/trailing-zero window,
// or '11' + 5 bits leading zeros + 6 bits (meaningful bits - 1) + the bits.
// Nothing may follow the last column. A part's meta version says its blocks' format.
//
// decode_part_block() treats its input as hostile: it checks the CRC before decompressing,
// allocates at most raw_len (bounded) plus O(rows) and rejects any inconsistency with
// kCorruption. Compact histogram entries are checked here (in time linear in their bytes) and
// expanded to canonical bytes on access, into the caller's scratch (at most ~1.2 MB for a
// hostile entry); sketch blobs are not parsed here, the sketches' own decoders check them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::store {

// The scalars of the row a histogram belongs to.
struct RowStats {
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
};

inline constexpr std::size_t kPartBlockHeaderBytes = 16;
// The block format encode_part_block() writes; decode_part_block() also reads format 1.
inline constexpr std::uint32_t kPartBlockFormat = 2;
inline constexpr std::size_t kMaxBlockRawBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxBlockRows = std::size_t{1} << 20;

// One row as written: sketches are their canonical serialize() bytes; empty means absent.
struct PartRow {
  std::uint64_t series_id = 0;
  std::int64_t window_start = 0;
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  ByteSpan histogram;
  ByteSpan distinct;
  ByteSpan topk;
};

// A decoded block. Movable; owns the decompressed bytes the sketch spans point into.
class PartBlock {
 public:
  std::size_t rows() const { return series_ids_.size(); }
  std::uint64_t series_id(std::size_t i) const { return series_ids_[i]; }
  std::int64_t window_start(std::size_t i) const { return starts_[i]; }
  std::uint64_t count(std::size_t i) const { return counts_[i]; }
  double sum(std::size_t i) const { return sums_[i]; }
  double min(std::size_t i) const { return mins_[i]; }
  double max(std::size_t i) const { return maxs_[i]; }
  const std::vector<std::uint64_t>& series_ids() const { return series_ids_; }
  const std::vector<std::int64_t>& window_starts() const { return starts_; }

  bool has_histogram(std::size_t i) const { return flags_[i] & 1; }
  // The histogram's canonical bytes; rebuilt into `scratch` when fields were stripped or the
  // histogram is compact (the span then points into scratch). Empty when absent.
  ByteSpan histogram(std::size_t i, Bytes& scratch) const;
  ByteSpan distinct(std::size_t i) const { return span_of(blobs_[i].distinct); }
  ByteSpan topk(std::size_t i) const { return span_of(blobs_[i].topk); }
  // The row with its canonical sketch bytes (the histogram may live in scratch).
  PartRow row(std::size_t i, Bytes& scratch) const;

 private:
  friend Result<PartBlock> decode_part_block(ByteSpan framed, std::uint32_t format);
  struct Blob {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
  };
  struct RowBlobs {
    Blob histogram, distinct, topk;
  };
  ByteSpan span_of(Blob b) const { return ByteSpan(raw_).subspan(b.offset, b.size); }
  RowStats stats(std::size_t i) const { return {counts_[i], sums_[i], mins_[i], maxs_[i]}; }

  Bytes raw_;
  std::vector<std::uint64_t> series_ids_;
  std::vector<std::int64_t> starts_;
  std::vector<std::uint64_t> counts_;
  std::vector<double> sums_, mins_, maxs_;
  std::vector<std::uint8_t> flags_;
  std::vector<RowBlobs> blobs_;
};

// Appends the framed block of `rows` (non-empty, sorted, at most kMaxBlockRows) to `out`.
void encode_part_block(std::span<const PartRow> rows, int zstd_level, Bytes& out);
// What each column of the block encode_part_block() would write for `rows` costs: its raw bytes
// (with its length prefix) and those bytes zstd-compressed alone at `zstd_level`. For size
// breakdowns (edgesketch-bench store); the block itself compresses all columns as one frame.
struct PartBlockColumnSize {
  const char* name = "";
  std::size_t raw_bytes = 0;
  std::size_t zstd_bytes = 0;
};
std::vector<PartBlockColumnSize> measure_part_block_columns(std::span<const PartRow> rows,
                                                            int zstd_level);
// Decodes exactly one framed block of `format` (1 or kPartBlockFormat) occupying all of `framed`.
Result<PartBlock> decode_part_block(ByteSpan framed, std::uint32_t format = kPartBlockFormat);

}  // namespace edgesketch::store
