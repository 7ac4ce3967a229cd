// RangeQueryCache: results of step-aligned range queries, cached per time extent.
//
// A range query with start % step == 0 is cut into extents of `steps_per_extent` steps aligned
// to multiples of steps_per_extent × step (so different panels and refreshes share extents).
// Each extent is cached under (tenant, normalized query, step, tier, extent start). An extent
// whose data may still change (its last point is within `settle_ms` of now) expires after
// `fresh_ttl_ms`; older extents stay until evicted (LRU, bounded in bytes) or invalidated by
// invalidate(), which the ingest path calls with the time range of new or late data. A result
// evaluated while an overlapping invalidation happened is returned but not stored.
//
// Which data feeds an extent. A point at t merges the windows ENDING in (t − W, t], W =
// RangeQueryKey::window_ms (series_source.h), so the extent with points a, a + s, …, b (step s)
// is fed by the windows ending in (a − W, b] — whatever their widths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/query/query_engine.h"

namespace edgesketch::query {

struct RangeQueryCacheOptions {
  // Upper bound of the cached results' estimated memory.
  std::size_t max_bytes = 256u << 20;
  // Steps per extent.
  std::size_t steps_per_extent = 120;
  // Lifetime of an extent whose data may still change.
  std::int64_t fresh_ttl_ms = 5'000;
  // An extent is "fresh" while now − (its last point) < settle_ms.
  std::int64_t settle_ms = 60'000;
};

struct RangeQueryCacheStats {
  std::uint64_t hits = 0;      // extents served from the cache
  std::uint64_t misses = 0;    // extents evaluated
  std::uint64_t bypassed = 0;  // queries not step-aligned, evaluated directly
  std::uint64_t evictions = 0;
  std::uint64_t invalidations = 0;  // extents dropped by invalidate()
  std::uint64_t rendered_hits = 0;  // whole responses served by query_rendered()
  std::size_t bytes = 0;
  std::size_t entries = 0;
};

// The identity of a query's results apart from time.
struct RangeQueryKey {
  std::string tenant;
  std::string query;  // to_string(expr): normalized text
  std::int64_t step_ms = 0;
  std::int64_t tier_ms = 0;  // SeriesSource::resolution_ms(step)
  // A point at t reads the windows ending in (t − window_ms, t + lookahead_ms]: max(step, what
  // ranges and offsets reach back, time_span()), and what negative offsets reach ahead.
  std::int64_t window_ms = 0;
  std::int64_t lookahead_ms = 0;
};

// Thread-safe (one mutex guards the map, the LRU list and the invalidation log; evaluation runs
// outside it). `clock` must outlive the cache.
class RangeQueryCache {
 public:
  // Evaluates the query over [start_ms, end_ms] (both multiples of the step).
  using Evaluate = std::function<Result<QueryResult>(std::int64_t start_ms, std::int64_t end_ms)>;

  RangeQueryCache(RangeQueryCacheOptions options, const Clock& clock);

  // The matrix for [start_ms, end_ms] with key.step_ms, from cached extents and `evaluate` for
  // the missing ones. Errors of `evaluate` are returned and nothing is cached.
  Result<QueryResult> query(const RangeQueryKey& key, std::int64_t start_ms, std::int64_t end_ms,
                            const Evaluate& evaluate);

  // New or late data of `tenant` covers the time [start_ms, end_ms): the ingest path passes the
  // smallest window start and the largest window end (start + width) of an applied batch. Drops
  // every cached extent of `tenant` that a stored row overlapping [start_ms, end_ms) can feed:
  // the batch's windows themselves (ending in (start_ms, end_ms]) and, when the extent reads a
  // tier of width key.tier_ms > 0, the tier's rows that roll them up (ending in
  // (start_ms, end_ms + tier_ms − 1]). Extents fed by no such row stay. Cheap enough to call per
  // ingested batch; start_ms >= end_ms invalidates nothing.
  void invalidate(std::string_view tenant, std::int64_t start_ms, std::int64_t end_ms);

  // Like query(), but returns the response as `render` encodes it, and keeps that encoding as
  // long as every extent it was made of stays valid (the same invalidations and expiry): a
  // dashboard asking the same range again gets the stored bytes without assembling or encoding
  // anything.
  struct Rendered {
    std::string body;
    std::string gzip_body;  // the body gzip-compressed; empty when not made
  };
  using Render = std::function<Rendered(const QueryResult&)>;
  Result<std::shared_ptr<const Rendered>> query_rendered(const RangeQueryKey& key,
                                                         std::int64_t start_ms, std::int64_t end_ms,
                                                         const Evaluate& evaluate,
                                                         const Render& render);

  RangeQueryCacheStats stats() const;

 private:
  struct Entry {
    std::string key;
    std::string tenant;
    std::int64_t data_lo = 0;  // rows ending in (data_lo, data_hi] feed this extent
    std::int64_t data_hi = 0;
    std::int64_t tier_ms = 0;     // RangeQueryKey::tier_ms
    std::int64_t expires_ms = 0;  // 0: never
    std::size_t bytes = 0;
    std::vector<ResultSeries> series;
    std::shared_ptr<const Rendered> body;  // a rendered whole response (query_rendered)
  };
  // query() that also reports the earliest expiry of the extents it used (0: none expires) and
  // whether it could use extents at all.
  Result<QueryResult> query_impl(const RangeQueryKey& key, std::int64_t start_ms,
                                 std::int64_t end_ms, const Evaluate& evaluate,
                                 std::int64_t* expires_ms, bool* cacheable);
  struct Invalidation {
    std::uint64_t seq;
    std::string tenant;
    std::int64_t start_ms, end_ms;  // as passed to invalidate(): [start_ms, end_ms) changed
  };

  static std::string entry_key(const RangeQueryKey& key, std::int64_t extent_start);
  // Whether a change of [start_ms, end_ms) (see invalidate()) can alter `entry`.
  static bool affected(const Entry& entry, std::int64_t start_ms, std::int64_t end_ms);
  // Under mu_: the entry for `k` if present and not expired (moved to the LRU front).
  const Entry* lookup_locked(const std::string& k, std::int64_t now_ms);
  void insert_locked(Entry entry, std::uint64_t seen_seq);
  void erase_locked(std::list<Entry>::iterator it);

  const RangeQueryCacheOptions options_;
  const Clock& clock_;

  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::deque<Invalidation> log_;  // the most recent invalidations, increasing seq
  std::uint64_t next_seq_ = 1;
  RangeQueryCacheStats stats_;
};

}  // namespace edgesketch::query
