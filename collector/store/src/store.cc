// The Store facade, opening and recovery, and the write path (ingest, flush).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/codec.h"
#include "replay_decoder.h"
#include "rollups.h"
#include "row_accumulator.h"
#include "store_impl.h"

namespace edgesketch::store {
namespace {

// Tenant names become directory names: keep [A-Za-z0-9_-] and escape the rest as %XX.
std::string escape_name(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string day_name(std::int64_t day) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{day}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

Status check_tenant(std::string_view tenant, std::string_view batch_tenant,
                    std::string_view gateway_id, std::uint64_t seq) {
  if (tenant.empty() || tenant.size() > 128) {
    return Status::invalid_argument("tenant must be 1..128 bytes, got " +
                                    std::to_string(tenant.size()));
  }
  if (!batch_tenant.empty() && batch_tenant != tenant) {
    return Status::invalid_argument("batch of gateway '" + std::string(gateway_id) + "' seq " +
                                    std::to_string(seq) + " names tenant '" +
                                    std::string(batch_tenant) + "' but arrived for tenant '" +
                                    std::string(tenant) + "'");
  }
  return Status();
}

}  // namespace

// ---- facade ----

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, StoreOptions options) {
  auto impl = std::make_unique<Impl>(dir, std::move(options));
  ES_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<IngestReceipt> Store::ingest(std::string_view tenant, ByteSpan encoded) {
  ES_ASSIGN_OR_RETURN(IngestReceipt r, impl_->submit_encoded(tenant, encoded));
  ES_RETURN_IF_ERROR(impl_->wait_durable(r.lsn));
  return r;
}

Result<IngestReceipt> Store::ingest(std::string_view tenant, const wire::WindowBatch& batch,
                                    ByteSpan encoded) {
  ES_ASSIGN_OR_RETURN(IngestReceipt r, impl_->submit(tenant, batch, encoded));
  ES_RETURN_IF_ERROR(impl_->wait_durable(r.lsn));
  return r;
}

Result<IngestReceipt> Store::submit(std::string_view tenant, const wire::WindowBatch& batch,
                                    ByteSpan encoded) {
  return impl_->submit(tenant, batch, encoded);
}

Result<IngestReceipt> Store::submit(std::string_view tenant, ByteSpan encoded) {
  return impl_->submit_encoded(tenant, encoded);
}

Status Store::wait_durable(std::uint64_t lsn) { return impl_->wait_durable(lsn); }
Status Store::flush() { return impl_->flush(); }
Status Store::compact(bool full) { return impl_->compact(full); }
Status Store::apply_retention() { return impl_->apply_retention(); }
Result<ScanResult> Store::scan(const ScanRequest& request) const { return impl_->scan(request); }
Result<std::vector<SeriesInfo>> Store::select(std::string_view tenant,
                                              const std::vector<LabelMatcher>& matchers) const {
  return impl_->select(tenant, matchers);
}
StoreStats Store::stats() const { return impl_->stats(); }
const StoreOptions& Store::options() const { return impl_->options(); }
std::vector<RollupInfo> Store::rollups() const { return impl_->rollups(); }

// ---- opening ----

Store::Impl::Impl(std::string dir, StoreOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  clock_ = options_.clock != nullptr ? options_.clock : &system_clock_;
  env_ = options_.env != nullptr ? options_.env : &env::Env::posix();
  replay_limits_ = options_.limits;
  // Replayed batches were validated when they arrived; their clock bounds were relative to
  // that moment, not to now.
  replay_limits_.min_ts_ms = 0;
  replay_limits_.max_past_ms = std::int64_t{1} << 60;
  replay_limits_.max_future_ms = std::int64_t{1} << 60;
  parts_ = std::make_shared<const PartSet>();
}

Store::Impl::~Impl() {
  {
    std::lock_guard lock(bg_mu_);
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  wal_.reset();
}

Status Store::Impl::validate_options() const {
  const auto& t = options_.tiers_ms;
  if (t.empty()) return Status::invalid_argument("store: tiers_ms is empty");
  if (options_.retention_ms.size() != t.size()) {
    return Status::invalid_argument("store: retention_ms needs one entry per tier (" +
                                    std::to_string(t.size()) + "), has " +
                                    std::to_string(options_.retention_ms.size()));
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == 0 || kDayMs % t[i] != 0) {
      return Status::invalid_argument("store: tier " + std::to_string(t[i]) +
                                      " ms does not divide a day");
    }
    if (i > 0 && t[i] % t[i - 1] != 0) {
      return Status::invalid_argument("store: tier " + std::to_string(t[i]) +
                                      " ms is not a multiple of the previous tier " +
                                      std::to_string(t[i - 1]) + " ms");
    }
  }
  if (options_.merge_min_parts < 2 || options_.merge_max_parts < options_.merge_min_parts) {
    return Status::invalid_argument("store: need 2 <= merge_min_parts <= merge_max_parts");
  }
  return Status();
}

Status Store::Impl::open() {
  ES_RETURN_IF_ERROR(validate_options());
  ES_ASSIGN_OR_RETURN(rollups_, make_rollup_sets(options_.rollups));
  ES_RETURN_IF_ERROR(env_->ensure_dir(dir_ + "/parts"));
  ES_RETURN_IF_ERROR(env_->ensure_dir(dir_ + "/quarantine"));
  Manifest m;
  const std::string manifest_path = dir_ + "/MANIFEST";
  if (env_->exists(manifest_path)) {
    ES_ASSIGN_OR_RETURN(Bytes bytes, env_->read_file(manifest_path, std::uint64_t{1} << 30));
    auto decoded = Manifest::decode(bytes);
    if (!decoded.ok()) {
      return decoded.status().with_context(
          "store " + dir_ +
          ": the MANIFEST is unreadable; it is only ever replaced atomically, "
          "so the disk is damaged. Restore it from a backup");
    }
    m = std::move(decoded).value();
  }
  wal_replay_from_ = m.wal_replay_from;
  next_part_id_ = m.next_part_id;
  committed_ledger_ = m.ledger;
  {
    auto ledger = DedupeLedger::decode(m.ledger);
    if (!ledger.ok()) return ledger.status().with_context("store " + dir_ + ": MANIFEST");
    ledger_ = std::move(ledger).value();
  }
  ES_ASSIGN_OR_RETURN(catalog_,
                      SeriesCatalog::open(dir_ + "/catalog.db", options_.max_series_per_tenant,
                                          options_.max_series_by_tenant, env_->sqlite_vfs()));
  bool rewrite = false;
  ES_RETURN_IF_ERROR(open_parts(m, rewrite));
  ES_RETURN_IF_ERROR(remove_orphans(m));
  if (rewrite) {
    std::lock_guard lock(manifest_mu_);
    ES_RETURN_IF_ERROR(commit_manifest_locked(*parts_snapshot()));
  }

  WalOptions wo;
  wo.dir = dir_ + "/wal";
  wo.segment_bytes = options_.wal_segment_bytes;
  wo.group_commit_delay_us = options_.group_commit_delay_us;
  wo.quarantine_dir = dir_ + "/quarantine";
  wo.env = env_;
  WalReplayReport report;
  const auto t0 = std::chrono::steady_clock::now();
  {
    // Replay decodes on helper threads while this one applies, in WAL order.
    ReplayDecoder decoder(
        replay_limits_, clock_->now_ms(),
        [this](std::string_view tenant, const Status& decoded, const wire::WindowBatchView& batch) {
          apply_replayed(tenant, decoded, batch);
        },
        8, std::max(1u, std::min(2u, std::thread::hardware_concurrency())));
    ES_ASSIGN_OR_RETURN(wal_, Wal::open(
                                  wo, wal_replay_from_,
                                  [&decoder](std::string_view tenant, ByteSpan bytes) {
                                    decoder.push(tenant, bytes);
                                    return Status();
                                  },
                                  report));
    decoder.finish();
  }
  torn_bytes_ = report.torn_bytes;
  wal_quarantined_ = report.segments_quarantined;
  ES_RETURN_IF_ERROR(open_rollups());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (report.records > 0 || report.torn_bytes > 0) {
    spdlog::info(
        "store {}: replayed {} WAL records ({} applied) from {} segments in {:.3f} s; "
        "{} torn bytes truncated",
        dir_, report.records, replayed_.load(), report.segments, secs, report.torn_bytes);
  }
  if (options_.background_merge) bg_ = std::thread([this] { background_loop(); });
  bool over;
  {
    std::shared_lock lock(mem_mu_);
    over = mem_bytes_ > options_.memtable_bytes;
  }
  if (over) return flush();
  return Status();
}

std::size_t Store::Impl::tier_index(std::uint32_t tier_ms) const {
  for (std::size_t i = 0; i < options_.tiers_ms.size(); ++i) {
    if (options_.tiers_ms[i] == tier_ms) return i;
  }
  return options_.tiers_ms.size();
}

std::string Store::Impl::partition_dir(const std::string& tenant, std::uint32_t tier_ms,
                                       std::int64_t day) const {
  return "parts/" + escape_name(tenant) + "/" + std::to_string(tier_ms) + "/" + day_name(day);
}

Status Store::Impl::quarantine(const std::string& rel_path, const Status& why) {
  ++quarantined_;
  std::string flat = rel_path;
  std::replace(flat.begin(), flat.end(), '/', '_');
  const std::string to = dir_ + "/quarantine/" + flat;
  spdlog::error("store {}: part {} is unreadable ({}); moved to {} and left out of the store", dir_,
                rel_path, why.to_string(), to);
  return env_->rename_durable(dir_ + "/" + rel_path, to);
}

Status Store::Impl::open_parts(const Manifest& m, bool& rewrite) {
  auto set = std::make_shared<PartSet>();
  for (const auto& mp : m.parts) {
    auto reader = PartReader::open(*env_, dir_ + "/" + mp.path, options_.verify_parts_on_open);
    Status why;
    if (!reader.ok()) {
      why = reader.status();
    } else if ((*reader)->meta().tenant != mp.tenant || (*reader)->meta().tier_ms != mp.tier_ms ||
               (*reader)->meta().day != mp.day || (*reader)->meta().rows != mp.rows) {
      why = Status::corruption("metadata does not match the MANIFEST");
    } else if (tier_index(mp.tier_ms) == options_.tiers_ms.size()) {
      spdlog::warn("store {}: part {} belongs to tier {} ms, which is not configured; ignored",
                   dir_, mp.path, mp.tier_ms);
    }
    if (!why.ok()) {
      rewrite = true;
      if (env_->exists(dir_ + "/" + mp.path)) {
        ES_RETURN_IF_ERROR(quarantine(mp.path, why));
      } else {
        ++quarantined_;
        spdlog::error("store {}: part {} is missing ({}); left out of the store", dir_, mp.path,
                      why.to_string());
      }
      continue;
    }
    auto lp = std::make_shared<LivePart>();
    lp->meta = mp;
    lp->reader = std::move(reader).value();
    set->push_back(std::move(lp));
  }
  std::lock_guard lock(parts_mu_);
  parts_ = std::move(set);
  return Status();
}

Status Store::Impl::remove_orphans(const Manifest& m) {
  std::set<std::string> live;
  for (const auto& p : m.parts) live.insert(p.path);
  ES_ASSIGN_OR_RETURN(auto tenants, env_->list_dir(dir_ + "/parts"));
  for (const auto& t : tenants) {
    const std::string td = "parts/" + t;
    ES_ASSIGN_OR_RETURN(auto tiers, env_->list_dir(dir_ + "/" + td));
    for (const auto& tier : tiers) {
      const std::string tierd = td + "/" + tier;
      ES_ASSIGN_OR_RETURN(auto days, env_->list_dir(dir_ + "/" + tierd));
      for (const auto& day : days) {
        const std::string dd = tierd + "/" + day;
        ES_ASSIGN_OR_RETURN(auto files, env_->list_dir(dir_ + "/" + dd));
        for (const auto& f : files) {
          const std::string rel = dd + "/" + f;
          if (live.count(rel)) continue;
          if (!f.ends_with(".tmp")) {
            ++orphans_removed_;
            spdlog::info("store {}: removing {} (left by an unfinished flush or merge)", dir_, rel);
          }
          ES_RETURN_IF_ERROR(env_->remove_file(dir_ + "/" + rel));
        }
        ES_RETURN_IF_ERROR(env_->remove_dir_if_empty(dir_ + "/" + dd));
      }
      ES_RETURN_IF_ERROR(env_->remove_dir_if_empty(dir_ + "/" + tierd));
    }
    ES_RETURN_IF_ERROR(env_->remove_dir_if_empty(dir_ + "/" + td));
  }
  return Status();
}

void Store::Impl::apply_replayed(std::string_view tenant, const Status& decoded,
                                 const wire::WindowBatchView& view) {
  if (!decoded.ok()) {
    // The bytes passed the CRC, so they are what was written; a batch that decoded then and does
    // not now means the limits were tightened. Skip it loudly rather than refuse to start.
    ++wal_unreadable_;
    spdlog::error("store {}: WAL batch for tenant '{}' does not decode any more ({}); skipped",
                  dir_, tenant, decoded.to_string());
    return;
  }
  const BatchRef batch = batch_ref(view);
  if (ledger_.contains(tenant, batch.gateway_id, batch.seq)) return;
  Status s = catalog_->resolve(tenant, batch.records, ids_scratch_);
  if (s.ok()) s = resolve_rollups(tenant, batch);
  if (!s.ok()) {
    ++wal_unreadable_;
    spdlog::error("store {}: WAL batch gateway '{}' seq {} skipped: {}", dir_, batch.gateway_id,
                  batch.seq, s.to_string());
    return;
  }
  apply_batch(tenant, batch.records, ids_scratch_);
  if (!rollup_views_.views().empty()) apply_batch(tenant, rollup_views_.views(), rollup_ids_);
  ledger_.insert(tenant, batch.gateway_id, batch.seq);
  ++replayed_;
}

Status Store::Impl::resolve_rollups(std::string_view tenant, const BatchRef& batch) {
  rollup_records_.clear();
  ES_RETURN_IF_ERROR(expand_rollups(rollups_, batch.records, rollup_records_));
  rollup_views_.assign(rollup_records_);
  if (rollup_records_.empty()) return Status();
  return catalog_->resolve(tenant, rollup_views_.views(), rollup_ids_);
}

Status Store::Impl::open_rollups() {
  const std::string path = dir_ + "/ROLLUPS";
  ES_ASSIGN_OR_RETURN(auto known, read_rollup_state(*env_, path));
  // The end of every window stored so far (parts and the replayed memtable), rounded up to the
  // coarsest tier: no row at or after it holds data from before a new rollup.
  auto complete_from = [&] {
    std::int64_t data_end = clock_->now_ms();
    for (const auto& p : *parts_snapshot()) {
      data_end = std::max(data_end, p->meta.max_ws + static_cast<std::int64_t>(p->meta.tier_ms));
    }
    std::shared_lock lock(mem_mu_);
    const std::int64_t res = options_.tiers_ms.front();  // the memtable holds the finest tier
    for (const auto& [tenant, mt] : memtables_) {
      mt.for_each(
          [&](const PartRow& row) { data_end = std::max(data_end, row.window_start + res); });
    }
    const std::int64_t coarsest = options_.tiers_ms.back();
    return (floor_div(data_end - 1, coarsest) + 1) * coarsest;
  };
  bool changed = known.size() != rollups_.size();
  std::lock_guard lock(rollups_mu_);
  for (RollupInfo& r : rollups_) {
    auto it =
        std::find_if(known.begin(), known.end(), [&](const auto& k) { return k.first == r.name; });
    if (it != known.end()) {
      r.since_ms = it->second;
    } else {
      r.since_ms = complete_from();
      changed = true;
      spdlog::info("store {}: new rollup [{}], complete from {} ms", dir_, r.name, r.since_ms);
    }
  }
  return changed ? write_rollup_state(*env_, path, rollups_) : Status();
}

// ---- write path ----

Result<IngestReceipt> Store::Impl::submit_encoded(std::string_view tenant, ByteSpan encoded) {
  wire::WindowBatchView view;
  ES_RETURN_IF_ERROR(
      wire::decode_window_batch_view(encoded, options_.limits, clock_->now_ms(), view));
  return submit_decoded(tenant, batch_ref(view), encoded);
}

Result<IngestReceipt> Store::Impl::submit(std::string_view tenant, const wire::WindowBatch& batch,
                                          ByteSpan encoded) {
  RecordViews views;
  views.assign(batch.records);
  return submit_decoded(tenant, BatchRef{batch.tenant, batch.gateway_id, batch.seq, views.views()},
                        encoded);
}

Result<IngestReceipt> Store::Impl::submit_decoded(std::string_view tenant, const BatchRef& batch,
                                                  ByteSpan encoded) {
  ES_RETURN_IF_ERROR(check_tenant(tenant, batch.tenant, batch.gateway_id, batch.seq));
  ES_RETURN_IF_ERROR(check_reserved_tags(batch.records));
  std::lock_guard lock(write_mu_);
  // Nothing is accepted, not even a duplicate's ack, while a stall lasts.
  ES_RETURN_IF_ERROR(resume_locked());
  IngestReceipt r;
  r.gateway_id = batch.gateway_id;
  r.seq = batch.seq;
  if (ledger_.contains(tenant, batch.gateway_id, batch.seq)) {
    ++batches_duplicate_;
    r.duplicate = true;
    // The original may still wait for its fsync: the caller waits for everything appended.
    r.lsn = wal_->last_lsn();
    return r;
  }
  ES_RETURN_IF_ERROR(ledger_.check(tenant, batch.gateway_id, batch.seq));
  {
    const std::uint64_t writes = catalog_->writes();
    Status s = catalog_->resolve(tenant, batch.records, ids_scratch_);
    if (s.ok()) s = resolve_rollups(tenant, batch);
    if (!s.ok()) {
      if (env::is_temporary(s)) enter_stall(Stage::kCatalog, s);
      return s;
    }
    if (catalog_->writes() != writes) clear_stall(Stage::kCatalog);
  }
  {
    auto lsn = wal_->append(tenant, encoded);
    if (!lsn.ok()) {
      enter_stall(Stage::kWal, lsn.status());
      return Status::unavailable("store: the WAL is stalled: " + lsn.status().to_string());
    }
    r.lsn = *lsn;
  }
  apply_batch(tenant, batch.records, ids_scratch_);
  if (!rollup_views_.views().empty()) apply_batch(tenant, rollup_views_.views(), rollup_ids_);
  ledger_.insert(tenant, batch.gateway_id, batch.seq);
  r.records = batch.records.size();
  ++batches_applied_;
  bool over;
  {
    std::shared_lock mlock(mem_mu_);
    over = mem_bytes_ > options_.memtable_bytes;
  }
  if (over && !stalled(Stage::kFlush)) {
    // The batch is applied and in the WAL; a failed flush only delays truncation (and is
    // retried by resume_locked()).
    (void)flush_locked();
  }
  return r;
}

void Store::Impl::apply_batch(std::string_view tenant,
                              std::span<const wire::WindowRecordView> records,
                              const std::vector<std::uint64_t>& ids) {
  const std::int64_t res = options_.tiers_ms[0];
  std::unique_lock lock(mem_mu_);
  auto it = memtables_.find(tenant);
  if (it == memtables_.end()) it = memtables_.emplace(std::string(tenant), Memtable()).first;
  Memtable& mt = it->second;
  const std::size_t before = mt.bytes();
  constexpr std::size_t kAhead = 8;  // records whose index slots are being loaded
  auto key_of = [&](std::size_t r) {
    return RowKey{ids[r], floor_div(records[r].window_start_ms, res) * res};
  };
  for (std::size_t r = 0; r < std::min(kAhead, records.size()); ++r) mt.prefetch(key_of(r));
  for (std::size_t r = 0; r < records.size(); ++r) {
    if (r + kAhead < records.size()) mt.prefetch(key_of(r + kAhead));
    const wire::WindowRecordView& rec = records[r];
    PartRow row;
    row.series_id = ids[r];
    row.window_start = floor_div(rec.window_start_ms, res) * res;
    row.count = rec.count;
    row.sum = rec.sum;
    row.min = rec.min;
    row.max = rec.max;
    row.histogram = rec.histogram;
    row.distinct = rec.distinct;
    row.topk = rec.topk;
    Status s = mt.apply(row);
    if (!s.ok()) {
      ++merge_conflicts_;
      spdlog::debug("store: record for series {} window {} not merged: {}", ids[r],
                    rec.window_start_ms, s.to_string());
    }
  }
  mem_bytes_ = mem_bytes_ + mt.bytes() - before;
  records_applied_ += records.size();
}

Status Store::Impl::wait_durable(std::uint64_t lsn) {
  Status s = wal_->wait_durable(lsn);
  if (s.ok()) return s;
  enter_stall(Stage::kWal, s);
  return Status::unavailable("store: the WAL is stalled: " + s.to_string());
}

Status Store::Impl::flush() {
  std::lock_guard lock(write_mu_);
  if (!wal_->failure().ok()) return recover_wal_locked();
  return flush_locked();
}

const char* Store::Impl::stage_name(Stage stage) {
  static constexpr const char* kNames[] = {"WAL", "catalog", "flush"};
  return kNames[static_cast<int>(stage)];
}

void Store::Impl::enter_stall(Stage stage, const Status& why) {
  {
    std::lock_guard lock(stall_mu_);
    stall_reason_ = std::string(stage_name(stage)) + ": " + why.to_string();
    StallState& st = stall_[static_cast<int>(stage)];
    if (st.active) return;
    st.active = true;
    st.since = std::chrono::steady_clock::now();
    ++stalls_;
    any_stall_.store(true, std::memory_order_release);
  }
  spdlog::error(
      "store {}: {} write failed ({}); {} held back (no acks, agents resend, HTTP 503) and "
      "retried every {} ms until it succeeds",
      dir_, stage_name(stage), why.to_string(),
      stage == Stage::kCatalog ? "batches with new series are"
      : stage == Stage::kFlush ? "the memtable keeps the data; ingest is"
                               : "ingest is",
      options_.stall_retry_ms);
  wake_background();
}

void Store::Impl::clear_stall(Stage stage) {
  std::lock_guard lock(stall_mu_);
  StallState& st = stall_[static_cast<int>(stage)];
  if (!st.active) return;
  st.active = false;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.since).count();
  spdlog::info("store {}: {} writes work again after {:.1f} s; ingest resumed", dir_,
               stage_name(stage), secs);
  if (!stall_[0].active && !stall_[1].active && !stall_[2].active) {
    stall_reason_.clear();
    any_stall_.store(false, std::memory_order_release);
  }
}

bool Store::Impl::stalled(Stage stage) const {
  std::lock_guard lock(stall_mu_);
  return stall_[static_cast<int>(stage)].active;
}

bool Store::Impl::memtable_over_hard_limit() const {
  std::shared_lock lock(mem_mu_);
  return mem_bytes_ > 2 * options_.memtable_bytes;
}

Status Store::Impl::resume_locked() {
  // The common case costs one load: a WAL failure the sync thread met becomes a stall at the
  // next append or wait_durable(), both of which come before any ack.
  if (!any_stall_.load(std::memory_order_acquire)) return Status();
  const bool wal = stalled(Stage::kWal) || !wal_->failure().ok();
  const bool flush = stalled(Stage::kFlush);
  if (!wal && !flush) return Status();
  const auto now = std::chrono::steady_clock::now();
  if (now - last_retry_ >= std::chrono::milliseconds(options_.stall_retry_ms)) {
    last_retry_ = now;
    if (wal) {
      (void)recover_wal_locked();
    } else {
      (void)flush_locked();
    }
  }
  if (stalled(Stage::kWal) || !wal_->failure().ok()) {
    std::lock_guard lock(stall_mu_);
    return Status::unavailable("store stalled (" + stall_reason_ + "); retrying");
  }
  // A stalled flush holds ingest back only once the memtable is far over its budget.
  if (stalled(Stage::kFlush) && memtable_over_hard_limit()) {
    std::lock_guard lock(stall_mu_);
    return Status::unavailable("store stalled (" + stall_reason_ +
                               ") and the memtable is at twice its budget; retrying");
  }
  return Status();
}

Status Store::Impl::recover_wal_locked() {
  auto segment = wal_->begin_recovery();
  Status s = segment.status();
  // Every record the WAL took is in the memtables: once they are in committed parts, nothing
  // the failed segment may have lost matters.
  // The MANIFEST moves replay past the failed segment even when the memtables are empty.
  if (s.ok()) s = flush_into_parts_locked(*segment, /*always_commit=*/true);
  if (!s.ok()) {
    enter_stall(Stage::kWal, s);
    return s;
  }
  wal_->end_recovery();
  clear_stall(Stage::kWal);
  clear_stall(Stage::kFlush);
  return Status();
}

std::uint64_t Store::Impl::allocate_part_id() {
  std::lock_guard lock(manifest_mu_);
  return next_part_id_++;
}

Result<std::shared_ptr<const LivePart>> Store::Impl::write_part(
    const std::string& tenant, std::uint32_t tier_ms, std::int64_t day, int zstd_level,
    const std::function<Status(PartWriter&)>& fill) {
  const std::string pdir = partition_dir(tenant, tier_ms, day);
  ES_RETURN_IF_ERROR(env_->ensure_dir(dir_ + "/" + pdir));
  char name[40];
  std::snprintf(name, sizeof name, "%012" PRIu64 ".part", allocate_part_id());
  const std::string rel = pdir + "/" + name;
  PartMeta meta;
  meta.tenant = tenant;
  meta.tier_ms = tier_ms;
  meta.day = day;
  PartWriter w(*env_, dir_ + "/" + rel, meta, options_.block_rows, zstd_level,
               options_.block_bytes);
  ES_RETURN_IF_ERROR(fill(w));
  std::uint64_t bytes = 0;
  ES_ASSIGN_OR_RETURN(PartMeta done, w.finish(bytes));
  // The directory entry of a new partition directory must be durable too.
  Status synced = env_->sync_dir(env::parent_dir(dir_ + "/" + pdir));
  auto reader = synced.ok() ? PartReader::open(*env_, dir_ + "/" + rel, false)
                            : Result<std::shared_ptr<const PartReader>>(synced);
  if (!reader.ok()) {
    (void)env_->remove_file(dir_ + "/" + rel);
    return reader.status();
  }
  auto lp = std::make_shared<LivePart>();
  lp->meta.path = rel;
  lp->meta.tenant = tenant;
  lp->meta.tier_ms = tier_ms;
  lp->meta.day = day;
  lp->meta.rows = done.rows;
  lp->meta.bytes = bytes;
  lp->meta.min_ws = done.min_ws;
  lp->meta.max_ws = done.max_ws;
  lp->reader = std::move(reader).value();
  return std::shared_ptr<const LivePart>(std::move(lp));
}

Status Store::Impl::flush_locked() {
  {
    std::shared_lock lock(mem_mu_);
    bool any = false;
    for (const auto& [k, m] : memtables_) any = any || !m.empty();
    if (!any) return Status();
  }
  // Everything in the memtables came from segments below `segment`.
  auto rotated = wal_->rotate();
  if (!rotated.ok()) {
    enter_stall(Stage::kWal, rotated.status());
    return rotated.status().with_context("flush");
  }
  Status s = flush_into_parts_locked(*rotated);
  if (!s.ok()) {
    enter_stall(Stage::kFlush, s);
    return s;
  }
  clear_stall(Stage::kFlush);
  return Status();
}

Status Store::Impl::flush_into_parts_locked(const std::uint64_t segment, bool always_commit) {
  {
    std::shared_lock lock(mem_mu_);
    bool any = false;
    for (const auto& [k, m] : memtables_) any = any || !m.empty();
    if (!any && !always_commit) return Status();
  }
  // Only this thread (holding write_mu_) changes the memtables, so they are stable here.
  std::vector<std::shared_ptr<const LivePart>> added;
  Bytes h, d, t;
  sketch::ExpHistogramAccumulator merger;
  for (const auto& [tenant, mt] : memtables_) {
    if (mt.empty()) continue;
    const auto rows = mt.sorted();
    // Group by day: rows are sorted by series then time, so collect per day first. Every tier
    // divides a day, so a coarse row lies in the day of its fine rows.
    std::map<std::int64_t, std::vector<std::size_t>> by_day;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      by_day[floor_div(rows[i]->window_start, kDayMs)].push_back(i);
    }
    for (std::size_t ti = 0; ti < options_.tiers_ms.size(); ++ti) {
      const std::int64_t res = options_.tiers_ms[ti];
      for (const auto& day_rows : by_day) {
        const std::int64_t day = day_rows.first;
        const std::vector<std::size_t>& idx =
            day_rows.second;  // (clang 14 cannot capture bindings)
        auto part = write_part(
            tenant, options_.tiers_ms[ti], day, options_.flush_zstd_level,
            [&](PartWriter& w) -> Status {
              if (ti == 0) {
                for (std::size_t i : idx) ES_RETURN_IF_ERROR(w.add(*rows[i]));
                return Status();
              }
              // The rollup: consecutive fine rows of one series and coarse window merge into one.
              PartRow row;
              for (std::size_t a = 0; a < idx.size();) {
                const PartRow& first = *rows[idx[a]];
                const RowKey key{first.series_id, floor_div(first.window_start, res) * res};
                RowAccumulator acc;
                (void)acc.begin_run(merger);  // a fresh accumulator: nothing to decode
                std::size_t b = a;
                for (; b < idx.size(); ++b) {
                  const PartRow& r = *rows[idx[b]];
                  if (r.series_id != key.series_id ||
                      floor_div(r.window_start, res) * res != key.window_start) {
                    break;
                  }
                  Status s = acc.add_to_run(r, merger);
                  if (!s.ok()) {
                    ++merge_conflicts_;
                    spdlog::debug("store: rollup of series {} window {} into tier {}: {}",
                                  key.series_id, key.window_start, res, s.to_string());
                  }
                }
                acc.end_run(merger);
                acc.to_row(key.series_id, key.window_start, h, d, t, row);
                ES_RETURN_IF_ERROR(w.add(row));
                a = b;
              }
              return Status();
            });
        if (!part.ok()) {
          for (const auto& p : added) (void)env_->remove_file(dir_ + "/" + p->meta.path);
          return part.status().with_context("flush");
        }
        added.push_back(std::move(part).value());
      }
    }
  }
  {
    std::lock_guard mlock(manifest_mu_);
    auto set = std::make_shared<PartSet>(*parts_snapshot());
    set->insert(set->end(), added.begin(), added.end());
    const std::uint64_t old_from = wal_replay_from_;
    Bytes old_ledger = committed_ledger_;
    wal_replay_from_ = segment;
    committed_ledger_.clear();
    ledger_.encode(committed_ledger_);
    Status s = commit_manifest_locked(*set);
    if (!s.ok()) {
      wal_replay_from_ = old_from;
      committed_ledger_ = std::move(old_ledger);
      for (const auto& p : added) (void)env_->remove_file(dir_ + "/" + p->meta.path);
      return s.with_context("flush");
    }
    std::unique_lock mem(mem_mu_);
    std::lock_guard plock(parts_mu_);
    parts_ = std::move(set);
    memtables_.clear();
    mem_bytes_ = 0;
  }
  ++flushes_;
  wake_background();
  // The parts are committed: a failure to remove old segments only delays it (the next flush
  // removes them; replay skips what the ledger has).
  if (Status r = wal_->remove_segments_before(segment); !r.ok()) {
    spdlog::warn("store {}: removing WAL segments before {}: {}", dir_, segment, r.to_string());
  }
  return Status();
}

