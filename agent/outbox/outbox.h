// The outbox: closed window batches wait here, durably, until the collector's application ack.
// One SQLite database in WAL mode with synchronous=FULL; one transaction (one WAL fsync) per
// appended batch. Bounded in payload bytes: when full, the oldest never-sent batches are
// coarsened into wider windows (10 s -> 1 min -> 1 h by default; batches of the last level are
// merged among themselves when that makes them smaller); only when nothing is left to coarsen
// is the oldest batch (by window start) dropped, and then counted.
//
// Schema (PRAGMA user_version = kOutboxSchemaVersion, application_id = kOutboxApplicationId):
//   batches(seq INTEGER PRIMARY KEY, created_ms, window_start_ms, window_end_ms,
//           level  -- 0 as produced, i = coarsened to options.coarsen_levels[i - 1]
//           lane   -- 0 live, 1 backlog
//           bytes, journal_upto, records, readings, sent_count, last_sent_ms, payload BLOB)
//   meta(key TEXT PRIMARY KEY, value INTEGER)  -- next_seq, journal_upto, drop counters
//   close_marks(id INTEGER PRIMARY KEY, fed_upto, marks BLOB)  -- since version 2
//
// Close marks (window/close_marks.h) are opaque here: the caller's replay fence, committed in
// the same transaction as the batch whose windows they describe, so a crash can never leave a
// committed batch without its marks. A row is kept while the persisted journal_upto is below its
// fed_upto (the journal records it guards may still be replayed) and deleted by the append that
// raises journal_upto to it. Version 1 files are upgraded in place when opened.
//
// Sequence numbers: the seq inside every stored WindowBatch equals its row's seq. Seqs strictly
// increase for the life of the database file: the next one is persisted with every append
// (meta.next_seq), is never lowered by deletes, and a seq whose transaction failed is skipped,
// not reused (a failed COMMIT may still have reached the disk).
//
// Coarsening and in-flight batches: a batch handed out by next_to_send() may already be applied
// by the collector while its ack is still on the way, so replacing it by a coarsened batch under
// a new seq could count its readings twice. Hence only batches never handed out (sent_count = 0)
// are coarsened; the mark is committed (fsynced) before next_to_send() returns them.
//
// Thread-safety: all methods may be called from any thread (the aggregator appends, the
// forwarder sends and acks); one mutex serialises them on the single SQLite connection.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/env/env.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::agent {

inline constexpr std::int64_t kOutboxSchemaVersion = 2;
inline constexpr std::int64_t kOutboxApplicationId = 0x45534f42;  // "ESOB"

enum class Lane : std::uint8_t {
  kLive = 0,     // appended within the last live_window_ms: sent first, newest first
  kBacklog = 1,  // everything else (older, coarsened, or appended as backlog): oldest first
};

enum class DropReason : std::uint8_t {
  kOverflow = 0,     // the outbox was full and nothing was left to coarsen
  kRejected = 1,     // the collector answered that it will never store the batch
  kUndecodable = 2,  // a stored payload did not decode when it was to be coarsened
};
inline constexpr std::size_t kDropReasons = 3;
std::string_view drop_reason_name(DropReason reason);

