// The one key hash of edgesketch: XXH3 64-bit with a seed. HyperLogLog and top-K store the seed
// in their serialization and refuse to merge sketches hashed with another seed.
#pragma once

#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace edgesketch::sketch {

// Seed used unless configured otherwise. Changing it makes old sketches unmergeable.
inline constexpr std::uint64_t kDefaultHashSeed = 0x65646765736b6574ull;  // "edgesket"

inline std::uint64_t hash_key(std::string_view key, std::uint64_t seed = kDefaultHashSeed) {
  return XXH3_64bits_withSeed(key.data(), key.size(), seed);
}

}  // namespace edgesketch::sketch
