// The compact form of a part row's histogram (block format 2, see edgesketch/store/part_block.h):
// a window of a few readings has a histogram of a few buckets, whose canonical serialize() bytes
// are mostly header (version, scale, max_buckets, count, the bucket offset, block widths). The
// compact form drops what the row already says (count, sum, min, max), predicts the first and
// last bucket from the row's min and max, and writes the counts as varints, the last one derived
// from the row's count:
//
//   | field        | encoding | notes                                                        |
//   |--------------|----------|--------------------------------------------------------------|
//   | head         | u8       | bits 0-3: scale + 4 (0..12); bit 4: positive store; bit 5:   |
//   |              |          | negative store; bit 6: zero_count follows; bit 7:            |
//   |              |          | max_buckets follows (else 2048)                              |
//   | max_buckets  | varint   | when head bit 7                                              |
//   | zero_count   | varint   | when head bit 6 (else 0)                                     |
//   | per present store, positive first:                                                    |
//   |   lo         | svarint  | first bucket index - predicted first                         |
//   |   hi         | svarint  | last bucket index - predicted last                           |
//   |   counts     | varint   | per bucket lo..hi, except the last bucket of the last store: |
//   |              |          | row count - zero_count - every other count                   |
//
// Predictions (i(v) = the bucket index of |v| at the histogram's scale, for normal v): positive
// store last = i(max) when max > 0, else 0; first = i(min) when min > 0, else the predicted last.
// Negative store (by |v|): last = i(min) when min < 0, else 0; first = i(max) when max < 0, else
// the predicted last. For a histogram of the row's readings both predictions are exact.
//
// A row's histogram takes this form only when its count, sum, min and max are the row's (bitwise)
// and the compact bytes expand back to exactly its canonical bytes, so the form is exact by
// construction; anything else is stored as before.
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
// 65,536 buckets, counts that pass the row's count, truncation. Work and output are linear in the
// entry's bytes (at most ~9 output bytes per input byte plus a bounded header).
bool expand_compact_histogram(ByteReader& in, const RowStats& row, Bytes* out);

}  // namespace edgesketch::store
