// SeriesCatalog: series_id <-> (tenant, metric, sorted tags), persisted in SQLite (catalog.db),
// with an in-memory inverted index (label name -> value -> sorted series ids) per tenant, loaded
// at open, for label matchers.
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

  // Sorted ids of the tenant's series matching all matchers; kInvalidArgument for a bad regex.
  Result<std::vector<std::uint64_t>> select(std::string_view tenant,
                                            std::span<const LabelMatcher> matchers) const;
  std::optional<SeriesInfo> info(std::uint64_t id) const;
  std::size_t size() const;
  // Transactions resolve() has committed (each one creating series).
  std::uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }
  std::size_t tenant_size(std::string_view tenant) const;

 private:
  struct TenantIndex {
    std::vector<std::uint64_t> all;  // sorted (ids grow)
    // label -> value -> sorted ids; "__name__" holds the metric.
    std::map<std::string, std::map<std::string, std::vector<std::uint64_t>>, std::less<>> postings;
  };

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
  Result<std::vector<std::uint64_t>> match_one(const TenantIndex& t, const LabelMatcher& m) const;

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
