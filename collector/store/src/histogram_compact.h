// The compact form of a part row's histogram (block format 2, see edgesketch/store/part_block.h):
// a window of a few readings has a histogram of a few buckets, whose canonical serialize() bytes
// are mostly header (version, scale, max_buckets, count, the bucket offset, block widths). The
// compact form drops what the row already says (count, sum, min, max), predicts the first and
// last bucket from the row's min and max, and writes the counts as varints, the last one derived
// from the row's count:
//
//   | field        | encoding | notes                                                        |
//   |--------------|----------|--------------------------------------------------------------|
//   | head         | u8       | bits 0-3: scale + 4 (0..12); bit 4: counts dense (else       |
//   |              |          | sparse); bit 5: sum follows; bit 6: extras follow; bit 7: 0  |
//   | sum          | svarint  | when head bit 5: bits(histogram sum) - bits(row sum), the    |
//   |              |          | ulps between them (an aggregate's sum and its histogram's    |
//   |              |          | are rounded differently); else the row's sum                 |
//   | extras       | u8       | when head bit 6, else 0x01: bit 0 positive store, bit 1      |
//   |              |          | negative store, bit 2 zero_count follows, bit 3 max_buckets  |
//   |              |          | follows (else 2048), bits 4/5 the histogram's min/max follow |
//   |              |          | (else the row's); bits 6-7 0                                 |
//   | max_buckets  | varint   | when extras bit 3                                            |
//   | zero_count   | varint   | when extras bit 2 (else 0)                                   |
//   | min, max     | f64      | when extras bit 4, bit 5                                     |
//   | per present store, positive first:                                                    |
//   |   lo         | svarint  | first bucket index - predicted first                         |
//   |   hi         | svarint  | last bucket index - predicted last                           |
//   |   counts     |          | dense: a varint count per bucket lo..hi. Sparse: per         |
//   |              |          | non-empty bucket before hi a varint token (empty buckets up  |
//   |              |          | to the next non-empty one) * 2 + (count > 1), then varint    |
//   |              |          | count - 2 when count > 1. Then hi's count (dense: count,     |
//   |              |          | sparse: count - 1), which the last store leaves out: row     |
//   |              |          | count - zero_count - the rest                                |
//
// The encoder writes whichever of dense and sparse is shorter (sparse suits a few readings
// spread over many buckets, dense a full window over a few).
//
// Predictions (i(v) = the bucket index of |v| at the histogram's scale, for normal v; min and max
// are the histogram's): positive store last = i(max) when max > 0, else 0; first = i(min) when min
// > 0, else the predicted last. Negative store (by |v|): last = i(min) when min < 0, else 0; first
// = i(max) when max < 0, else the predicted last. For a histogram of the row's readings both
// predictions are exact.
//
// A row's histogram takes this form only when its count is the row's and the compact bytes
// expand back to exactly its canonical bytes, so the form is exact by construction; anything
// else is stored as before.
#pragma once

#include <cstdint>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/store/part_block.h"

namespace edgesketch::store {

// Appends the compact form of the canonical histogram bytes `h` to `out` and returns true when
// it applies (see above) and is shorter than `shorter_than` bytes; otherwise returns false and
// leaves `out` as it was. `scratch` is overwritten.
bool compact_histogram(ByteSpan h, const RowStats& row, std::size_t shorter_than, Bytes& out,
                       Bytes& scratch);

// Reads one compact entry from `in`. With `out`, appends the canonical bytes it stands for. False
// when the entry is malformed: a bad head, a store range outside the int32 indices or wider than
// 65,536 buckets, counts that pass the row's count, gaps past the last bucket, truncation.
// Without `out` the work is linear in the entry's bytes; with it, the output is at most what a
// canonical histogram of two 65,536-bucket stores takes (~1.2 MB).
bool expand_compact_histogram(ByteReader& in, const RowStats& row, Bytes* out);

}  // namespace edgesketch::store
