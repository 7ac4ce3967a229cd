// Manifest: the store's commit record, replaced atomically (tmp -> fsync -> rename -> fsync dir)
// by every flush, merge, retention drop and quarantine. It names the live parts, the first WAL
// segment still needed for replay and the dedupe ledger as of that point. Part files it does not
// name are orphans of an unfinished flush or merge and are removed at open.
//
// Layout (little-endian): magic "ESMANIF1" (8) | version u32 (1) | wal_replay_from u64 |
//   next_part_id u64 | parts varint | per part: path (string, relative to the store dir),
//   tenant (string), tier_ms u32, day i64, rows u64, bytes u64, min_ws i64, max_ws i64 |
//   ledger (varint length + DedupeLedger encoding) | crc32c u32 of everything before it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::store {

struct ManifestPart {
  std::string path;  // relative to the store directory
  std::string tenant;
  std::uint32_t tier_ms = 0;
  std::int64_t day = 0;
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::int64_t min_ws = 0;
  std::int64_t max_ws = 0;
};

struct Manifest {
  std::uint64_t wal_replay_from = 1;
  std::uint64_t next_part_id = 1;
  std::vector<ManifestPart> parts;
  Bytes ledger;  // DedupeLedger::encode()

  Bytes encode() const;
  // Untrusted bytes; kCorruption on anything malformed.
  static Result<Manifest> decode(ByteSpan bytes);
};

}  // namespace edgesketch::store
