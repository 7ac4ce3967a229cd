// Replays fuzz inputs without libFuzzer: every file in the given files or directories, then a
// fixed-seed stream of random and mutated inputs. Used by non-clang builds so fuzz targets are
// exercised by the ordinary test suite.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<std::uint8_t>> seeds;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) seeds.push_back(read_file(e.path()));
      }
    } else if (std::filesystem::exists(p)) {
      seeds.push_back(read_file(p));
    }
  }
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());

  // Deterministic mutations of the seeds plus pure noise: truncations, bit flips, byte sets.
  std::mt19937_64 rng(20261128);
  std::size_t runs = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::uint8_t> in;
    if (!seeds.empty() && round % 4 != 0) {
      in = seeds[rng() % seeds.size()];
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !in.empty(); ++e) {
        std::size_t pos = rng() % in.size();
        switch (rng() % 3) {
          case 0:
            in[pos] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
            break;
          case 1:
            in[pos] = static_cast<std::uint8_t>(rng());
            break;
          default:
            in.resize(pos);
            break;
        }
      }
    } else {
      in.resize(rng() % 512);
      for (auto& b : in) b = static_cast<std::uint8_t>(rng());
    }
    LLVMFuzzerTestOneInput(in.data(), in.size());
    ++runs;
  }
  std::printf("replayed %zu seeds and %zu generated inputs without a crash\n", seeds.size(), runs);
  return 0;
}
