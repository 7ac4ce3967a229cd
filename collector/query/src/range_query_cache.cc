// Extent cache of step-aligned range query results.
#include "edgesketch/query/range_query_cache.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "edgesketch/common/time_math.h"

namespace edgesketch::query {
namespace {

constexpr std::size_t kMaxLoggedInvalidations = 4096;

std::size_t estimate_bytes(const std::vector<ResultSeries>& series) {
  std::size_t bytes = 128;
  for (const auto& s : series) {
    bytes += sizeof(ResultSeries) + s.samples.size() * sizeof(Sample);
    for (const auto& h : s.histograms)
      bytes += sizeof(HistogramSample::t_ms) + h.histogram.memory_bytes();
    for (const auto& l : s.labels) bytes += sizeof(Label) + l.name.size() + l.value.size();
  }
  return bytes;
}

// Appends the points of `from` with a time in [lo, hi] to `to`.
void append_points(const ResultSeries& from, std::int64_t lo, std::int64_t hi, ResultSeries& to) {
  for (const auto& p : from.samples) {
    if (p.t_ms >= lo && p.t_ms <= hi) to.samples.push_back(p);
  }
  for (const auto& p : from.histograms) {
    if (p.t_ms >= lo && p.t_ms <= hi) to.histograms.push_back(p);
  }
}

}  // namespace

RangeQueryCache::RangeQueryCache(RangeQueryCacheOptions options, const Clock& clock)
    : options_(options), clock_(clock) {}

std::string RangeQueryCache::entry_key(const RangeQueryKey& key, std::int64_t extent_start) {
  // Length-prefixed fields: no two different keys print the same.
  return fmt::format("{}:{}{}:{}|{}|{}|{}|{}|{}", key.tenant.size(), key.tenant, key.query.size(),
                     key.query, key.step_ms, key.tier_ms, key.window_ms, key.lookahead_ms,
                     extent_start);
}

bool RangeQueryCache::affected(const Entry& entry, std::int64_t start_ms, std::int64_t end_ms) {
  if (start_ms >= end_ms) return false;
  // Changed rows overlap [start, end): the batch's own windows end in (start, end]; a row of a
  // tier of width w that rolls them up starts before `end`, so it ends in (start, end + w − 1].
  const std::int64_t last_end = end_ms + std::max<std::int64_t>(entry.tier_ms - 1, 0);
  return start_ms < entry.data_hi && last_end > entry.data_lo;
}

const RangeQueryCache::Entry* RangeQueryCache::lookup_locked(const std::string& k,
                                                             std::int64_t now_ms) {
  auto it = index_.find(k);
  if (it == index_.end()) return nullptr;
  if (it->second->expires_ms != 0 && it->second->expires_ms <= now_ms) {
    erase_locked(it->second);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return &*it->second;
}

void RangeQueryCache::erase_locked(std::list<Entry>::iterator it) {
  stats_.bytes -= it->bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

void RangeQueryCache::insert_locked(Entry entry, std::uint64_t seen_seq) {
  // Skip results that an invalidation may have made stale while they were evaluated.
  if (!log_.empty() && log_.front().seq > seen_seq + 1) return;  // log too short to tell
  for (const auto& inv : log_) {
    if (inv.seq <= seen_seq || inv.tenant != entry.tenant) continue;
    if (affected(entry, inv.start_ms, inv.end_ms)) return;
  }
  if (entry.bytes > options_.max_bytes) return;
  if (auto old = index_.find(entry.key); old != index_.end()) erase_locked(old->second);
  stats_.bytes += entry.bytes;
  lru_.push_front(std::move(entry));
  index_[lru_.front().key] = lru_.begin();
  while (stats_.bytes > options_.max_bytes && !lru_.empty()) {
    erase_locked(std::prev(lru_.end()));
    ++stats_.evictions;
  }
}

Result<QueryResult> RangeQueryCache::query(const RangeQueryKey& key, std::int64_t start_ms,
                                           std::int64_t end_ms, const Evaluate& evaluate) {
  std::int64_t expires = 0;
  bool cacheable = false;
  return query_impl(key, start_ms, end_ms, evaluate, &expires, &cacheable);
}

Result<std::shared_ptr<const RangeQueryCache::Rendered>> RangeQueryCache::query_rendered(
    const RangeQueryKey& key, std::int64_t start_ms, std::int64_t end_ms, const Evaluate& evaluate,
    const Render& render) {
  // (appended piece by piece: GCC 12 warns falsely about "literal" + std::string)
  std::string k(1, 'R');
  k += entry_key(key, start_ms);
  k += '/';
  k += std::to_string(end_ms);
  std::uint64_t seen_seq;
  {
    std::lock_guard lock(mu_);
    if (const Entry* e = lookup_locked(k, clock_.now_ms()); e != nullptr && e->body) {
      ++stats_.rendered_hits;
      return e->body;
    }
    seen_seq = next_seq_ - 1;
  }
  std::int64_t expires = 0;
  bool cacheable = false;
  ES_ASSIGN_OR_RETURN(QueryResult r,
                      query_impl(key, start_ms, end_ms, evaluate, &expires, &cacheable));
  auto body = std::make_shared<const Rendered>(render(r));
  if (cacheable) {
    const std::int64_t step = key.step_ms;
    Entry e;
    e.key = k;
    e.tenant = key.tenant;
    e.data_lo = start_ms - key.window_ms;
    e.data_hi = start_ms + (end_ms - start_ms) / step * step + key.lookahead_ms;
    e.tier_ms = key.tier_ms;
    e.expires_ms = expires;
    e.bytes = body->body.size() + body->gzip_body.size() + k.size();
    e.body = body;
    std::lock_guard lock(mu_);
    insert_locked(std::move(e), seen_seq);
  }
  return body;
}

Result<QueryResult> RangeQueryCache::query_impl(const RangeQueryKey& key, std::int64_t start_ms,
                                                std::int64_t end_ms, const Evaluate& evaluate,
                                                std::int64_t* expires_ms, bool* cacheable) {
  const std::int64_t step = key.step_ms;
  *expires_ms = 0;
  *cacheable = false;
  if (step <= 0 || start_ms % step != 0 || end_ms < start_ms || options_.steps_per_extent == 0) {
    {
      std::lock_guard lock(mu_);
      ++stats_.bypassed;
    }
    return evaluate(start_ms, end_ms);
  }
  *cacheable = true;
  auto use_expiry = [expires_ms](std::int64_t e) {
    if (e != 0 && (*expires_ms == 0 || e < *expires_ms)) *expires_ms = e;
  };
  const std::int64_t extent = static_cast<std::int64_t>(options_.steps_per_extent) * step;
  const std::int64_t last_t = start_ms + (end_ms - start_ms) / step * step;
  const std::int64_t first_j = floor_div(start_ms, extent);
  const std::int64_t last_j = floor_div(last_t, extent);

  std::vector<std::vector<ResultSeries>> parts(static_cast<std::size_t>(last_j - first_j + 1));
  std::vector<bool> have(parts.size(), false);
  std::uint64_t seen_seq;
  const std::int64_t now = clock_.now_ms();
  {
    std::lock_guard lock(mu_);
    seen_seq = next_seq_ - 1;
    for (std::int64_t j = first_j; j <= last_j; ++j) {
      const Entry* e = lookup_locked(entry_key(key, j * extent), now);
      const auto idx = static_cast<std::size_t>(j - first_j);
      if (e) {
        parts[idx] = e->series;
        have[idx] = true;
        use_expiry(e->expires_ms);
        ++stats_.hits;
      } else {
        ++stats_.misses;
      }
    }
  }
  // Evaluate each run of missing extents in one call, then split it.
  for (std::size_t i = 0; i < parts.size();) {
    if (have[i]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < parts.size() && !have[j]) ++j;
    const std::int64_t run_start = (first_j + static_cast<std::int64_t>(i)) * extent;
    const std::int64_t run_end = (first_j + static_cast<std::int64_t>(j)) * extent - step;
    ES_ASSIGN_OR_RETURN(QueryResult r, evaluate(run_start, run_end));
    // The piece of a series in the extent of a point at t (nullptr outside the run).
    auto piece = [&](const ResultSeries& s, std::int64_t t) -> ResultSeries* {
      const auto idx = static_cast<std::size_t>(floor_div(t, extent) - first_j);
      if (idx < i || idx >= j) return nullptr;
      auto& part = parts[idx];
      if (part.empty() || part.back().labels != s.labels) part.push_back(ResultSeries{s.labels});
      return &part.back();
    };
    for (const auto& s : r.series) {
      for (const auto& sample : s.samples) {
        if (ResultSeries* p = piece(s, sample.t_ms)) p->samples.push_back(sample);
      }
      for (const auto& h : s.histograms) {
        if (ResultSeries* p = piece(s, h.t_ms)) p->histograms.push_back(h);
      }
    }
    {
      std::lock_guard lock(mu_);
      for (std::size_t k = i; k < j; ++k) {
        const std::int64_t ext_start = (first_j + static_cast<std::int64_t>(k)) * extent;
        Entry e;
        e.key = entry_key(key, ext_start);
        e.tenant = key.tenant;
        // Points ext_start … ext_start + extent − step read the rows ending in
        // (ext_start − window_ms, ext_start + extent − step + lookahead_ms].
        e.data_lo = ext_start - key.window_ms;
        e.data_hi = ext_start + extent - step + key.lookahead_ms;
        e.tier_ms = key.tier_ms;
        e.expires_ms = e.data_hi + options_.settle_ms > now ? now + options_.fresh_ttl_ms : 0;
        use_expiry(e.expires_ms);
        e.series = parts[k];
        e.bytes = estimate_bytes(e.series) + e.key.size();
        insert_locked(std::move(e), seen_seq);
      }
    }
    i = j;
  }
  // Assemble the requested range.
  std::map<Labels, ResultSeries> merged;
  for (auto& part : parts) {
    for (auto& s : part) append_points(s, start_ms, last_t, merged[s.labels]);
  }
  QueryResult out;
  out.type = ResultType::kMatrix;
  out.t_ms = start_ms;
  for (auto& [labels, series] : merged) {
    if (series.samples.empty() && series.histograms.empty()) continue;
    series.labels = labels;
    out.series.push_back(std::move(series));
  }
  return out;
}

void RangeQueryCache::invalidate(std::string_view tenant, std::int64_t start_ms,
                                 std::int64_t end_ms) {
  std::lock_guard lock(mu_);
  log_.push_back(Invalidation{next_seq_++, std::string(tenant), start_ms, end_ms});
  while (log_.size() > kMaxLoggedInvalidations) log_.pop_front();
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->tenant == tenant && affected(*it, start_ms, end_ms)) {
      erase_locked(it);
      ++stats_.invalidations;
    }
    it = next;
  }
}

RangeQueryCacheStats RangeQueryCache::stats() const {
  std::lock_guard lock(mu_);
  RangeQueryCacheStats s = stats_;
  s.entries = lru_.size();
  return s;
}

}  // namespace edgesketch::query
