// Float coding of the part blocks' scalar columns (layouts in edgesketch/store/part_block.h):
// Gorilla XOR coding of doubles (Pelkonen et al., "Gorilla", VLDB 2015) over an MSB-first bit
// stream, and decimal coding (a double as the nearest double of m / 10^k plus a correction in
// units in the last place), the better of the two chosen per series run.
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

// Decimal coding of one double with k fractional digits (0 <= k <= kMaxDecimalDigits):
// bits(v) = bits(m / 10^k) + ulps (two's complement, wrapping), so every double, NaNs, infinities
// and -0 included, is represented exactly. A reading sent at sensor resolution ("21.37") has
// ulps = 0 at its number of digits; a sum of such readings a few ulps of rounding.
inline constexpr int kMaxDecimalDigits = 9;
struct DecimalParts {
  std::int64_t m = 0;
  std::int64_t ulps = 0;
};
DecimalParts decimal_split(double v, int k);
double decimal_join(std::int64_t m, std::int64_t ulps, int k);

// Appends the values of one series run (consecutive rows of one series, so they change slowly)
// in whichever is smaller: Gorilla, or decimal coding with the best k and m as deltas from the
// previous value of the run or, when `predictions` (one per value, or empty) are given, from
// the m of value i's prediction (e.g. a row's max from its min).
void encode_scalar_run(std::span<const double> values, std::span<const double> predictions,
                       Bytes& out);
// Decodes the n values of one run from `in` and appends them to `out`; `predictions` as given to
// the encoder (the decoder's copy must be bitwise the same). False when malformed.
bool decode_scalar_run(ByteReader& in, std::size_t n, std::span<const double> predictions,
                       std::vector<double>& out);

}  // namespace edgesketch::store
