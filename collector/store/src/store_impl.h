// Store::Impl: the state behind the Store facade and the order in which its locks are taken.
//
// Locks (always taken in this order; none is held while waiting for an fsync except write_mu_):
//   write_mu_     the writer: ingest/submit and flush. Guards ledger_ and the memtables'
//                 contents (only the writer modifies them).
//   merge_mu_     one merge (compaction) at a time; taken before manifest_mu_.
//   manifest_mu_  MANIFEST writes and the committed state (wal_replay_from_, next_part_id_,
//                 committed_ledger_).
//   mem_mu_       (shared) the memtables for readers; exclusive while the writer changes them
//                 and while a flush swaps memtable for parts, so a scan sees each row once.
//   parts_mu_     the pointer to the immutable live part set.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dedupe_ledger.h"
#include "edgesketch/common/time_math.h"
#include "edgesketch/store/store.h"
#include "manifest.h"
#include "memtable.h"
#include "part_file.h"
#include "record_views.h"
#include "series_catalog.h"
#include "wal.h"

namespace edgesketch::store {

inline constexpr std::int64_t kDayMs = 86'400'000;

struct LivePart {
  ManifestPart meta;
  std::shared_ptr<const PartReader> reader;
};
using PartSet = std::vector<std::shared_ptr<const LivePart>>;

class Store::Impl {
 public:
  Impl(std::string dir, StoreOptions options);
  ~Impl();

  Status open();
  Result<IngestReceipt> submit(std::string_view tenant, const wire::WindowBatch& batch,
                               ByteSpan encoded);
  Result<IngestReceipt> submit_encoded(std::string_view tenant, ByteSpan encoded);
  Status wait_durable(std::uint64_t lsn);
  Status flush();
  Status compact(bool full);
  Status apply_retention();
  Result<ScanResult> scan(const ScanRequest& request) const;
  Result<std::vector<SeriesInfo>> select(std::string_view tenant,
                                         const std::vector<LabelMatcher>& matchers) const;
  StoreStats stats() const;
  const StoreOptions& options() const { return options_; }
  std::vector<RollupInfo> rollups() const {
    std::lock_guard lock(rollups_mu_);
    return rollups_;
  }

 private:
  Status validate_options() const;
  Status open_parts(const Manifest& m, bool& rewrite_manifest);
  Status remove_orphans(const Manifest& m);
  // A decoded batch as the write path takes it: a WindowBatchView's fields, or views of a
  // WindowBatch's records (RecordViews).
  struct BatchRef {
    std::string_view tenant;  // as the batch names it; may be empty
    std::string_view gateway_id;
    std::uint64_t seq = 0;
    std::span<const wire::WindowRecordView> records;
  };
  static BatchRef batch_ref(const wire::WindowBatchView& view) {
    return BatchRef{view.tenant, view.gateway_id, view.seq, view.records()};
  }

