// SpaceSaving top-K: a grouped hash table from key to slot, Stream-Summary count buckets, merge
// and the versioned byte layout.
#include "edgesketch/sketch/topk.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

namespace edgesketch::sketch {
namespace {

constexpr std::uint8_t kVersion = 1;

using detail::topk_sat_add;
inline std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) { return topk_sat_add(a, b); }

template <typename T>
inline T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void store(char* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// Copy of keys of up to 28 bytes with a few overlapping word loads (see topk_same_short_bytes):
// the hot path copies one on every replacement.
inline void copy_short_bytes(char* dst, const char* src, std::size_t n) {
  using W = std::uint64_t;
  if (n >= 8) [[likely]] {
    const std::size_t mid = n <= 24 ? n / 2 - 4 : 8;
    const W w0 = load<W>(src);
    const W w1 = load<W>(src + mid);
    const W w2 = load<W>(src + n - 8);
    if (n > 24) store(dst + 16, load<W>(src + 16));
    store(dst, w0);
    store(dst + mid, w1);
    store(dst + n - 8, w2);
  } else if (n >= 4) {
    const auto head = load<std::uint32_t>(src);
    const auto tail = load<std::uint32_t>(src + n - 4);
    store(dst, head);
    store(dst + n - 4, tail);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// The key table starts small and doubles while keys are added, keeping at most two keys per
// group of eight lanes (a group then overflows on ~0.1 % of inserts), so that a sketch holding
// few keys, or decoded from a few bytes, stays small.
constexpr std::size_t kMinGroups = 4;
constexpr std::size_t kKeysPerGroup = 2;

std::uint32_t clamp_u32(std::uint32_t v, std::uint32_t lo, std::uint32_t hi) {
  return std::min(std::max(v, lo), hi);
}

Status corrupt(const std::string& what) {
  return Status::corruption("topk: " + what +
                            "; the bytes are not a top-K sketch written by this version");
}

}  // namespace

TopK::TopK(TopKOptions options)
    : capacity_(clamp_u32(options.capacity, 1, kTopKMaxCapacity)),
      bound_capacity_(capacity_),
      max_key_bytes_(clamp_u32(options.max_key_bytes, 1, kTopKMaxKeyBytesLimit)),
      seed_(options.seed) {
  resize_table(kMinGroups);
}

Status TopK::validate(const TopKOptions& options) {
  if (options.capacity < 1 || options.capacity > kTopKMaxCapacity) {
    return Status::invalid_argument("topk: capacity " + std::to_string(options.capacity) +
                                    " is out of range; use 1.." + std::to_string(kTopKMaxCapacity));
  }
  if (options.max_key_bytes < 1 || options.max_key_bytes > kTopKMaxKeyBytesLimit) {
    return Status::invalid_argument("topk: max_key_bytes " + std::to_string(options.max_key_bytes) +
                                    " is out of range; use 1.." +
                                    std::to_string(kTopKMaxKeyBytesLimit));
  }
  return Status::ok_status();
}

// ---- keys ----

std::string_view TopK::key_of(std::uint32_t slot) const {
  const Slot& x = slots_[slot];
  if (x.key_size <= kInlineKeyBytes) return std::string_view(x.key, x.key_size);
  return long_keys_[slot];
}

void TopK::set_key(std::uint32_t slot, std::string_view key) {
  Slot& x = slots_[slot];
  x.key_size = static_cast<std::uint32_t>(key.size());
  if (key.size() <= kInlineKeyBytes) {
    copy_short_bytes(x.key, key.data(), key.size());
    return;
  }
  if (long_keys_.size() <= slot) long_keys_.resize(slot + 1);
  long_keys_[slot].assign(key.data(), key.size());  // reuses the string's buffer
}

// ---- key table ----

std::uint32_t TopK::find_slow(std::uint64_t hash, std::string_view key) const {
  const std::uint16_t tag = tag_of(hash);
  std::uint64_t g = hash & group_mask_;
  for (std::size_t visited = 0; visited < groups_.size(); ++visited, g = (g + 1) & group_mask_) {
    const Group& group = groups_[g];
    for (std::uint32_t m = matching_lanes(group, tag); m != 0; m &= m - 1) {
      const std::uint32_t slot = group.slots[lane_of(m)];
      if (key_equals(slot, key)) return slot;
    }
    if (!overflowed_[g]) return kNone;
  }
  return kNone;  // unreachable: some group is never marked (see rehash())
}

void TopK::table_insert(std::uint64_t hash, std::uint32_t slot) {
  for (std::uint64_t g = hash & group_mask_;; g = (g + 1) & group_mask_) {
    Group& group = groups_[g];
    const std::uint32_t free = free_lanes(group);
    if (free != 0) [[likely]] {
      const std::uint32_t lane = lane_of(free);
      group.tags[lane] = tag_of(hash);
      group.slots[lane] = static_cast<std::uint16_t>(slot);
      slots_[slot].table_pos = static_cast<std::uint32_t>(g) * kLanes + lane;
      return;
    }
    if (!overflowed_[g]) {
      overflowed_[g] = 1;
      ++overflowed_count_;
    }
  }
}

void TopK::table_erase(std::uint32_t slot) {
  const std::uint32_t pos = slots_[slot].table_pos;
  groups_[pos / kLanes].tags[pos % kLanes] = 0;
}

[[gnu::noinline]] void TopK::resize_table(std::size_t groups) {
  groups_.assign(groups, Group{});
  overflowed_.assign(groups, 0);
  group_mask_ = groups - 1;
  rehash();
}

[[gnu::noinline]] void TopK::rehash() {
  std::fill(groups_.begin(), groups_.end(), Group{});
  std::fill(overflowed_.begin(), overflowed_.end(), 0);
  overflowed_count_ = 0;
  for (std::uint32_t s = 0; s < slots_.size(); ++s) table_insert(slots_[s].hash, s);
  // Marks are only cleared here. Rehash again once they have doubled (or pass 1/8 of the groups),
  // so that lookups stay about one group long at O(1) amortized cost. At most size() / 8 <=
  // groups / 4 groups can be full, so the limit stays below half the groups and some group is
  // never marked.
  overflow_limit_ = std::max<std::size_t>(groups_.size() / 8, 2 * overflowed_count_);
}

// ---- count buckets ----

[[gnu::noinline]] std::uint32_t TopK::new_bucket(std::uint64_t count, std::uint32_t prev,
                                                 std::uint32_t next) {
  std::uint32_t b = free_bucket_;
  if (b != kNone) {
    free_bucket_ = buckets_[b].next;
  } else {
    b = static_cast<std::uint32_t>(buckets_.size());
    buckets_.emplace_back();
  }
  buckets_[b] = Bucket{count, kNone, kNone, next};
  (prev == kNone ? first_bucket_ : buckets_[prev].next) = b;
  if (next == kNone) last_bucket_ = b;
  return b;
}

std::uint32_t TopK::bucket_for(std::uint64_t count, std::uint32_t from) {
  if (last_bucket_ == kNone || buckets_[last_bucket_].count < count) {
    return new_bucket(count, last_bucket_, kNone);  // a new largest count: no walk
  }
  std::uint32_t prev = from;
  std::uint32_t next = from == kNone ? first_bucket_ : buckets_[from].next;
  // Usually the next bucket; a count far ahead passes the distinct counts in between.
  while (buckets_[next].count < count) {
    prev = next;
    next = buckets_[next].next;
  }
  if (buckets_[next].count == count) return next;
  return new_bucket(count, prev, next);
}

void TopK::push_back(std::uint32_t slot, std::uint32_t bucket) {
  Bucket& b = buckets_[bucket];
  slots_[slot].next = kNone;
  if (b.head == kNone) {
    b.head = slot;
  } else {
    slots_[b.tail].next = slot;
  }
  b.tail = slot;
}

void TopK::move_front_up() {
  const std::uint32_t from = first_bucket_;
  const std::uint32_t slot = buckets_[from].head;
  const std::uint64_t count = slots_[slot].count;
  if (count == buckets_[from].count) return;  // saturated: already in place
  const std::uint32_t to = bucket_for(count, from);
  Bucket& b = buckets_[from];
  b.head = slots_[slot].next;
  if (b.head == kNone) {
    // The smallest bucket empties: unlink it and put it on the free list.
    first_bucket_ = b.next;
    b.next = free_bucket_;
    free_bucket_ = from;
  }
  push_back(slot, to);
}

// ---- adding ----

void TopK::add(std::string_view key, std::uint64_t weight) {
  if (key.size() > max_key_bytes_) key = key.substr(0, max_key_bytes_);
  add_hashed(hash_key(key, seed_), key, weight);
}

void TopK::add_unusual(std::uint64_t hash, std::string_view key, std::uint64_t weight) {
  if (key.size() > max_key_bytes_) {
    add(key, weight);  // truncates and rehashes
    return;
  }
  assert(weight == 0);
  (void)hash;
}

[[gnu::noinline, gnu::flatten]] void TopK::add_untracked(std::uint64_t hash, std::string_view key,
                                                         std::uint64_t weight) {
  if (slots_.size() < capacity_) {
    // A free counter: the key's earlier weight, if any, is covered by the floor.
    const auto slot = static_cast<std::uint32_t>(slots_.size());
    Slot& x = slots_.emplace_back();
    x.count = sat_add(floor_, weight);
    x.error = floor_;
    x.hash = hash;
    set_key(slot, key);
    if (slots_.size() > kKeysPerGroup * groups_.size()) {
      resize_table(2 * groups_.size());  // inserts the new slot too
    } else {
      table_insert(hash, slot);
      if (overflowed_count_ > overflow_limit_) [[unlikely]] {
        rehash();
      }
    }
    push_back(slot, bucket_for(x.count, kNone));
    return;
  }
  // The victim is the oldest slot of the smallest bucket whose count is current. Slots whose
  // count grew since they were placed are moved up first; every slot's count is at least its
  // bucket's, so the victim's count m is the minimum.
  std::uint32_t slot = buckets_[first_bucket_].head;
  while (slots_[slot].count != buckets_[first_bucket_].count) {
    move_front_up();
    slot = buckets_[first_bucket_].head;
  }
  // Its key's true count is at most m, which becomes the floor.
  Slot& x = slots_[slot];
  const std::uint64_t m = x.count;
  table_erase(slot);
  set_key(slot, key);
  x.hash = hash;
  x.count = sat_add(m, weight);
  x.error = m;
  floor_ = m;
  table_insert(hash, slot);
  if (overflowed_count_ > overflow_limit_) [[unlikely]] {
    rehash();
  }
  move_front_up();
  // The next victim is most likely the new front slot: load its line now so that the next miss
  // does not wait for it.
  __builtin_prefetch(&slots_[buckets_[first_bucket_].head], 1);
}

// ---- merge, queries, serialization ----

void TopK::rebuild(std::vector<Candidate>& items) {
  // Ascending (count, hash, key) order makes the layout, hence which of several equal minimum
  // counters is evicted next, a function of the items alone.
  std::sort(items.begin(), items.end(), [](const Candidate& a, const Candidate& b) {
    if (a.count != b.count) return a.count < b.count;
    return a.hash != b.hash ? a.hash < b.hash : a.key < b.key;
  });
  // Build new slots before releasing the old ones: items may view into slots_ and long_keys_.
  std::vector<Slot> slots(items.size());
  std::vector<std::string> long_keys;
  for (std::size_t s = 0; s < items.size(); ++s) {
    const std::string_view key = items[s].key;
    Slot& x = slots[s];
    x.count = items[s].count;
    x.error = items[s].error;
    x.hash = items[s].hash;
    x.key_size = static_cast<std::uint32_t>(key.size());
    if (key.size() <= kInlineKeyBytes) {
      copy_short_bytes(x.key, key.data(), key.size());
    } else {
      if (long_keys.size() <= s) long_keys.resize(s + 1);
      long_keys[s] = key;
    }
  }
  slots_ = std::move(slots);
  long_keys_ = std::move(long_keys);
  buckets_.clear();
  free_bucket_ = first_bucket_ = last_bucket_ = kNone;
  for (std::uint32_t s = 0; s < slots_.size(); ++s) {
    if (last_bucket_ == kNone || buckets_[last_bucket_].count != slots_[s].count) {
      new_bucket(slots_[s].count, last_bucket_, kNone);
    }
    push_back(s, last_bucket_);
  }
  std::size_t groups = kMinGroups;
  while (kKeysPerGroup * groups < slots_.size()) groups *= 2;
  resize_table(groups);
}

Status TopK::merge(const TopK& other) {
  if (other.seed_ != seed_) {
    return Status::failed_precondition(
        "topk merge: hash seeds differ (this " + std::to_string(seed_) + ", other " +
        std::to_string(other.seed_) + "); only sketches built with the same seed can be merged");
  }
  if (other.max_key_bytes_ > max_key_bytes_) {
    return Status::failed_precondition("topk merge: other max_key_bytes " +
                                       std::to_string(other.max_key_bytes_) +
                                       " exceeds this sketch's " + std::to_string(max_key_bytes_) +
                                       "; merge into the sketch with the larger max_key_bytes");
  }
  if (&other == this) {
    const TopK copy(other);
    return merge(copy);
  }

  // Union of both key sets; a side that does not track a key contributes its floor.
  std::vector<Candidate> items;
  items.reserve(size() + other.size());
  for (std::uint32_t s = 0; s < slots_.size(); ++s) {
    const std::uint32_t o = other.find(slots_[s].hash, key_of(s));
    const bool tracked = o != kNone;
    items.push_back(Candidate{
        key_of(s), slots_[s].hash, sat_add(count_of(s), tracked ? other.count_of(o) : other.floor_),
        sat_add(slots_[s].error, tracked ? other.slots_[o].error : other.floor_)});
  }
  for (std::uint32_t t = 0; t < other.slots_.size(); ++t) {
    if (find(other.slots_[t].hash, other.key_of(t)) != kNone) continue;
    items.push_back(Candidate{other.key_of(t), other.slots_[t].hash,
                              sat_add(floor_, other.count_of(t)),
                              sat_add(floor_, other.slots_[t].error)});
  }

  std::uint64_t floor = sat_add(floor_, other.floor_);
  if (items.size() > capacity_) {
    // Keep the `capacity_` largest by (count desc, key asc): a strict total order, so the kept set
    // does not depend on which sketch was merged into which.
    // Counts first; keys are compared only among the candidates tied at the cut.
    const auto cut = items.begin() + capacity_;
    std::nth_element(items.begin(), cut, items.end(),
                     [](const Candidate& a, const Candidate& b) { return a.count > b.count; });
    const std::uint64_t c = cut->count;  // the largest count that is dropped
    const auto ties_begin =
        std::partition(items.begin(), cut, [c](const Candidate& x) { return x.count > c; });
    const auto ties_end =
        std::partition(cut, items.end(), [c](const Candidate& x) { return x.count == c; });
    std::nth_element(ties_begin, cut, ties_end,
                     [](const Candidate& a, const Candidate& b) { return a.key < b.key; });
    floor = std::max(floor, c);
    items.resize(capacity_);
  }
  total_ = sat_add(total_, other.total_);
  floor_ = floor;
  bound_capacity_ = std::min(bound_capacity_, other.bound_capacity_);
  rebuild(items);
  return Status::ok_status();
}

std::vector<TopKItem> TopK::top(std::size_t k) const {
  std::vector<std::uint32_t> order(slots_.size());
  std::iota(order.begin(), order.end(), 0u);
  k = std::min(k, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [this](std::uint32_t a, std::uint32_t b) {
                      const std::uint64_t ca = count_of(a);
                      const std::uint64_t cb = count_of(b);
                      return ca != cb ? ca > cb : key_of(a) < key_of(b);
                    });
  std::vector<TopKItem> out;
  out.reserve(k);
  for (std::size_t i = 0; i < k; ++i) {
    const std::uint32_t s = order[i];
    out.push_back(TopKItem{std::string(key_of(s)), count_of(s), slots_[s].error});
  }
  return out;
}

std::vector<std::uint32_t> TopK::slots_by_key() const {
  std::vector<std::uint32_t> order(slots_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [this](std::uint32_t a, std::uint32_t b) { return key_of(a) < key_of(b); });
  return order;
}

void TopK::serialize(Bytes& out) const {
  put_u8(out, kVersion);
  put_u32(out, capacity_);
  put_u64(out, seed_);
  put_varint(out, max_key_bytes_);
  put_varint(out, bound_capacity_);
  put_varint(out, total_);
  put_varint(out, floor_);
  put_varint(out, slots_.size());
  for (std::uint32_t s : slots_by_key()) {
    put_string(out, key_of(s));
    put_varint(out, count_of(s));
    put_varint(out, slots_[s].error);
  }
}

Bytes TopK::serialize() const {
  Bytes out;
  serialize(out);
  return out;
}

Result<TopK> TopK::deserialize(ByteSpan bytes) {
  ByteReader r(bytes);
  const std::uint8_t version = r.u8();
  if (!r.ok()) return corrupt("empty input");
  if (version != kVersion) {
    return corrupt("unsupported version " + std::to_string(version) + " (this build reads " +
                   std::to_string(kVersion) + ")");
  }
  const std::uint32_t capacity = r.u32();
  const std::uint64_t seed = r.u64();
  const std::uint64_t max_key_bytes = r.varint();
  const std::uint64_t bound_capacity = r.varint();
  const std::uint64_t total = r.varint();
  const std::uint64_t floor = r.varint();
  const std::uint64_t n = r.varint();
  if (!r.ok()) return corrupt("truncated or malformed header");
  if (capacity < 1 || capacity > kTopKMaxCapacity) {
    return corrupt("capacity " + std::to_string(capacity) + " outside 1.." +
                   std::to_string(kTopKMaxCapacity));
  }
  if (max_key_bytes < 1 || max_key_bytes > kTopKMaxKeyBytesLimit) {
    return corrupt("max_key_bytes " + std::to_string(max_key_bytes) + " outside 1.." +
                   std::to_string(kTopKMaxKeyBytesLimit));
  }
  if (bound_capacity < 1 || bound_capacity > capacity) {
    return corrupt("bound capacity " + std::to_string(bound_capacity) + " outside 1..capacity " +
                   std::to_string(capacity));
  }
  if (n > capacity) {
    return corrupt("item count " + std::to_string(n) + " exceeds capacity " +
                   std::to_string(capacity));
  }
  // Each item takes at least 3 bytes; checking first bounds the allocation by the input size.
  if (n > r.remaining() / 3) {
    return corrupt("truncated: " + std::to_string(n) + " items cannot fit in " +
                   std::to_string(r.remaining()) + " bytes");
  }

  std::vector<Candidate> items;
  items.reserve(n);
  unsigned __int128 excess = 0;  // sum(count - floor); cannot overflow for <= 65536 items
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto item = [i] { return "item " + std::to_string(i); };
    const std::uint64_t len = r.varint();
    if (r.ok() && len > max_key_bytes) {
      return corrupt(item() + " key length " + std::to_string(len) + " exceeds max_key_bytes " +
                     std::to_string(max_key_bytes));
    }
    const ByteSpan key_bytes = r.bytes(r.ok() ? len : 0);
    const std::uint64_t count = r.varint();
    const std::uint64_t error = r.varint();
    if (!r.ok()) return corrupt("truncated at " + item() + " of " + std::to_string(n));
    const std::string_view key(reinterpret_cast<const char*>(key_bytes.data()), key_bytes.size());
    if (i > 0 && key <= items.back().key) {
      return corrupt(item() + (key == items.back().key ? " duplicates the previous key"
                                                       : " is not in ascending key order"));
    }
    if (error > count) {
      return corrupt(item() + " error " + std::to_string(error) + " exceeds its count " +
                     std::to_string(count));
    }
    if (error > floor || count < floor) {
      return corrupt(item() + " count " + std::to_string(count) + " / error " +
                     std::to_string(error) + " inconsistent with floor " + std::to_string(floor));
    }
    excess += count - floor;
    items.push_back(Candidate{key, 0, count, error});
  }
  if (!r.at_end()) {
    return corrupt(std::to_string(r.remaining()) + " trailing bytes after the last item");
  }
  // The invariant every add and merge keeps (see the header): sum(count - F) + C * F <= N.
  if (excess + static_cast<unsigned __int128>(bound_capacity) * floor > total) {
    return corrupt("counts exceed what total " + std::to_string(total) +
                   " allows (sum of counts too large for the floor and total)");
  }

  TopK sketch(TopKOptions{capacity, seed, static_cast<std::uint32_t>(max_key_bytes)});
  sketch.bound_capacity_ = static_cast<std::uint32_t>(bound_capacity);
  sketch.total_ = total;
  sketch.floor_ = floor;
  for (Candidate& c : items) c.hash = hash_key(c.key, seed);
  sketch.rebuild(items);
  return sketch;
}

bool operator==(const TopK& a, const TopK& b) {
  if (a.capacity_ != b.capacity_ || a.bound_capacity_ != b.bound_capacity_ ||
      a.max_key_bytes_ != b.max_key_bytes_ || a.seed_ != b.seed_ || a.total_ != b.total_ ||
      a.floor_ != b.floor_ || a.slots_.size() != b.slots_.size()) {
    return false;
  }
  const std::vector<std::uint32_t> oa = a.slots_by_key();
  const std::vector<std::uint32_t> ob = b.slots_by_key();
  for (std::size_t i = 0; i < oa.size(); ++i) {
    const std::uint32_t sa = oa[i];
    const std::uint32_t sb = ob[i];
    if (a.key_of(sa) != b.key_of(sb) || a.count_of(sa) != b.count_of(sb) ||
        a.slots_[sa].error != b.slots_[sb].error) {
      return false;
    }
  }
  return true;
}

std::size_t TopK::memory_bytes() const {
  const std::size_t sso_capacity = std::string().capacity();
  std::size_t bytes = sizeof(TopK) + slots_.capacity() * sizeof(Slot) +
                      long_keys_.capacity() * sizeof(std::string) +
                      buckets_.capacity() * sizeof(Bucket) + groups_.capacity() * sizeof(Group) +
                      overflowed_.capacity();
  for (const std::string& k : long_keys_) {
    if (k.capacity() > sso_capacity) bytes += k.capacity() + 1;
  }
  return bytes;
}

}  // namespace edgesketch::sketch
