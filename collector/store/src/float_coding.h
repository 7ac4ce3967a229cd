// Gorilla XOR coding of doubles (Pelkonen et al., "Gorilla", VLDB 2015) over an MSB-first bit
// stream; the layout is documented in edgesketch/store/part_block.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "edgesketch/common/byte_coding.h"

namespace edgesketch::store {

// Appends the Gorilla stream of `values` to `out` (zero-padded to a whole byte).
void gorilla_encode(std::span<const double> values, Bytes& out);
// Decodes exactly n values from `in`; false when the stream is too short or malformed. Trailing
// padding bits must be zero and no whole byte may follow.
bool gorilla_decode(ByteSpan in, std::size_t n, std::vector<double>& out);

}  // namespace edgesketch::store
