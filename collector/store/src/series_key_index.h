// SeriesKeyIndex: series ids by encoded series key (SeriesCatalog::encode_key), for ingest and
// replay, which look up every record's series. Open addressing over (hash, id) slots, with the
// keys in one arena: a lookup touches one slot line and one key, where a node-based map touches
// a bucket, one node per chain entry and the key's own heap block, each a cache miss once
// ingest has streamed through the memtable. Callers hash first and prefetch() a batch of
// lookups ahead.
//
// Thread safety: thread-compatible (the catalog guards it with its shared mutex).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgesketch::store {

class SeriesKeyIndex {
 public:
  static std::uint64_t hash(std::string_view key);

  // The id of `key` (whose hash() is `h`), or 0 when absent.
  std::uint64_t find(std::string_view key, std::uint64_t h) const;
  // Adds `key` -> id (id >= 1, not yet present).
  void insert(std::string_view key, std::uint64_t h, std::uint64_t id);
  // Starts loading the slot a find() with hash `h` reads first.
  void prefetch(std::uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
  }
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t id = 0;  // 0: empty
  };
  struct KeySpan {
    std::uint64_t offset = 0;
    std::uint32_t size = 0;
  };
  std::string_view key_of(std::uint64_t id) const {
    const KeySpan& k = keys_[id];
    return std::string_view(arena_).substr(k.offset, k.size);
  }
  void grow();

  std::vector<Slot> slots_;    // power-of-two size, at most half full
  std::vector<KeySpan> keys_;  // by id (ids are dense from 1; [0] unused)
  std::string arena_;          // the keys' bytes
  std::size_t size_ = 0;
};

}  // namespace edgesketch::store
