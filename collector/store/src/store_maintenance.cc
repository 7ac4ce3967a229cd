// Background work of the store: merging the parts of a partition, retention, and the thread
// that runs both after each flush.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "row_accumulator.h"
#include "store_impl.h"

namespace edgesketch::store {
namespace {

using PartitionKey = std::tuple<std::string, std::uint32_t, std::int64_t>;

// Reads the rows of one part in order, a block at a time.
class PartCursor {
 public:
  explicit PartCursor(std::shared_ptr<const LivePart> part) : part_(std::move(part)) {}

  // Positions on the first row; false at the end. Errors are corruption of a block.
  Result<bool> start() { return load(0); }
  Result<bool> next() {
    if (++row_ < block_.rows()) return true;
    return load(block_index_ + 1);
  }
  RowKey key() const { return {block_.series_id(row_), block_.window_start(row_)}; }
  PartRow row() { return block_.row(row_, scratch_); }
  const LivePart& part() const { return *part_; }

 private:
  Result<bool> load(std::size_t b) {
    block_index_ = b;
    row_ = 0;
    if (b >= part_->reader->index().size()) return false;
    ES_ASSIGN_OR_RETURN(block_, part_->reader->read_block(b));
    return block_.rows() > 0;
  }

  std::shared_ptr<const LivePart> part_;
  std::size_t block_index_ = 0;
  std::size_t row_ = 0;
  PartBlock block_;
  Bytes scratch_;
};

}  // namespace

Status Store::Impl::merge_parts(const std::vector<std::shared_ptr<const LivePart>>& inputs) {
  const ManifestPart& first = inputs.front()->meta;
  std::vector<std::unique_ptr<PartCursor>> cursors;
  std::vector<bool> live;
  for (const auto& p : inputs) {
    auto c = std::make_unique<PartCursor>(p);
    auto ok = c->start();
    if (!ok.ok()) {
      ++corrupt_blocks_;
      bad_parts_.insert(p->meta.path);
      return ok.status().with_context("merge");
    }
    live.push_back(*ok);
    cursors.push_back(std::move(c));
  }
  Status read_error;
  auto part = write_part(
      first.tenant, first.tier_ms, first.day, options_.merge_zstd_level,
      [&](PartWriter& w) -> Status {
        Bytes h, d, t;
        sketch::ExpHistogramAccumulator merger;
        for (;;) {
          // The smallest key among the cursors (k is small: a linear scan beats a heap).
          std::size_t min_i = cursors.size();
          for (std::size_t i = 0; i < cursors.size(); ++i) {
            if (live[i] && (min_i == cursors.size() || cursors[i]->key() < cursors[min_i]->key())) {
              min_i = i;
            }
          }
          if (min_i == cursors.size()) return Status();
          const RowKey key = cursors[min_i]->key();
          std::size_t equal = 0;
          for (std::size_t i = 0; i < cursors.size(); ++i) {
            if (live[i] && cursors[i]->key() == key) ++equal;
          }
          PartRow out;
          RowAccumulator acc;
          if (equal == 1) {
            out = cursors[min_i]->row();
          } else {
            for (std::size_t i = 0; i < cursors.size(); ++i) {
              if (!live[i] || !(cursors[i]->key() == key)) continue;
              Status s = acc.add(cursors[i]->row(), merger);
              if (!s.ok()) {
                ++merge_conflicts_;
                spdlog::warn("store: merge of series {} window {}: {}", key.series_id,
                             key.window_start, s.to_string());
              }
            }
            acc.to_row(key.series_id, key.window_start, h, d, t, out);
          }
          ES_RETURN_IF_ERROR(w.add(out));
          for (std::size_t i = 0; i < cursors.size(); ++i) {
            if (!live[i] || !(cursors[i]->key() == key)) continue;
            auto more = cursors[i]->next();
            if (!more.ok()) {
              ++corrupt_blocks_;
              bad_parts_.insert(cursors[i]->part().meta.path);
              read_error = more.status();
              return read_error;
            }
            live[i] = *more;
          }
        }
      });
  if (!part.ok()) return part.status().with_context("merge");
  {
    std::lock_guard mlock(manifest_mu_);
    auto set = std::make_shared<PartSet>();
    for (const auto& p : *parts_snapshot()) {
      if (std::find(inputs.begin(), inputs.end(), p) == inputs.end()) set->push_back(p);
    }
    set->push_back(*part);
    ES_RETURN_IF_ERROR(commit_manifest_locked(*set));
    std::lock_guard plock(parts_mu_);
    parts_ = std::move(set);
  }
  ++merges_;
  // Scans that still hold the old parts keep their mappings; unlinking does not disturb them.
  for (const auto& p : inputs) ES_RETURN_IF_ERROR(env_->remove_file(dir_ + "/" + p->meta.path));
  return Status();
}

Status Store::Impl::merge_once(bool full, bool& merged) {
  merged = false;
  std::map<PartitionKey, std::vector<std::shared_ptr<const LivePart>>> groups;
  for (const auto& p : *parts_snapshot()) {
    if (bad_parts_.count(p->meta.path)) continue;
    groups[{p->meta.tenant, p->meta.tier_ms, p->meta.day}].push_back(p);
  }
  for (auto& [key, parts] : groups) {
    const std::size_t need = full ? 2 : options_.merge_min_parts;
    if (parts.size() < need) continue;
    std::sort(parts.begin(), parts.end(),
              [](const auto& a, const auto& b) { return a->meta.bytes < b->meta.bytes; });
    if (parts.size() > options_.merge_max_parts) parts.resize(options_.merge_max_parts);
    ES_RETURN_IF_ERROR(merge_parts(parts));
    merged = true;
    return Status();
  }
  return Status();
}

Status Store::Impl::compact(bool full) {
  std::lock_guard lock(merge_mu_);
  for (;;) {
    bool merged = false;
    ES_RETURN_IF_ERROR(merge_once(full, merged));
    if (!merged) break;
  }
  return retention_locked();
}

Status Store::Impl::apply_retention() {
  std::lock_guard lock(merge_mu_);
  return retention_locked();
}

Status Store::Impl::retention_locked() {
  const std::int64_t now = clock_->now_ms();
  std::vector<std::shared_ptr<const LivePart>> drop;
  std::set<PartitionKey> partitions;
  {
    std::lock_guard mlock(manifest_mu_);
    auto set = std::make_shared<PartSet>();
    for (const auto& p : *parts_snapshot()) {
      const std::size_t ti = tier_index(p->meta.tier_ms);
      const std::int64_t keep = ti < options_.retention_ms.size() ? options_.retention_ms[ti] : 0;
      if (keep > 0 && (p->meta.day + 1) * kDayMs + keep <= now) {
        drop.push_back(p);
        partitions.insert({p->meta.tenant, p->meta.tier_ms, p->meta.day});
      } else {
        set->push_back(p);
      }
    }
    if (drop.empty()) return Status();
    ES_RETURN_IF_ERROR(commit_manifest_locked(*set));
    std::lock_guard plock(parts_mu_);
    parts_ = std::move(set);
  }
  partitions_dropped_ += partitions.size();
  for (const auto& [tenant, tier, day] : partitions) {
    spdlog::info("store {}: retention dropped partition {}", dir_,
                 partition_dir(tenant, tier, day));
  }
  for (const auto& p : drop) {
    ES_RETURN_IF_ERROR(env_->remove_file(dir_ + "/" + p->meta.path));
    const std::string pdir = dir_ + "/" + env::parent_dir(p->meta.path);
    ES_RETURN_IF_ERROR(env_->remove_dir_if_empty(pdir));
    ES_RETURN_IF_ERROR(env_->remove_dir_if_empty(env::parent_dir(pdir)));
    ES_RETURN_IF_ERROR(env_->remove_dir_if_empty(env::parent_dir(env::parent_dir(pdir))));
  }
  return Status();
}

void Store::Impl::wake_background() {
  {
    std::lock_guard lock(bg_mu_);
    bg_work_ = true;
  }
  bg_cv_.notify_one();
}

void Store::Impl::background_loop() {
  std::unique_lock lock(bg_mu_);
  for (;;) {
    const bool stalled_now = stalled(Stage::kWal) || stalled(Stage::kFlush);
    if (stalled_now) {
      bg_cv_.wait_for(lock, std::chrono::milliseconds(options_.stall_retry_ms),
                      [&] { return bg_stop_; });
    } else {
      bg_cv_.wait(lock, [&] { return bg_stop_ || bg_work_; });
    }
    if (bg_stop_) return;
    bg_work_ = false;
    lock.unlock();
    if (stalled_now) {
      // Resume by itself even when no batch arrives to trigger it.
      std::lock_guard wlock(write_mu_);
      (void)resume_locked();
    }
    {
      std::lock_guard mlock(merge_mu_);
      for (;;) {
        {
          std::lock_guard stop_lock(bg_mu_);
          if (bg_stop_) return;
        }
        bool merged = false;
        Status s = merge_once(false, merged);
        if (!s.ok()) {
          spdlog::error("store {}: background merge failed: {}", dir_, s.to_string());
          break;
        }
        if (!merged) break;
      }
      Status s = retention_locked();
      if (!s.ok()) spdlog::error("store {}: retention failed: {}", dir_, s.to_string());
    }
    lock.lock();
  }
}

}  // namespace edgesketch::store
