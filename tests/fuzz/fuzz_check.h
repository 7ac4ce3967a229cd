// The fuzz targets' assertion: a property that does not hold aborts, and libFuzzer (or the
// corpus replay of standalone_main.cc) reports the input.
#pragma once

#include <cstdlib>

namespace edgesketch::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace edgesketch::fuzz