struct OutboxOptions {
  // The SQLite database file (its -wal and -shm files live beside it); created when missing.
  std::string path;
  // Bound on the sum of stored payload bytes (the file is larger by SQLite's overhead and WAL).
  std::uint64_t max_bytes = 64u << 20;
  // Window of each coarsening level: level i + 1 holds windows of coarsen_levels[i] ms. Each
  // must be a multiple of the one before and divide limits.max_window_ms.
  std::vector<std::uint32_t> coarsen_levels = {60'000, 3'600'000};
  // Batches appended to the live lane move to the backlog lane once older than this.
  std::int64_t live_window_ms = 60'000;
  // A batch handed out but not acked is handed out again after this long.
  std::int64_t resend_after_ms = 30'000;
  // Batches are stored (and sent) as one zstd frame at this level (wire/compression.h);
  // 0 stores the protobuf bytes as they are. Stored payloads of either kind are read back.
  int zstd_level = 0;
  // Payload bytes decoded and merged per coarsening step (bounds the memory a step takes).
  std::uint64_t coarsen_chunk_bytes = 4u << 20;
  // Bounds of every batch: appended batches must fit max_payload_bytes, coarsened ones are cut
  // to fit it and max_records_per_batch; stored payloads are decoded with them.
  wire::Limits limits;
  // Time source for created_ms, lanes and resends; nullptr = the system clock. Not owned; must
  // outlive the outbox.
  const Clock* clock = nullptr;
  // seq of a fresh file's first batch. 0 = a random start in [2^32, 2^62): a file that replaces
  // a lost or corrupt one never reuses seqs its predecessor sent, which the collector's dedupe
  // by (gateway_id, seq) would take for duplicates and drop. The agent uses 0; tests use 1.
  std::uint64_t first_seq = 1;
  // The file system the database is stored through: it is opened with env->sqlite_vfs(), under
  // the outbox's fsync-counting shim; nullptr = env::Env::posix() (SQLite's default VFS). Tests
  // pass a fault-injecting one (tests/support/fault_env.h). Not owned; must outlive the outbox.
  env::Env* env = nullptr;
};

// The replay fence of an appended batch: opaque bytes, needed while journal_upto < fed_upto.
struct CloseMarksBlob {
  Bytes bytes;
  std::uint64_t fed_upto = 0;  // the highest journal record the bytes refer to
};

// A stored batch as next_to_send() hands it out.
struct OutboxBatch {
  std::uint64_t seq = 0;
  std::int64_t created_ms = 0;
  std::int64_t window_start_ms = 0;  // earliest record window start
  std::int64_t window_end_ms = 0;    // latest record window end (exclusive)
  int level = 0;
  Lane lane = Lane::kLive;
  std::uint64_t journal_upto = 0;
  std::uint64_t records = 0;
  std::uint64_t readings = 0;    // sum of the records' counts
  std::uint64_t sent_count = 0;  // times handed out, this time included
  Bytes payload;                 // the encoded WindowBatch (its seq equals `seq`)
};

struct DropCounts {
  std::uint64_t batches = 0;
  std::uint64_t records = 0;
  std::uint64_t readings = 0;
};

struct OutboxLevelStats {
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
};

struct OutboxStats {
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;                 // sum of payload bytes (what max_bytes bounds)
  std::int64_t oldest_created_ms = 0;      // 0 when empty
  std::uint64_t in_flight = 0;             // rows handed out at least once, not yet acked
  std::vector<OutboxLevelStats> by_level;  // index = level (0 .. coarsen_levels.size())
  std::uint64_t next_seq = 0;
  std::uint64_t journal_upto = 0;       // highest journal_upto ever committed
  std::uint64_t coarsened_batches = 0;  // input batches replaced by coarsening (persisted)
  DropCounts dropped[kDropReasons];     // index = DropReason (persisted)
  // This process: appends committed and the fsyncs SQLite issued, counted by a VFS shim.
  std::uint64_t appends = 0;
  std::uint64_t append_fsyncs = 0;  // fsyncs issued inside append() (commit, auto-checkpoints)
  std::uint64_t wal_fsyncs = 0;     // all fsyncs of the -wal file
  std::uint64_t db_fsyncs = 0;      // all fsyncs of the database file (checkpoints)
  double fsyncs_per_batch = 0;      // append_fsyncs / appends
};

class Outbox {
 public:
  // Opens or creates the database. Errors: kInvalidArgument for bad options; kCorruption when
  // the file is not a SQLite database or fails PRAGMA quick_check; kFailedPrecondition when it
  // is some other application's database or a newer schema version; kIoError when it cannot be
  // opened. Never crashes on a hostile file.
  static Result<std::unique_ptr<Outbox>> open(OutboxOptions options);

  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Stores `batch` in one transaction and returns its seq. The outbox sets batch.seq and
  // batch.created_ms (now) before encoding, so the payload carries the row's seq. `journal_upto`
  // is the highest journal record whose windows are all committed once this batch is; it only
  // raises the persisted journal_upto. Makes room first (coarsening, then dropping older
  // batches) when the payload would take the total past max_bytes; the new batch itself is never
  // coarsened or dropped by its own append.
  // `marks` (when not empty and fed_upto is above the new journal_upto) are stored in the same
  // transaction; marks no longer needed (fed_upto <= the new journal_upto) are deleted in it.
  // Errors: kInvalidArgument for an empty batch or one whose payload exceeds
  // limits.max_payload_bytes or max_bytes; SQLite errors mapped by sqlite_status (kIoError,
  // kResourceExhausted for a full disk, ...). On error nothing is stored.
  Result<std::uint64_t> append(wire::WindowBatch batch, std::uint64_t journal_upto,
                               Lane lane = Lane::kLive, const CloseMarksBlob& marks = {});
  // The same, but `batch` stays the caller's (only its seq and created_ms are set), so after an
  // error (a full disk, an I/O error) the same batch can be appended again once the fault
  // clears; it then gets a new seq.
  Result<std::uint64_t> append_in_place(wire::WindowBatch& batch, std::uint64_t journal_upto,
                                        Lane lane = Lane::kLive, const CloseMarksBlob& marks = {});

  // Every stored close-marks blob still needed, in append order.
  Result<std::vector<Bytes>> close_marks();
  // The highest fed_upto among them (0 when none): journal record numbers up to it are still
  // referred to.
  Result<std::uint64_t> close_marks_fed_upto();

  // Up to `limit` batches of `lane` that were never handed out or whose last hand-out is older
  // than resend_after_ms: the live lane newest first, the backlog oldest window first. Marks them
  // handed out (sent_count + 1, last_sent_ms = now) in one committed, fsynced transaction before
  // returning, which makes them exempt from coarsening for good: call it only when about to
  // publish. The forwarder paces the backlog lane itself (rate cap).
  Result<std::vector<OutboxBatch>> next_to_send(Lane lane, std::size_t limit);

  // Makes every handed-out, unacked batch eligible for next_to_send() at once (after a
  // reconnect). They stay exempt from coarsening.
  Status requeue_unacked();

  // Deletes the acked rows in one transaction; unknown seqs are ignored (acks are idempotent).
  // Committed without fsync (synchronous=NORMAL for this transaction): losing an ack to a power
  // loss only causes a resend, which the collector dedupes.
  Status ack(std::span<const std::uint64_t> seqs);
  Status ack(std::uint64_t seq) { return ack(std::span<const std::uint64_t>(&seq, 1)); }

  // Deletes a batch the collector rejected for good and counts it as dropped (kRejected).
  // Unknown seqs are ignored.
  Status reject(std::uint64_t seq);

  Result<OutboxStats> stats();

  // Copies the WAL into the database file and truncates the WAL (two fsyncs). SQLite also
  // checkpoints by itself once the WAL passes 1,000 pages; call this when idle to keep the
  // appends' latency flat.
  Status checkpoint();

 private:
  struct Impl;
  explicit Outbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgesketch::agent
