// The reading journal: every payload the agent accepts is appended here before the input
// acknowledges it (Paho acks a QoS1 message when the arrival callback returns, long before the
// window it feeds is closed into the outbox). Replayed into open windows on restart, trimmed
// once the windows it fed are committed to the outbox.
//
// Durability: append() only write()s, so a process crash loses nothing that append() returned;
// sync() fdatasyncs, and the owner calls it every sync_interval_ms (maybe_sync), so a power loss
// loses at most that interval. Never an fsync per record.
//
// Files: append-only segments `journal-<first_record_no, 16 hex>.log` in JournalOptions::dir;
// byte layout in journal_format.h. Record numbers start at 1, strictly increase across
// restarts (possibly with gaps) and are never reused as long as the directory is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/env/env.h"

namespace edgesketch::agent {

struct JournalOptions {
  // Directory of the segment files; created (one level) when missing. One journal per directory.
  std::string dir;
  // A new segment starts when the next record would take the current one past this size
  // (a single record larger than this gets a segment of its own).
  std::uint64_t segment_bytes = 8u << 20;
  // maybe_sync() syncs when at least this many milliseconds passed since the last sync: the
  // most a power loss can take.
  std::int64_t sync_interval_ms = 100;
  // Record numbers continue from at least this number. A power loss can take the unsynced tail
  // of the journal while the outbox already committed (journal_upto) windows fed by it; pass
  // the outbox's highest journal_upto + 1 so such numbers are never handed out twice.
  std::uint64_t min_next_record_no = 1;
  // The file system the segments are written through; nullptr = env::Env::posix(). Tests pass
  // a fault-injecting one (tests/support/fault_env.h). Not owned; must outlive the journal.
  env::Env* env = nullptr;
};

// Counters since open(). Plain values, a consistent snapshot.
struct JournalStats {
  std::uint64_t records = 0;            // records appended
  std::uint64_t bytes = 0;              // bytes appended (record headers included)
  std::uint64_t syncs = 0;              // fdatasync() calls on segments that succeeded
  std::uint64_t torn_tail_records = 0;  // torn records cut off the last segment by open()
  std::uint64_t torn_tail_bytes = 0;    // bytes those held
  std::uint64_t corrupt_segments = 0;   // segments whose rest replay() had to skip
  std::uint64_t write_errors = 0;       // append() calls that failed in write()
  std::uint64_t sync_errors = 0;        // failed fdatasync() / directory fsync() calls
  std::uint64_t segments = 0;           // segment files now in the directory
  std::uint64_t segments_trimmed = 0;   // segment files trim() deleted
  std::uint64_t next_record_no = 0;     // the number the next append() gets
  std::uint64_t synced_record_no = 0;   // every record <= this was fdatasynced (0: none yet)
};

// What one replay() saw.
struct ReplayResult {
  std::uint64_t records = 0;            // records handed to the callback
  std::uint64_t skipped_records = 0;    // valid records below from_record_no, not handed over
  std::uint64_t corrupt_segments = 0;   // segments whose rest was skipped (damage, bad header)
  std::uint64_t torn_tail_records = 0;  // torn records open() cut off the end (not an error)
  std::uint64_t last_record_no = 0;     // highest record number seen (0: none)
};

// Thread-safety: append(), sync(), maybe_sync(), trim(), replay() and stats() may be called from
// any threads concurrently (several input threads append; a timer or the aggregator syncs).
// Appends are serialised by one mutex; sync() does its fdatasync() without holding it, so
// appends are not stalled by the disk.
class Journal {
 public:
  using ReplayCallback =
      std::function<void(std::uint64_t record_no, std::uint8_t type, ByteSpan payload)>;

