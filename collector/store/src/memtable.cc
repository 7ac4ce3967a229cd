// Memtable rows and their byte accounting.
#include "memtable.h"

#include <algorithm>

namespace edgesketch::store {

std::size_t aggregate_bytes(const sketch::WindowAggregate& agg) {
  std::size_t n = sizeof(sketch::WindowAggregate);
  if (const auto* h = agg.histogram()) n += h->memory_bytes();
  if (const auto* d = agg.distinct()) n += d->memory_bytes();
  if (const auto* t = agg.topk()) n += t->memory_bytes();
  return n;
}

Memtable::Entry* Memtable::find(const RowKey& key, std::size_t& slot) {
  if (slots_.empty()) grow();
  const std::size_t mask = slots_.size() - 1;
  slot = RowKeyHash{}(key)&mask;
  for (;;) {
    const Slot& s = slots_[slot];
    if (s.index == kEmpty) return nullptr;
    if (s.key == key) return &entries_[s.index];
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

void Memtable::insert_at(std::size_t slot, const RowKey& key, sketch::WindowAggregate&& agg) {
  entries_.push_back(Entry{key, std::move(agg), 0});
  Entry& e = entries_.back();
  e.bytes = aggregate_bytes(e.agg) + kEntryOverhead;
  bytes_ += e.bytes;
  slots_[slot] = Slot{key, static_cast<std::uint32_t>(entries_.size() - 1)};
  // Keep the load factor at most 1/2.
  if (entries_.size() * 2 > slots_.size()) grow();
}

Status Memtable::apply(const RowKey& key, const sketch::WindowAggregate& agg) {
  std::size_t slot;
  Entry* e = find(key, slot);
  if (e == nullptr) {
    insert_at(slot, key, sketch::WindowAggregate(agg));
    return Status();
  }
  ES_RETURN_IF_ERROR(e->agg.merge(agg));
  const std::size_t now = aggregate_bytes(e->agg) + kEntryOverhead;
  bytes_ = bytes_ - e->bytes + now;
  e->bytes = now;
  return Status();
}

Status Memtable::apply(const RowKey& key, sketch::WindowAggregate&& agg) {
  std::size_t slot;
  Entry* e = find(key, slot);
  if (e != nullptr) return apply(key, static_cast<const sketch::WindowAggregate&>(agg));
  insert_at(slot, key, std::move(agg));
  return Status();
}

std::vector<std::pair<RowKey, const sketch::WindowAggregate*>> Memtable::sorted() const {
  std::vector<std::pair<RowKey, const sketch::WindowAggregate*>> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.emplace_back(e.key, &e.agg);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace edgesketch::store
