// Store: the collector's embedded columnar store of mergeable window aggregates, in the spirit
// of ClickHouse's AggregatingMergeTree. Layout, formats and the crash-safety argument are in
// docs/collector-store.md.
//
// Write path: ingest() decodes and validates a WindowBatch, drops it when its (gateway_id, seq)
// was applied before (dedupe ledger), resolves the series ids (SQLite catalog; new series are
// committed before anything refers to them), appends the batch bytes to the WAL, applies every
// record to the memtable of the finest tier (a flush writes the 1 min and 1 h tiers as rollups
// of those rows, and scans of a coarse tier fold them the same way, so rollups are exact for
// late deltas too) and returns once the WAL
// record is fsynced (group commit: a background thread fsyncs whatever has been appended, so
// many appends share one fsync). The memtable is flushed into immutable parts when it exceeds
// its byte budget or on flush(); background merges combine the parts of a partition.
//
// Crash safety: a batch whose ingest() returned OK is applied exactly once after any crash and
// restart (replay of the WAL, with the ledger rebuilt from the same records).
//
// Thread safety: one writer thread calls ingest(), submit(), wait_durable() and flush() (they
// serialize on an internal mutex, so more writers are safe but gain nothing); scan(), select()
// and stats() may run concurrently from any number of threads; compact() and
// apply_retention() may run from any thread (merges serialize on their own mutex). The
// destructor must not race with any call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/store/scan.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::env {
class Env;
}

