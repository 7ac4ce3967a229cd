// CRC32C (Castagnoli), the checksum of journal records, WAL records and store blocks.
// Uses the SSE4.2 instruction when the CPU has it, a slicing-by-8 table otherwise; both give
// the same value. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace edgesketch {

// Extends a running CRC32C `crc` (0 to start) with `data`.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n);
inline std::uint32_t crc32c(const void* data, std::size_t n) { return crc32c_extend(0, data, n); }
inline std::uint32_t crc32c(std::span<const std::uint8_t> data) {
  return crc32c_extend(0, data.data(), data.size());
}

// The portable implementation, exposed so tests can compare both paths.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t n);

}  // namespace edgesketch