  // Applies one replayed WAL batch (decoded by a ReplayDecoder) unless the ledger has it; a
  // batch that does not decode or resolve is skipped with an error in the log.
  void apply_replayed(std::string_view tenant, const Status& decoded,
                      const wire::WindowBatchView& batch);
  // The write path after decoding.
  Result<IngestReceipt> submit_decoded(std::string_view tenant, const BatchRef& batch,
                                       ByteSpan encoded);
  // Applies records to the tenant's memtable (finest tier).
  void apply_batch(std::string_view tenant, std::span<const wire::WindowRecordView> records,
                   const std::vector<std::uint64_t>& ids);
  // The rollup records of `batch` (rollups.h) into rollup_views_, their series resolved into
  // rollup_ids_. write_mu_ (or the opening thread).
  Status resolve_rollups(std::string_view tenant, const BatchRef& batch);
  // Computes since_ms of newly configured rollups and persists <dir>/ROLLUPS (after replay).
  Status open_rollups();
  Status flush_locked();
  // Writes the memtables into parts and commits them with WAL replay starting at `segment`
  // (every record in the memtables lies below it), then truncates the WAL. On failure the
  // parts written are removed and the memtables stay. Without always_commit, empty memtables
  // are a no-op.
  Status flush_into_parts_locked(std::uint64_t segment, bool always_commit = false);
  // Stalls (see StoreOptions::stall_retry_ms). write_mu_ for the *_locked ones.
  enum class Stage { kWal = 0, kCatalog = 1, kFlush = 2 };
  static const char* stage_name(Stage stage);
  void enter_stall(Stage stage, const Status& why);
  void clear_stall(Stage stage);
  bool stalled(Stage stage) const;
  // Retries what is stalled when the retry interval has passed; OK when ingest may proceed,
  // kUnavailable naming the fault otherwise.
  Status resume_locked();
  // After a WAL failure: a fresh segment, the memtables into parts, the WAL's failure cleared.
  Status recover_wal_locked();
  bool memtable_over_hard_limit() const;
  std::string partition_dir(const std::string& tenant, std::uint32_t tier_ms,
                            std::int64_t day) const;
  Result<std::shared_ptr<const LivePart>> write_part(
      const std::string& tenant, std::uint32_t tier_ms, std::int64_t day, int zstd_level,
      const std::function<Status(PartWriter&)>& fill);
  std::uint64_t allocate_part_id();
  // Writes the MANIFEST for `parts` with the committed WAL position and ledger. manifest_mu_.
  Status commit_manifest_locked(const PartSet& parts);
  std::shared_ptr<const PartSet> parts_snapshot() const;
  Status quarantine(const std::string& rel_path, const Status& why);
  // Merges one group of parts; `merged` says whether anything was done.
  Status merge_once(bool full, bool& merged);
  Status merge_parts(const std::vector<std::shared_ptr<const LivePart>>& inputs);
  Status retention_locked();
  void background_loop();
  void wake_background();
  std::size_t tier_index(std::uint32_t tier_ms) const;

  const std::string dir_;
  const StoreOptions options_;
  env::Env* env_;
  SystemClock system_clock_;
  const Clock* clock_;
  wire::Limits replay_limits_;

  std::unique_ptr<SeriesCatalog> catalog_;
  std::unique_ptr<Wal> wal_;

  mutable std::mutex write_mu_;
  DedupeLedger ledger_;
  std::vector<std::uint64_t> ids_scratch_;
  std::vector<std::uint64_t> rollup_ids_;           // write_mu_
  std::vector<wire::WindowRecord> rollup_records_;  // write_mu_
  RecordViews rollup_views_;                        // write_mu_
  mutable std::mutex rollups_mu_;
  std::vector<RollupInfo> rollups_;  // labels fixed at construction; since_ms set by open()

  std::mutex merge_mu_;
  std::set<std::string> bad_parts_;  // parts a merge could not read (merge_mu_)

  std::mutex manifest_mu_;
  std::uint64_t wal_replay_from_ = 1;
  std::uint64_t next_part_id_ = 1;
  Bytes committed_ledger_;

  mutable std::shared_mutex mem_mu_;
  // Per tenant, the rows of the finest tier. The coarser tiers are not kept in memory: a flush
  // writes them as rollups of these rows and a scan of a coarser tier folds them in the same way,
  // so a coarse row is always exactly the merge of its fine rows.
  std::map<std::string, Memtable, std::less<>> memtables_;
  std::size_t mem_bytes_ = 0;

  mutable std::mutex parts_mu_;
  std::shared_ptr<const PartSet> parts_;

  mutable std::mutex stall_mu_;
  struct StallState {
    bool active = false;
    std::chrono::steady_clock::time_point since{};
  };
  StallState stall_[3];
  std::atomic<bool> any_stall_{false};  // some stall_[i].active; read without stall_mu_
  std::string stall_reason_;
  std::chrono::steady_clock::time_point last_retry_{};  // write_mu_
  std::atomic<std::uint64_t> stalls_{0}, wal_quarantined_{0}, wal_unreadable_{0};

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;
  bool bg_work_ = false;
  std::thread bg_;

  // Counters (relaxed atomics: statistics only).
  mutable std::atomic<std::uint64_t> batches_applied_{0}, batches_duplicate_{0},
      records_applied_{0}, merge_conflicts_{0}, replayed_{0}, torn_bytes_{0}, flushes_{0},
      merges_{0}, partitions_dropped_{0}, quarantined_{0}, orphans_removed_{0}, corrupt_blocks_{0};
};

}  // namespace edgesketch::store
