// Wal: the collector's write-ahead log of ingested WindowBatches, in numbered segment files
// wal/<16-digit segment>.wal, with group commit.
//
// Segment layout (little-endian):
//   header  | magic "ESWAL001" (8 bytes) | segment number u64 |
//   records | payload_len u32 | crc32c u32 over payload_len (4 bytes LE) and the payload |
//           | payload: tenant (varint length + bytes), then the WindowBatch bytes as received |
// A record is valid when it lies wholly inside the file and its CRC matches.
//
// Group commit: append() copies the record into an in-memory group buffer and returns its LSN
// (a counter over records) at once; a background thread takes the whole buffer, write()s it and
// fdatasync()s, one write and one fsync for every record appended before it started, and
// wait_durable(lsn) blocks until that covers lsn. The appending thread never touches the disk
// (in particular it never writes into a page that is under writeback, which would make it wait
// for the fsync). The buffer is bounded (max_buffer_bytes): append() waits when it is full.
// An fsync failure is sticky: every later append and wait fails (the data's fate is unknown, so
// the store must restart and replay).
//
// Thread safety: append(), rotate() and remove_segments_before() need one writer at a time
// (the store's write mutex); wait_durable() and stats may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "file_io.h"

namespace edgesketch::store {

struct WalOptions {
  std::string dir;
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
  std::uint32_t group_commit_delay_us = 0;
  std::size_t max_buffer_bytes = std::size_t{64} << 20;
};

struct WalReplayReport {
  std::uint64_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t torn_bytes = 0;  // cut from segment tails
  std::uint64_t stale_segments_removed = 0;
};

class Wal {
 public:
  // Called for each valid record in order during open(). An error aborts open().
  using ReplayFn = std::function<Status(std::string_view tenant, ByteSpan batch)>;

  // Replays the segments numbered >= first_live (older ones are removed: their contents are in
  // committed parts), truncates each segment's invalid tail, then starts a new segment and the
  // sync thread.
  static Result<std::unique_ptr<Wal>> open(const WalOptions& options, std::uint64_t first_live,
                                           const ReplayFn& replay, WalReplayReport& report);
  ~Wal();

  // Appends one record (not yet durable); returns its LSN (>= 1).
  Result<std::uint64_t> append(std::string_view tenant, ByteSpan batch);
  Status wait_durable(std::uint64_t lsn);
  // Waits until everything appended is durable, then starts a new segment and returns its
  // number: every record appended so far lies in a lower-numbered segment.
  Result<std::uint64_t> rotate();
  // Removes the segment files numbered below `segment` (never the current one).
  Status remove_segments_before(std::uint64_t segment);

  // The LSN of the last record appended (0 before the first).
  std::uint64_t last_lsn() const;
  std::uint64_t bytes() const;
  std::uint64_t segments() const;
  std::uint64_t fsyncs() const;

 private:
  explicit Wal(WalOptions options) : options_(std::move(options)) {}
  std::string segment_path(std::uint64_t n) const;
  Status start_segment_locked(std::uint64_t n);
  void sync_loop();

  const WalOptions options_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable work_cv_;
  std::condition_variable durable_cv_;
  AppendFile file_;  // written only by the sync thread (and by rotate() when it is idle)
  Bytes buffer_;     // records appended but not yet written
  std::uint64_t segment_size_ = 0;  // bytes of the current segment, written or buffered
  std::uint64_t segment_ = 0;
  std::uint64_t first_segment_ = 0;  // lowest segment file present
  std::uint64_t closed_bytes_ = 0;   // bytes of segments before the current one
  std::uint64_t appended_ = 0;       // last LSN appended
  std::uint64_t synced_ = 0;         // last LSN durable
  bool syncing_ = false;
  bool stop_ = false;
  Status failed_;
  std::uint64_t fsyncs_ = 0;
  std::thread thread_;
};

}  // namespace edgesketch::store