Status Store::Impl::commit_manifest_locked(const PartSet& parts) {
  Manifest m;
  m.wal_replay_from = wal_replay_from_;
  m.next_part_id = next_part_id_;
  m.ledger = committed_ledger_;
  m.parts.reserve(parts.size());
  for (const auto& p : parts) m.parts.push_back(p->meta);
  return env_->write_file_durable(dir_ + "/MANIFEST", m.encode());
}

std::shared_ptr<const PartSet> Store::Impl::parts_snapshot() const {
  std::lock_guard lock(parts_mu_);
  return parts_;
}

Result<std::vector<SeriesInfo>> Store::Impl::select(
    std::string_view tenant, const std::vector<LabelMatcher>& matchers) const {
  ES_ASSIGN_OR_RETURN(auto ids, catalog_->select(tenant, matchers));
  std::vector<SeriesInfo> out;
  out.reserve(ids.size());
  for (auto id : ids) {
    if (auto info = catalog_->info(id)) out.push_back(std::move(*info));
  }
  return out;
}

StoreStats Store::Impl::stats() const {
  StoreStats s;
  s.series = catalog_->size();
  s.batches_applied = batches_applied_;
  s.batches_duplicate = batches_duplicate_;
  s.records_applied = records_applied_;
  s.merge_conflicts = merge_conflicts_;
  {
    std::shared_lock lock(mem_mu_);
    s.memtable_bytes = mem_bytes_;
    for (const auto& [k, m] : memtables_) s.memtable_rows += m.rows();  // the finest tier
  }
  s.wal_bytes = wal_->bytes();
  s.wal_segments = wal_->segments();
  s.wal_fsyncs = wal_->fsyncs();
  s.wal_replayed_batches = replayed_;
  s.wal_torn_bytes = torn_bytes_;
  s.part_bytes_per_tier.assign(options_.tiers_ms.size(), 0);
  s.part_rows_per_tier.assign(options_.tiers_ms.size(), 0);
  for (const auto& p : *parts_snapshot()) {
    ++s.parts;
    s.part_bytes += p->meta.bytes;
    s.part_rows += p->meta.rows;
    const std::size_t ti = tier_index(p->meta.tier_ms);
    if (ti < options_.tiers_ms.size()) {
      s.part_bytes_per_tier[ti] += p->meta.bytes;
      s.part_rows_per_tier[ti] += p->meta.rows;
    }
  }
  s.flushes = flushes_;
  s.merges = merges_;
  s.partitions_dropped = partitions_dropped_;
  s.parts_quarantined = quarantined_;
  s.orphan_parts_removed = orphans_removed_;
  s.corrupt_blocks = corrupt_blocks_;
  {
    // The ledger belongs to the writer; a racy size read is fine for statistics but not allowed
    // by the memory model, so take the writer's lock briefly.
    std::lock_guard lock(write_mu_);
    s.ledger_gateways = ledger_.gateways();
    s.ledger_forced_gaps = ledger_.forced_gaps();
  }
  s.wal_segments_quarantined = wal_quarantined_;
  s.wal_batches_unreadable = wal_unreadable_;
  {
    std::lock_guard lock(stall_mu_);
    s.stalled_wal = stall_[0].active ? 1 : 0;
    s.stalled_catalog = stall_[1].active ? 1 : 0;
    s.stalled_flush = stall_[2].active ? 1 : 0;
    s.stall_reason = stall_reason_;
  }
  s.stalls = stalls_;
  return s;
}

}  // namespace edgesketch::store