namespace edgesketch::store {

// A label rollup (StoreOptions::rollups; docs/collector-store.md "Label rollups").
struct RollupInfo {
  std::vector<std::string> labels;  // sorted, unique
  std::string name;                 // labels joined by ','
  // Rows at or after this time are complete (every record since is merged into them).
  std::int64_t since_ms = 0;
};

// The reserved tag that marks rollup series (its value is RollupInfo::name); ingested records
// may not carry tag keys starting with "__".
inline constexpr const char* kRollupTag = "__rollup__";

struct StoreOptions {
  // Tier resolutions, finest first; each must divide the next and 86,400,000 (a UTC day).
  std::vector<std::uint32_t> tiers_ms = {10'000, 60'000, 3'600'000};
  // Retention per tier (same order as tiers_ms); 0 keeps data forever. A day partition is
  // dropped once its end is older than now - retention.
  std::vector<std::int64_t> retention_ms = {7LL * 86'400'000, 90LL * 86'400'000, 0};
  // Memtable budget (estimated heap bytes of all tenants and tiers); ingest flushes past it.
  std::size_t memtable_bytes = std::size_t{256} << 20;
  // Series a tenant may create; ingest of a batch that would exceed it fails (kResourceExhausted)
  // and nothing of the batch is stored.
  std::size_t max_series_per_tenant = 1'000'000;
  // Per-tenant series limits that replace max_series_per_tenant for the tenants listed.
  std::map<std::string, std::size_t, std::less<>> max_series_by_tenant;
  // Extra wait before each WAL fsync to gather more appends into it (0: fsync as soon as the
  // previous one is done; concurrent appends still share it). Bounds the added ack latency.
  std::uint32_t group_commit_delay_us = 0;
  // A WAL segment is closed and a new one started past this size.
  std::uint64_t wal_segment_bytes = std::uint64_t{64} << 20;
  // Rows per part block (one compressed, checksummed unit of every column), and the sketch bytes
  // after which a block ends sooner: a scan decompresses whole blocks, so blocks of large
  // histograms (a rollup's) stay small enough that reading a few series does not decompress
  // many others', and a scan has blocks to share among its threads.
  std::size_t block_rows = 8192;
  std::size_t block_bytes = std::size_t{1} << 20;
  // zstd levels of flushed parts and of merged parts (merges run in the background and can
  // afford more effort).
  int flush_zstd_level = 3;
  int merge_zstd_level = 9;
  // A partition with at least merge_min_parts parts gets its smallest parts (at most
  // merge_max_parts) merged.
  std::size_t merge_min_parts = 4;
  std::size_t merge_max_parts = 16;
  // Run merges and retention on a background thread after each flush.
  bool background_merge = true;
  // Check the CRC of every block of every part at open (quarantining bad parts); otherwise only
  // the footer and index are checked at open and a bad block is found by the scan that reads it.
  bool verify_parts_on_open = true;
  // Most cells (series x points) one scan may accumulate; larger scans fail with
  // kResourceExhausted before reading anything.
  std::size_t max_scan_cells = 20'000'000;
  // Bytes one scan may spend on cells that keep their histogram as dense buckets (merged in
  // place, in any order; a grouped scan revisits each cell once per series of its group). Cells
  // past the budget keep it serialized and merge runs of consecutive rows through one shared
  // buffer: slower when rows of a cell are interleaved, never more memory.
  std::size_t scan_dense_bytes = std::size_t{256} << 20;
  // Threads one scan reads its part blocks on; 0: one per core, at most 4. Scans of fewer than
  // scan_parallel_min_rows rows (in the blocks they read) or of few blocks use one.
  std::size_t scan_threads = 0;
  std::size_t scan_parallel_min_rows = 4096;
  // Label rollups: for each set of tag names, one series per metric and combination of their
  // values merging every record with those values (e.g. {{"site"}, {"line", "site"}}), so that
  // `sum by (site) (m)` reads one series per site. Empty: none.
  std::vector<std::vector<std::string>> rollups;
  // Limits applied to ingested batches (clock bounds are relative to clock->now_ms()). WAL
  // replay uses the same limits without the clock bounds.
  wire::Limits limits;
  // Wall clock for clock bounds and retention; SystemClock when null. Must outlive the store.
  const Clock* clock = nullptr;
  // The file system every file of the store is written through (WAL, parts, MANIFEST, catalog,
  // ROLLUPS); Env::posix() when null. Must outlive the store.
  env::Env* env = nullptr;
  // While a write fails for a temporary reason (disk full, I/O error, failed fsync) the store is
  // stalled: ingest answers kUnavailable (nothing is acked, agents resend) and the failed step
  // is retried at most this often, by ingest and by the background thread, until it succeeds.
  std::uint32_t stall_retry_ms = 1000;
};

// The outcome of one ingested batch.
struct IngestReceipt {
  std::string gateway_id;
  std::uint64_t seq = 0;
  // True when (tenant, gateway_id, seq) was applied before: nothing was written, the batch may
  // be acked at once (it is durable already, or the original ingest is still waiting for it).
  bool duplicate = false;
  // Records applied (0 for a duplicate).
  std::size_t records = 0;
  // WAL position to pass to wait_durable(); 0 for a duplicate.
  std::uint64_t lsn = 0;
};

struct StoreStats {
  std::uint64_t series = 0;
  std::uint64_t batches_applied = 0;
  std::uint64_t batches_duplicate = 0;
  std::uint64_t records_applied = 0;
  std::uint64_t merge_conflicts = 0;  // records whose sketches could not merge (kept the old)
  std::uint64_t memtable_bytes = 0;
  std::uint64_t memtable_rows = 0;  // the finest tier (coarser tiers are rolled up at flush)
  std::uint64_t wal_bytes = 0;
  std::uint64_t wal_segments = 0;
  std::uint64_t wal_fsyncs = 0;
  std::uint64_t wal_replayed_batches = 0;
  std::uint64_t wal_torn_bytes = 0;  // truncated from the tail at the last open
  std::uint64_t parts = 0;
  std::uint64_t part_bytes = 0;
  std::uint64_t part_rows = 0;
  std::vector<std::uint64_t> part_bytes_per_tier;  // same order as tiers_ms
  std::vector<std::uint64_t> part_rows_per_tier;
  std::uint64_t flushes = 0;
  std::uint64_t merges = 0;
  std::uint64_t partitions_dropped = 0;    // by retention
  std::uint64_t parts_quarantined = 0;     // since open
  std::uint64_t orphan_parts_removed = 0;  // since open (unfinished flushes or merges)
  std::uint64_t corrupt_blocks = 0;        // found by scans and merges since open
  std::uint64_t ledger_gateways = 0;
  std::uint64_t ledger_forced_gaps = 0;
  std::uint64_t wal_segments_quarantined = 0;  // closed segments with damage, at the last open
  std::uint64_t wal_batches_unreadable = 0;    // WAL batches that no longer decode or resolve
  // 1 while that part of the write path is stalled by a temporary fault (see stall_retry_ms).
  std::uint64_t stalled_wal = 0;
  std::uint64_t stalled_catalog = 0;
  std::uint64_t stalled_flush = 0;
  std::uint64_t stalls = 0;  // stall episodes since open
  std::string stall_reason;  // the newest stall's error; empty while none
};

// One catalog entry.
struct SeriesInfo {
  std::uint64_t id = 0;
  std::string tenant;
  wire::SeriesKey key;
};

struct BackupReport {
  std::uint64_t parts = 0;
  std::uint64_t part_bytes = 0;
  std::uint64_t wal_segments = 0;
  int attempts = 0;
};

// Copies the store in `dir` into the empty or missing directory `dest`, consistently, while a
// collector may be ingesting, flushing and merging in it (another process or this one): the
// copy opens as the store did at one moment (every batch acknowledged before the backup started
// is in it exactly once). Parts are hard-linked when dest is on the same file system, else
// copied. Retries (up to `attempts`) when the store commits a flush or merge during the copy.
// The MANIFEST is written last (none when the store never flushed).
// Restore: stop the collector, put the copy in place of its data directory, start it.
Status backup_store(const std::string& dir, const std::string& dest, BackupReport& report,
                    int attempts = 20);

class Store {
 public:
  // Opens or creates the store in `dir`: loads the manifest and the catalog, opens the parts
  // (quarantining corrupt ones into dir/quarantine/ and removing orphans of unfinished
  // flushes/merges), replays the WAL into the memtable (truncating a torn tail). Fails on an
  // unreadable manifest or catalog, invalid options or I/O errors.
  static Result<std::unique_ptr<Store>> open(const std::string& dir, StoreOptions options);
  // Stops the background threads. Does not flush: the WAL holds the memtable's contents.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Decodes `encoded` (a WindowBatch) with the configured limits and ingests it; returns once
  // it is durable. The batch's tenant must be empty or equal `tenant`. Permanent errors: the
  // decoder's (kInvalidArgument / kOutOfRange / kCorruption, with the wire reason),
  // kInvalidArgument [seq_out_of_range] (DedupeLedger::check), kResourceExhausted
  // [series_limit]. Temporary ones: kIoError / kUnavailable (a stalled store; nothing of the
  // batch is acknowledged, the same batch succeeds or is a duplicate once the store resumes).
  Result<IngestReceipt> ingest(std::string_view tenant, ByteSpan encoded);
  // The same for a batch the caller has decoded already; `encoded` must be its bytes.
  Result<IngestReceipt> ingest(std::string_view tenant, const wire::WindowBatch& batch,
                               ByteSpan encoded);
  // ingest() without waiting for durability: the batch is applied (visible to scans) and
  // appended to the WAL; call wait_durable(receipt.lsn) before acknowledging it. Lets one thread
  // keep many batches in flight so that they share fsyncs.
  Result<IngestReceipt> submit(std::string_view tenant, const wire::WindowBatch& batch,
                               ByteSpan encoded);
  Result<IngestReceipt> submit(std::string_view tenant, ByteSpan encoded);
  // Blocks until every WAL record up to `lsn` is fsynced; kIoError when an fsync failed.
  Status wait_durable(std::uint64_t lsn);

  // Writes the memtable into parts, commits them and truncates the WAL.
  Status flush();
  // Runs merges until no partition qualifies; with `full`, merges every partition into one
  // part. Also applies retention.
  Status compact(bool full = false);
  // Drops the day partitions older than their tier's retention.
  Status apply_retention();

  Result<ScanResult> scan(const ScanRequest& request) const;
  // The series of `tenant` matching all matchers, by id.
  Result<std::vector<SeriesInfo>> select(std::string_view tenant,
                                         const std::vector<LabelMatcher>& matchers) const;
  StoreStats stats() const;
  const StoreOptions& options() const;
  // The configured rollups with the time from which each is complete.
  std::vector<RollupInfo> rollups() const;

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgesketch::store
