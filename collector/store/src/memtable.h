// Memtable: the in-memory rows of one tenant's finest tier, keyed by (series_id, window_start),
// each the merge of every record applied to it. Rows are kept the way a part stores them:
// scalars plus the sketches' canonical serialize() bytes in an arena. That is several times
// smaller than the decoded sketches (a 1,000-value histogram takes ~0.3 KB instead of ~2 KB),
// so ingest touches little fresh memory, and a flush writes the rows without serializing them.
//
// Thread safety: thread-compatible; the store guards memtables with its memtable mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/exp_histogram_accumulator.h"
#include "edgesketch/store/part_block.h"

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

class Memtable {
 public:
  Memtable() = default;
  Memtable(Memtable&&) = default;
  Memtable& operator=(Memtable&&) = default;

  // Merges `row` into the row of its key (series_id, window_start), creating it: a new row copies
  // the scalars and the sketch bytes, which must be valid serialized sketches (as a decoded
  // WindowBatchView's are) and consistent with the scalars. A second row for a key (a delta, or
  // a window cut in two) is merged as stored rows are (RowAccumulator). On a merge error
  // (sketches that cannot merge, count overflow) the row is unchanged and the error is returned.
  Status apply(const PartRow& row);
  // A hint that apply() of `key` follows soon: starts loading its index slot, which is otherwise
  // a cache miss per record once the memtable is large.
  void prefetch(const RowKey& key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[RowKeyHash{}(key) & (slots_.size() - 1)]);
  }

  // Heap bytes held (arena, rows and index; bytes of rows replaced by a merge stay counted
  // until the memtable is dropped).
  std::size_t bytes() const { return bytes_; }
  std::size_t rows() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  // Every row, sorted by key; the sketch spans point into this memtable and stay valid until
  // it is modified or destroyed.
  std::vector<const PartRow*> sorted() const;
  // fn(const PartRow&) for every row, in no particular order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& r : rows_) fn(r);
  }

 private:
  // Open addressing with linear probing over (key, row index): a lookup reads one or two
  // adjacent slots instead of chasing list nodes scattered over the heap.
  struct Slot {
    RowKey key;
    std::uint32_t index = kEmpty;
  };
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  static constexpr std::size_t kChunkBytes = std::size_t{256} << 10;

  // The index of key's row or kEmpty; `slot` is where the key is or would go.
  std::uint32_t find(const RowKey& key, std::size_t& slot);
  void grow();
  // Sets `to` to `from` with its sketch bytes copied into the arena.
  void store(const PartRow& from, PartRow& to);
  // Copies bytes into the arena; the span stays valid while the memtable lives.
  ByteSpan copy(ByteSpan bytes);
  void update_bytes();

  std::vector<PartRow> rows_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<std::uint8_t[]>> chunks_;
  std::size_t chunk_capacity_ = 0;  // of chunks_.back()
  std::size_t chunk_used_ = 0;      // of chunks_.back()
  std::size_t arena_bytes_ = 0;     // all chunks
  std::size_t bytes_ = 0;
  // Scratch of merges.
  sketch::ExpHistogramAccumulator merger_;
  Bytes h_, d_, t_;
};

}  // namespace edgesketch::store
