// Helpers of the collector store tests: temporary directories and seeded WindowBatches with
// integer readings (so sums are exact and merges compare bit for bit).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::store::testing {

inline constexpr std::int64_t kNowMs = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir : public testbed::TempDir {
 public:
  TempDir() : testbed::TempDir("es-store-test") {}
};

// One record of series metric{device=dev-<device>} over [window_start, +window_ms), with `n`
// integer readings in [0, 1000), a histogram, and (when `sketches`) a HyperLogLog and top-K.
wire::WindowRecord make_record(std::mt19937_64& rng, const std::string& metric, int device,
                               std::int64_t window_start, std::uint32_t window_ms, int n,
                               bool sketches = false);

// A batch of `records` random records over `devices` devices and `windows` 10 s windows ending
// before kNowMs.
wire::WindowBatch make_batch(std::mt19937_64& rng, const std::string& gateway, std::uint64_t seq,
                             int records, int devices, int windows, bool sketches = false);

std::string read_all(const std::string& path);
void write_all(const std::string& path, const std::string& data);
// Paths of every file ending in `suffix` under dir (recursive).
std::vector<std::string> find_files(const std::string& dir, const std::string& suffix);

}  // namespace edgesketch::store::testing