  // Opens (creating when needed) the journal in options.dir and recovers it: a torn tail of the
  // last segment (a record cut short, or a bad CRC with nothing valid after it) is truncated
  // and counted in torn_tail_records; damage in the middle of the last segment leaves the file
  // alone and appends go to a new segment numbered past anything the damaged part could hold.
  // Errors: kIoError when the directory or a file cannot be used; kFailedPrecondition for a
  // segment written by a newer format version (this build will not append next to it).
  static Result<std::unique_ptr<Journal>> open(JournalOptions options);

  // Closes the files without syncing: call sync() first for a clean shutdown.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one record with write() (no fsync) and returns its record number.
  // `type` is the input/format type of the payload; the journal does not interpret it.
  // Errors: kInvalidArgument when the payload exceeds kMaxJournalPayload; kIoError with the
  // errno text when write() or starting a segment fails. After an error the partial record is
  // truncated away (or, if that fails too, the next append starts a new segment), no record
  // number is used up, and later appends work once the fault clears.
  Result<std::uint64_t> append(ByteSpan payload, std::uint8_t type);

  // fdatasync()s every segment written since the last sync (and the directory when segments
  // were created), so every record appended before the call is on stable storage.
  // Errors: kIoError. Linux may drop the failed pages' dirty state, so records written before a
  // failed sync may not survive a power loss (they do survive a process crash); the next append
  // starts a new segment so later records do not share the file with the failure.
  Status sync();

  // sync() when now_ms - (time of the last sync) >= sync_interval_ms and records are unsynced;
  // otherwise OK at once. `now_ms` is any monotonic millisecond clock the owner uses throughout.
  Status maybe_sync(std::int64_t now_ms);

  // Reads every segment in record order and calls `callback` for each valid record with
  // record_no >= from_record_no, on the calling thread. Damage ends the segment it is in (the
  // rest of that segment is skipped and counted) but never the replay: later segments follow.
  // Meant for startup, before appends; records appended concurrently may or may not be seen.
  // Errors: kIoError only when the directory cannot be listed; an unreadable segment is skipped
  // and counted like a corrupt one.
  Result<ReplayResult> replay(std::uint64_t from_record_no, const ReplayCallback& callback);

  // Deletes every segment whose records are all <= upto_record_no (the caller knows that every
  // window they fed is committed to the outbox). Never deletes the segment being appended to.
  // Returns the number of segments deleted. Errors: kIoError from unlink (earlier deletions stay).
  Result<std::size_t> trim(std::uint64_t upto_record_no);

  JournalStats stats() const;

 private:
  explicit Journal(JournalOptions options);
  Status recover();
  Result<std::unique_ptr<env::WritableFile>> create_segment_locked(std::uint64_t first_record_no);
  Status rotate_locked();
  std::string segment_path(std::uint64_t first_record_no) const;

  const JournalOptions options_;
  env::Env& fs_;  // options_.env, or Env::posix() when that is null

  // Serialises sync() calls; taken before mu_ when both are needed. Guards nothing else.
  std::mutex sync_mu_;

  mutable std::mutex mu_;
  // --- guarded by mu_ ---
  // The segment appends go to, its first record number, size and record count.
  std::unique_ptr<env::WritableFile> active_;
  std::uint64_t active_first_ = 0;
  std::uint64_t active_size_ = 0;
  std::uint64_t active_records_ = 0;
  // Records or a truncation not yet fdatasynced in the active segment.
  bool active_unsynced_ = false;
  // Set after a failed truncate or fdatasync: the next append starts a new segment.
  bool active_broken_ = false;
  // Segments rotated away but not yet fdatasynced; sync() syncs and closes them.
  std::vector<std::unique_ptr<env::WritableFile>> unsynced_closed_;
  // A segment file was created since the last directory fsync.
  bool dir_dirty_ = false;
  // First record numbers of the segment files, ascending; the last is the active segment.
  std::vector<std::uint64_t> segments_;
  std::uint64_t next_record_no_ = 1;
  std::int64_t last_sync_ms_ = 0;
  // Reused buffer for encoding one record.
  Bytes scratch_;
  JournalStats stats_;
};

}  // namespace edgesketch::agent
