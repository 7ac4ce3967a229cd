// Part files: one immutable file per part holding the part's rows in blocks (see
// edgesketch/store/part_block.h), a sparse index (first and last key of every block) and a
// footer with the part's metadata.
//
// Layout (little-endian):
//   | magic "ESPART01" (8 bytes) | block 0 | block 1 | ... | index | meta |
//   | meta_len u32 | meta_crc u32 (crc32c of meta) | magic "ESPARTF1" (8 bytes) |
// index: per block 48 bytes: offset u64, length u32, rows u32, first series u64, first
//   window_start i64, last series u64, last window_start i64.
// meta: version u32 (the block format: 2, or 1 in parts written before it), tenant (varint length +
// bytes), tier_ms u32, day i64 (days since the
//   Unix epoch, UTC), rows u64, min window_start i64, max window_start i64, index offset u64,
//   blocks u32, index crc32c u32.
// The footer is read from the end of the file, so a truncated file fails its magic or CRC.
//
// Thread safety: PartWriter is thread-compatible; PartReader is immutable after open() and
// safe to read from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/env/env.h"
#include "edgesketch/store/part_block.h"

namespace edgesketch::store {

struct PartMeta {
  std::string tenant;
  std::uint32_t tier_ms = 0;
  std::int64_t day = 0;
  std::uint64_t rows = 0;
  std::int64_t min_ws = 0;
  std::int64_t max_ws = 0;
  std::uint32_t blocks = 0;
};

struct BlockIndexEntry {
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
  std::uint32_t rows = 0;
  std::uint64_t first_series = 0;
  std::int64_t first_ws = 0;
  std::uint64_t last_series = 0;
  std::int64_t last_ws = 0;
};

// Writes a part to `path` + ".tmp" and, on finish(), fsyncs it, renames it to `path` and fsyncs
// the directory. A writer destroyed before finish() removes its temporary file.
class PartWriter {
 public:
  // A block ends after block_rows rows or once its sketch bytes reach block_bytes, whichever
  // comes first.
  PartWriter(env::Env& env, std::string path, PartMeta meta, std::size_t block_rows, int zstd_level,
             std::size_t block_bytes = std::size_t{1} << 20);
  ~PartWriter();
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // Rows must come in strictly increasing (series_id, window_start) order; the sketch bytes are
  // copied.
  Status add(const PartRow& row);
  // Returns the metadata written (rows, time range, blocks) and the file size in `bytes`.
  Result<PartMeta> finish(std::uint64_t& bytes);

 private:
  struct Pending {
    PartRow row;  // sketch spans unused; offsets below
    std::uint32_t h_off, h_len, d_off, d_len, t_off, t_len;
  };
  Status flush_block();

  env::Env& env_;
  std::string path_;
  PartMeta meta_;
  std::size_t block_rows_;
  std::size_t block_bytes_;
  int zstd_level_;
  std::unique_ptr<env::WritableFile> file_;
  Status status_;
  std::uint64_t offset_ = 0;
  std::vector<Pending> pending_;
  Bytes arena_;
  Bytes out_;
  std::vector<BlockIndexEntry> index_;
  bool have_last_ = false;
  std::uint64_t last_series_ = 0;
  std::int64_t last_ws_ = 0;
};

class PartReader {
 public:
  // Maps and checks the footer, meta and index; with verify_blocks also every block's CRC.
  // kCorruption says what is wrong.
  static Result<std::shared_ptr<const PartReader>> open(env::Env& env, const std::string& path,
                                                        bool verify_blocks);

  const PartMeta& meta() const { return meta_; }
  const std::vector<BlockIndexEntry>& index() const { return index_; }
  const std::string& path() const { return path_; }
  Result<PartBlock> read_block(std::size_t i) const;

 private:
  PartReader() = default;
  std::string path_;
  env::MappedFile map_;
  PartMeta meta_;
  std::uint32_t format_ = kPartBlockFormat;  // of its blocks (decode_part_block)
  std::vector<BlockIndexEntry> index_;
};

}  // namespace edgesketch::store
