// SeriesCatalog: series_id <-> (tenant, metric, sorted tags), persisted in SQLite (catalog.db),
// with an in-memory inverted index per tenant (label name -> value -> sorted series ids, and the
// sorted ids of the series that have the label), loaded at open, for label matchers.
//
// select() works like Prometheus' TSDB index: an equality matcher is one lookup of its postings
// list, the lists of the positive matchers are intersected smallest first, and the matchers that
// accept "" (`!=`, `!~`, `=""`) are set differences from that intersection. A regex is RE2,
// anchored; a literal or an alternation of literals is a few lookups, a literal prefix narrows
// the values tried. The cost is that of the lists touched, not of every series or value.
//
// Durability: resolve() commits new series in one transaction with synchronous=FULL before it
// returns, so every id a WAL record or part refers to is on disk first. Ids are never reused
// or deleted.
//
// Thread safety: resolve() may run concurrently with find()/select()/info() (a shared_mutex
// guards the in-memory maps; resolve() holds it exclusively only to publish new series).
// Concurrent resolve() calls serialize.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/sqlite/statement.h"
#include "edgesketch/store/scan.h"
#include "edgesketch/store/store.h"
#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/types.h"
#include "series_key_index.h"

namespace edgesketch::store {

using sqlite::exec_sql;
using sqlite::sqlite_status;
using sqlite::Statement;
using sqlite::Transaction;

class SeriesCatalog {
 public:
  ~SeriesCatalog();
  // Opens or creates the catalog at `path` and loads every series.
  // A tenant may hold max_series[tenant] series, or default_max_series when not listed.
  // `vfs`: the SQLite VFS to open the file with (Env::sqlite_vfs(); nullptr = the default).
  static Result<std::unique_ptr<SeriesCatalog>> open(
      const std::string& path, std::size_t default_max_series,
      std::map<std::string, std::size_t, std::less<>> max_series = {}, const char* vfs = nullptr);

  // Sets ids[i] to the id of records[i]'s series, creating the missing ones. All or nothing:
  // when the tenant would exceed its series limit nothing is created and the error is
  // kResourceExhausted naming the tenant, the limit and the first new series, tagged
  // [series_limit]. A failed catalog write (disk full, I/O error) is kIoError: nothing is
  // created and the same batch may succeed later.
  Status resolve(std::string_view tenant, std::span<const wire::WindowRecordView> records,
                 std::vector<std::uint64_t>& ids);

  // Sorted ids of the tenant's series matching all matchers (see LabelMatcher for the semantics:
  // RE2 anchored regexes, a missing label counts as ""); no matchers selects every series.
  // kInvalidArgument naming the matcher for a bad regex.
  Result<std::vector<std::uint64_t>> select(std::string_view tenant,
                                            std::span<const LabelMatcher> matchers) const;
  std::optional<SeriesInfo> info(std::uint64_t id) const;
  std::size_t size() const;
  // Transactions resolve() has committed (each one creating series).
  std::uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }
  std::size_t tenant_size(std::string_view tenant) const;

 private:
  // The postings of one label name.
  struct LabelPostings {
    // value -> sorted ids of the series with that value (sorted by value, for prefix ranges).
    std::map<std::string, std::vector<std::uint64_t>, std::less<>> values;
    // Sorted ids of the series that have the label (any value): what `name=""` excludes.
    std::vector<std::uint64_t> with_label;
  };
  struct TenantIndex {
    std::vector<std::uint64_t> all;  // sorted (ids grow)
    // label -> postings; "__name__" holds the metric.
    std::map<std::string, LabelPostings, std::less<>> labels;
  };
  struct Term;

  // A series identity as ingest sees it.
  struct KeyRef {
    std::string_view tenant;
    std::string_view metric;
    std::span<const wire::TagView> tags;
  };
  SeriesCatalog() = default;
  void publish_locked(SeriesInfo info);
  static void encode_key(std::string_view tenant, const wire::SeriesKey& key, std::string& out);
  static void encode_key(const KeyRef& key, std::string& out);
  // What one matcher contributes to select(): the postings lists to intersect with or subtract.
  static Result<Term> match_one(const TenantIndex& t, const LabelMatcher& m);

  std::size_t limit_of(std::string_view tenant) const;

  std::size_t default_max_ = 0;
  std::atomic<std::uint64_t> writes_{0};
  std::map<std::string, std::size_t, std::less<>> max_series_;
  sqlite3* db_ = nullptr;
  std::mutex write_mu_;  // serializes resolve() and guards insert_, scratch_ and the keys below
  Statement insert_;
  std::string scratch_;
  // resolve()'s encoded keys of one batch: keys_ holds them back to back, key_end_ where each
  // ends, key_hash_ their hashes.
  std::string keys_;
  std::vector<std::size_t> key_end_;
  std::vector<std::uint64_t> key_hash_;

  mutable std::shared_mutex mu_;   // guards everything below
  SeriesKeyIndex by_key_;          // encode_key bytes -> id
  std::vector<SeriesInfo> by_id_;  // index id - 1 (ids are dense from 1)
  std::map<std::string, TenantIndex, std::less<>> tenants_;
};

}  // namespace edgesketch::store
