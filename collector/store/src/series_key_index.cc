// Open-addressing index of encoded series keys.
#include "series_key_index.h"

#include "edgesketch/sketch/hash.h"

namespace edgesketch::store {

std::uint64_t SeriesKeyIndex::hash(std::string_view key) { return sketch::hash_key(key); }

std::uint64_t SeriesKeyIndex::find(std::string_view key, std::uint64_t h) const {
  if (slots_.empty()) return 0;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id == 0) return 0;
    if (s.hash == h && key_of(s.id) == key) return s.id;
  }
}

void SeriesKeyIndex::insert(std::string_view key, std::uint64_t h, std::uint64_t id) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  if (keys_.size() <= id) keys_.resize(id + 1);
  keys_[id] = KeySpan{arena_.size(), static_cast<std::uint32_t>(key.size())};
  arena_.append(key);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = h & mask;
  while (slots_[i].id != 0) i = (i + 1) & mask;
  slots_[i] = Slot{h, id};
  ++size_;
}

void SeriesKeyIndex::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id == 0) continue;
    std::size_t i = s.hash & mask;
    while (slots_[i].id != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace edgesketch::store
