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

void Memtable::store(const sketch::WindowAggregate& agg, const wire::SketchBytes& bytes,
                     PartRow& row) {
  row.count = agg.count();
  row.sum = agg.sum();
  row.min = agg.min();
  row.max = agg.max();
  auto put = [this](const auto* sketch, ByteSpan given) -> ByteSpan {
    if (sketch == nullptr) return {};
    if (!given.empty()) return copy(given);
    scratch_.clear();
    sketch->serialize(scratch_);
    return copy(scratch_);
  };
  row.histogram = put(agg.histogram(), bytes.histogram);
  row.distinct = put(agg.distinct(), bytes.distinct);
  row.topk = put(agg.topk(), bytes.topk);
}

void Memtable::update_bytes() {
  bytes_ = arena_bytes_ + rows_.capacity() * sizeof(PartRow) + slots_.capacity() * sizeof(Slot);
}

Status Memtable::apply(const RowKey& key, const sketch::WindowAggregate& agg,
                       const wire::SketchBytes& bytes) {
  std::size_t slot;
  const std::uint32_t index = find(key, slot);
  if (index == kEmpty) {
    PartRow row;
    row.series_id = key.series_id;
    row.window_start = key.window_start;
    store(agg, bytes, row);
    rows_.push_back(row);
    slots_[slot] = Slot{key, static_cast<std::uint32_t>(rows_.size() - 1)};
    // Keep the load factor at most 1/2.
    if (rows_.size() * 2 > slots_.size()) grow();
    update_bytes();
    return Status();
  }
  // A second record for the row (a delta, or a window cut in two): decode, merge, store anew.
  // The old bytes stay in the arena until the memtable is dropped.
  PartRow& row = rows_[index];
  ES_ASSIGN_OR_RETURN(sketch::WindowAggregate merged, row_to_aggregate(row));
  ES_RETURN_IF_ERROR(merged.merge(agg));
  store(merged, {}, row);
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
