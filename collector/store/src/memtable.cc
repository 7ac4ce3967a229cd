// Memtable rows in serialized form, their arena and their byte accounting.
#include "memtable.h"

#include <algorithm>
#include <cstring>

#include "row_accumulator.h"

namespace edgesketch::store {

std::uint32_t Memtable::find(const RowKey& key, std::size_t& slot) {
  if (slots_.empty()) grow();
  const std::size_t mask = slots_.size() - 1;
  slot = RowKeyHash{}(key)&mask;
  for (;;) {
    const Slot& s = slots_[slot];
    if (s.index == kEmpty || s.key == key) return s.index;
    slot = (slot + 1) & mask;
  }
}

void Memtable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.index == kEmpty) continue;
    std::size_t i = RowKeyHash{}(s.key) & mask;
    while (slots_[i].index != kEmpty) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

ByteSpan Memtable::copy(ByteSpan bytes) {
  if (bytes.empty()) return {};
  if (chunks_.empty() || chunk_capacity_ - chunk_used_ < bytes.size()) {
    // Chunks double from 4 KiB to kChunkBytes, so a small memtable stays small; a blob larger
    // than that gets a chunk of its own size.
    const std::size_t next = chunks_.empty() ? 4096 : std::min(chunk_capacity_ * 2, kChunkBytes);
    chunk_capacity_ = std::max(next, bytes.size());
    chunks_.push_back(std::make_unique_for_overwrite<std::uint8_t[]>(chunk_capacity_));
    chunk_used_ = 0;
    arena_bytes_ += chunk_capacity_;
  }
  std::uint8_t* at = chunks_.back().get() + chunk_used_;
  std::memcpy(at, bytes.data(), bytes.size());
  chunk_used_ += bytes.size();
  return ByteSpan(at, bytes.size());
}

void Memtable::store(const PartRow& from, PartRow& to) {
  to = from;
  to.histogram = copy(from.histogram);
  to.distinct = copy(from.distinct);
  to.topk = copy(from.topk);
}

void Memtable::update_bytes() {
  bytes_ = arena_bytes_ + rows_.capacity() * sizeof(PartRow) + slots_.capacity() * sizeof(Slot);
}

Status Memtable::apply(const PartRow& in) {
  const RowKey key{in.series_id, in.window_start};
  std::size_t slot;
  const std::uint32_t index = find(key, slot);
  if (index == kEmpty) {
    PartRow row;
    store(in, row);
    rows_.push_back(row);
    slots_[slot] = Slot{key, static_cast<std::uint32_t>(rows_.size() - 1)};
    // Keep the load factor at most 1/2.
    if (rows_.size() * 2 > slots_.size()) grow();
    update_bytes();
    return Status();
  }
  // A second record for the row: merge both as stored rows and store the result anew. The old
  // bytes stay in the arena until the memtable is dropped.
  PartRow& row = rows_[index];
  RowAccumulator acc;
  ES_RETURN_IF_ERROR(acc.add(row, merger_));
  ES_RETURN_IF_ERROR(acc.add(in, merger_));
  PartRow merged;
  acc.to_row(key.series_id, key.window_start, h_, d_, t_, merged);
  store(merged, row);
  update_bytes();
  return Status();
}

std::vector<const PartRow*> Memtable::sorted() const {
  std::vector<const PartRow*> out;
  out.reserve(rows_.size());
  for (const auto& r : rows_) out.push_back(&r);
  std::sort(out.begin(), out.end(), [](const PartRow* a, const PartRow* b) {
    return RowKey{a->series_id, a->window_start} < RowKey{b->series_id, b->window_start};
  });
  return out;
}

}  // namespace edgesketch::store
