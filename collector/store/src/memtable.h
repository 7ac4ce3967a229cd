// Memtable: the in-memory rows of one tenant and tier, keyed by (series_id, window_start),
// each the merge of every record applied to it, with an estimate of the heap bytes held.
//
// Thread safety: thread-compatible; the store guards memtables with its memtable mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/sketch/window_aggregate.h"

namespace edgesketch::store {

struct RowKey {
  std::uint64_t series_id = 0;
  std::int64_t window_start = 0;
  friend bool operator==(const RowKey&, const RowKey&) = default;
  friend auto operator<=>(const RowKey&, const RowKey&) = default;
};

struct RowKeyHash {
  std::size_t operator()(const RowKey& k) const {
    std::uint64_t h = k.series_id * 0x9E3779B97F4A7C15ull;
    h ^= static_cast<std::uint64_t>(k.window_start) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h * 0xBF58476D1CE4E5B9ull);
  }
};

// Estimated heap bytes of an aggregate (object and sketches).
std::size_t aggregate_bytes(const sketch::WindowAggregate& agg);

class Memtable {
 public:
  // Merges agg into the row at key (creating it). On a merge error (sketches that cannot merge,
  // count overflow) the row is unchanged and the error is returned.
  Status apply(const RowKey& key, const sketch::WindowAggregate& agg);
  Status apply(const RowKey& key, sketch::WindowAggregate&& agg);

  std::size_t bytes() const { return bytes_; }
  std::size_t rows() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Every row, sorted by key.
  std::vector<std::pair<RowKey, const sketch::WindowAggregate*>> sorted() const;
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& e : entries_) fn(e.key, e.agg);
  }

 private:
  struct Entry {
    RowKey key;
    sketch::WindowAggregate agg;
    std::size_t bytes = 0;
  };
  // Open addressing with linear probing over (key, entry index): a lookup reads one or two
  // adjacent slots instead of chasing list nodes scattered over the heap.
  struct Slot {
    RowKey key;
    std::uint32_t index = kEmpty;
  };
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  static constexpr std::size_t kEntryOverhead = 64;

  // The entry of key, or nullptr; `slot` is where the key is or would go.
  Entry* find(const RowKey& key, std::size_t& slot);
  void insert_at(std::size_t slot, const RowKey& key, sketch::WindowAggregate&& agg);
  void grow();

  std::deque<Entry> entries_;  // stable references
  std::vector<Slot> slots_;
  std::size_t bytes_ = 0;
};

}  // namespace edgesketch::store
