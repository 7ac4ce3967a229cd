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
// A write or fsync failure is sticky: every later append and wait fails (the fate of the data
// is unknown) until the store has made everything appended durable another way (a flush into
// parts) and calls recover(): begin_recovery() starts a fresh segment, end_recovery() declares
// every appended record durable and clears the failure.
//
// Replay: a torn tail of the newest segment (a crash in the middle of a write) is cut off. A
// segment that a later one follows was closed complete, so invalid bytes in it are damage: its
// valid records are replayed, the file is moved to quarantine_dir and reported, never cut.
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
#include "edgesketch/env/env.h"

namespace edgesketch::store {

struct WalOptions {
  std::string dir;
  // Damaged closed segments are moved here (created when needed).
  std::string quarantine_dir;
  env::Env* env = nullptr;  // Env::posix() when null
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
  std::uint32_t group_commit_delay_us = 0;
  std::size_t max_buffer_bytes = std::size_t{64} << 20;
};

struct WalReplayReport {
  std::uint64_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t torn_bytes = 0;  // cut from segment tails
  std::uint64_t stale_segments_removed = 0;
  std::uint64_t segments_quarantined = 0;  // closed segments with invalid bytes
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

  // The failure that stopped the WAL; OK while it works.
  Status failure() const;
  // After a failure: waits for the sync thread, drops what it had not written and starts a new
  // segment, whose number it returns (every record appended so far lies below it). The failure
  // stays set: appends and waits keep failing.
  Result<std::uint64_t> begin_recovery();
  // Every record appended so far is durable elsewhere (the caller flushed it into parts):
  // marks them synced and clears the failure.
  void end_recovery();

  // The number of a segment file's name ("<16 digits>.wal"); false for any other name.
  static bool parse_segment_name(const std::string& name, std::uint64_t& n);

  // The LSN of the last record appended (0 before the first).
  std::uint64_t last_lsn() const;
  std::uint64_t bytes() const;
  std::uint64_t segments() const;
  std::uint64_t fsyncs() const;

 private:
  explicit Wal(WalOptions options) : options_(std::move(options)) {
    env_ = options_.env != nullptr ? options_.env : &env::Env::posix();
  }
  std::string segment_path(std::uint64_t n) const;
  Status start_segment_locked(std::uint64_t n);
  void sync_loop();

  const WalOptions options_;
  env::Env* env_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable work_cv_;
  std::condition_variable durable_cv_;
  // Written only by the sync thread (and by rotate() when it is idle).
  std::unique_ptr<env::WritableFile> file_;
  Bytes buffer_;                    // records appended but not yet written
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
