// Top-K / heavy hitters: a mergeable SpaceSaving summary that keeps `capacity` counters and
// reports the most frequent keys of a stream with a bounded, per-key overestimate.
//
// Algorithm (Metwally et al. 2005, merged as in Agarwal et al. 2012 "Mergeable summaries"):
//  - Each tracked key has a `count` and an `error`; its true weight lies in [count - error, count].
//  - The sketch also keeps a floor F (error_bound()): an upper bound on the true weight of every
//    key it does not track, and on every error. F <= the smallest tracked count.
//  - add(x, w): a tracked x gets count += w. An untracked x, while fewer than `capacity` keys are
//    tracked, gets count = F + w, error = F (F is 0 until something was evicted or merged in).
//    When all counters are in use, x replaces the key with the minimum count m:
//    count = m + w, error = m, and F becomes m.
//  - merge(b) into a: for every key x tracked by a or b, count(x) = c_a(x) + c_b(x) and
//    error(x) = e_a(x) + e_b(x), where a sketch that does not track x contributes its floor F as
//    both count and error. The floor of the union is F_a + F_b. Then the `capacity` largest
//    counts are kept (ties broken by smaller key, bytewise); when keys are dropped the floor
//    becomes the largest dropped count. The result is identical whatever the order of a and b.
//
// Guarantees (N = total(), the sum of every weight added or merged in):
//  - every count is an overestimate: true(x) in [count(x) - error(x), count(x)];
//  - every error and the true weight of any untracked key is <= error_bound() <= N / C, where C is
//    the smallest capacity of any sketch that contributed to this one (C = capacity() when all
//    merged sketches have the same capacity), after any sequence of adds and merges in any order
//    and grouping. Proof sketch: Phi = sum(count - F) + C * F never exceeds N.
//  - with at most `capacity` distinct keys and no merged-in floor, every count is exact.
//  Hence any key with true weight > N / C is reported; merge results are commutative exactly and
//  associative up to these bounds (different groupings can keep different tail keys).
//
// Keys are byte strings of at most max_key_bytes bytes; longer keys are truncated to their first
// max_key_bytes bytes, and two keys with the same prefix count as one key.
//
// Cost: add() and add_hashed() are O(1) amortized whatever the weight: a hit compares the key and
// raises one count (two cache lines); a miss replaces the oldest minimum counter. Counters are
// ordered lazily (Stream-Summary buckets that catch up when a counter reaches the front), so hits
// never reorder anything. merge() is O((n + m) log n), top(k) O(n log k), serialize() and
// deserialize() O(n log n). Memory is about 80 bytes per tracked key (64 with the key inline up to
// 28 bytes, plus the key table and buckets), growing with the keys actually tracked.
//
// Serialized layout (version 1, little-endian, varint = unsigned LEB128):
//   | field           | encoding | meaning                                                     |
//   |-----------------|----------|-------------------------------------------------------------|
//   | version         | u8       | 1                                                           |
//   | capacity        | u32 LE   | counters kept, 1..65536                                     |
//   | seed            | u64 LE   | hash seed; merging needs equal seeds                        |
//   | max_key_bytes   | varint   | 1..kTopKMaxKeyBytesLimit                                    |
//   | bound_capacity  | varint   | C above: smallest capacity merged in, 1..capacity           |
//   | total           | varint   | N                                                           |
//   | floor           | varint   | F = error_bound()                                           |
//   | item_count      | varint   | tracked keys, 0..capacity                                   |
//   | items           | repeated | item_count times, keys strictly ascending (bytewise):       |
//   |   key_length    | varint   |   0..max_key_bytes                                          |
//   |   key           | bytes    |                                                             |
//   |   count         | varint   |   F <= count                                                |
//   |   error         | varint   |   error <= min(count, F)                                    |
// and sum(count - F) + bound_capacity * F <= total, which also means sum(count) <= total when
// item_count <= bound_capacity. Nothing may follow the last item. The encoding is canonical: equal
// sketches serialize to equal bytes.
//
// Thread safety: thread-compatible (const methods may run concurrently; anything else needs
// external synchronization). A TopK owns all its memory; it is copyable and movable.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/hash.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace edgesketch::sketch {

// Limits of TopKOptions, also enforced by the decoder.
inline constexpr std::uint32_t kTopKMaxCapacity = 65536;
inline constexpr std::uint32_t kTopKMaxKeyBytesLimit = 4096;

struct TopKOptions {
  // Counters kept (1,024 at the agent, 4,096 at the collector); 1..kTopKMaxCapacity.
  std::uint32_t capacity = 1024;
  // Seed of hash_key(); sketches merge only when their seeds are equal.
  std::uint64_t seed = kDefaultHashSeed;
  // Longer keys are truncated to this many bytes; 1..kTopKMaxKeyBytesLimit.
  std::uint32_t max_key_bytes = 128;
};

struct TopKItem {
  std::string key;
  std::uint64_t count;  // overestimate: the true count is in [count - error, count]
  std::uint64_t error;

  friend bool operator==(const TopKItem&, const TopKItem&) = default;
};

class TopK {
 public:
  // Out-of-range option values are clamped into range; call validate() first to reject them.
  explicit TopK(TopKOptions options = {});

  // OK, or InvalidArgument naming the field that is out of range.
  static Status validate(const TopKOptions& options);

  // Adds `weight` to `key` (truncated to max_key_bytes), hashed with hash_key(key, seed()).
  // A weight of 0 does nothing. Weights and counts saturate at 2^64 - 1.
  void add(std::string_view key, std::uint64_t weight = 1);

  // The hot path: like add() with the hash already computed. Precondition: hash ==
  // hash_key(key, seed()) (checked by assert in debug builds). Never allocates when the key is
  // tracked; otherwise only while the sketch grows towards capacity() or for a key longer than
  // 28 bytes that does not fit the buffer of the key it replaces. A key longer than max_key_bytes
  // is truncated and rehashed, so `hash` is then ignored.
  void add_hashed(std::uint64_t hash, std::string_view key, std::uint64_t weight = 1);

  // Merges `other` into this sketch (see the header comment); this->capacity() is kept.
  // FailedPrecondition, leaving this sketch unchanged, when the seeds differ or when
  // other.max_key_bytes() > max_key_bytes() (its keys might not fit). Merging a sketch into
  // itself is allowed and doubles it.
  Status merge(const TopK& other);

  // The min(k, size()) items with the largest counts, by count descending then key ascending.
  std::vector<TopKItem> top(std::size_t k) const;

  // N: the sum of all weights ever added or merged in (saturating).
  std::uint64_t total() const { return total_; }
  // The floor F: the largest error of any count and an upper bound on the true count of any
  // untracked key. At most total() / C (see the header comment).
  std::uint64_t error_bound() const { return floor_; }
  // Keys currently tracked, 0..capacity().
  std::size_t size() const { return slots_.size(); }
  std::uint32_t capacity() const { return capacity_; }
  std::uint64_t seed() const { return seed_; }
  std::uint32_t max_key_bytes() const { return max_key_bytes_; }

  // Appends the serialized sketch (layout above) to `out`.
  void serialize(Bytes& out) const;
  Bytes serialize() const;
  // Decodes a serialized sketch. `bytes` is untrusted: any malformed input yields Corruption
  // with a message naming the first problem found; memory allocated is O(bytes.size()).
  static Result<TopK> deserialize(ByteSpan bytes);

  // Equal state: the same items (key, count, error), total, floor, capacity, bound capacity,
  // seed and max_key_bytes. Internal layout (which of several equal-count keys is evicted next)
  // is not compared.
  friend bool operator==(const TopK& a, const TopK& b);

  // Approximate heap and object bytes owned by this sketch.
  std::size_t memory_bytes() const;

 private:
  static constexpr std::uint32_t kNone = 0xffffffffu;

  // Everything about one counter in one cache line, so that a hit touches the key table and one
  // line, and a replacement a handful. Keys of up to kInlineKeyBytes (device ids, MAC addresses,
  // short topics) are stored inline, so comparing and replacing them allocates nothing; longer
  // keys live in long_keys_[slot].
  static constexpr std::uint32_t kInlineKeyBytes = 28;
  struct alignas(64) Slot {
    std::uint64_t count;
    std::uint64_t error;
    std::uint64_t hash;
    std::uint32_t next;       // next slot in the same bucket, kNone at the tail
    std::uint32_t table_pos;  // group * kLanes + lane in the key table
    std::uint32_t key_size;
    char key[kInlineKeyBytes];
  };
  static_assert(sizeof(Slot) == 64, "one cache line per counter");
  // Key table: groups of 8 lanes, each a 16-bit tag (top bit set when in use, 15 hash bits) and a
  // 16-bit slot index, all 8 tags matched at once. A key lives in its home group, or, when that
  // was full, in a later one, and the full group is marked overflowed so that lookups go on.
  static constexpr std::uint32_t kLanes = 8;
  struct alignas(32) Group {
    std::uint16_t tags[kLanes];
    std::uint16_t slots[kLanes];
  };
  static std::uint16_t tag_of(std::uint64_t hash) {
    return static_cast<std::uint16_t>((hash >> 48) | 0x8000u);
  }
  // Bit 2k+1 set for each lane k whose tag equals `tag` (free lanes never match a tag).
  static std::uint32_t matching_lanes(const Group& g, std::uint16_t tag);
  // Bit 2k+1 set for each free lane k.
  static std::uint32_t free_lanes(const Group& g);
  static std::uint32_t lane_of(std::uint32_t mask) {
    return static_cast<std::uint32_t>(std::countr_zero(mask)) / 2;
  }
  // Eviction order (Stream-Summary, kept lazily): slots sit in FIFO buckets of equal count, and
  // buckets in a list sorted by count. A hit only raises the slot's count, so a bucket's count
  // can be stale (smaller than its slots' counts) until the slot reaches the front of the
  // smallest bucket and is moved up. Every count is >= its bucket's; only the front of the
  // smallest bucket ever leaves a bucket, so singly linked lists suffice.
  struct Bucket {
    std::uint64_t count;
    std::uint32_t head;  // oldest slot
    std::uint32_t tail;  // newest slot
    std::uint32_t next;  // larger count, kNone for the last bucket; free-list link when free
  };
  // One counter as gathered by merge() and deserialize() before rebuild().
  struct Candidate {
    std::string_view key;
    std::uint64_t hash;
    std::uint64_t count;
    std::uint64_t error;
  };

  std::string_view key_of(std::uint32_t slot) const;
  bool key_equals(std::uint32_t slot, std::string_view key) const;
  void set_key(std::uint32_t slot, std::string_view key);

  // Slot of key, or kNone.
  std::uint32_t find(std::uint64_t hash, std::string_view key) const;
  // The out-of-line part of add_hashed(): a key longer than max_key_bytes or a weight of 0.
  void add_unusual(std::uint64_t hash, std::string_view key, std::uint64_t weight);
  std::uint32_t find_slow(std::uint64_t hash, std::string_view key) const;
  void table_insert(std::uint64_t hash, std::uint32_t slot);
  void table_erase(std::uint32_t slot);
  // Re-inserts every slot, clearing overflow marks; run when too many groups are marked.
  void rehash();
  void resize_table(std::size_t groups);  // a power of two; then rehash()

  std::uint64_t count_of(std::uint32_t slot) const { return slots_[slot].count; }
  // The bucket of `count`, created if needed. Searches upwards from `from` (whose count is
  // smaller), or from the smallest bucket when `from` is kNone.
  std::uint32_t bucket_for(std::uint64_t count, std::uint32_t from);
  std::uint32_t new_bucket(std::uint64_t count, std::uint32_t prev, std::uint32_t next);
  void push_back(std::uint32_t slot, std::uint32_t bucket);
  // Moves the front slot of the smallest bucket to the bucket of its count.
  void move_front_up();

  // The cold part of add_hashed(): `key` is not tracked.
  void add_untracked(std::uint64_t hash, std::string_view key, std::uint64_t weight);
  // Replaces all counters by `items` (at most capacity_, distinct keys), canonically laid out.
  void rebuild(std::vector<Candidate>& items);
  // Slot indexes sorted by key, for serialize() and operator==.
  std::vector<std::uint32_t> slots_by_key() const;

  std::uint32_t capacity_;
  std::uint32_t bound_capacity_;
  std::uint32_t max_key_bytes_;
  std::uint64_t seed_;
  std::uint64_t total_ = 0;
  std::uint64_t floor_ = 0;

  std::vector<Slot> slots_;             // index < size()
  std::vector<std::string> long_keys_;  // grown on demand for keys longer than kInlineKeyBytes
  // Bucket pool (at most capacity_ + 1 in use); first_/last_ hold the smallest/largest count.
  std::vector<Bucket> buckets_;
  std::uint32_t free_bucket_ = kNone;
  std::uint32_t first_bucket_ = kNone;
  std::uint32_t last_bucket_ = kNone;
  // Power-of-two number of groups, at most 2 keys per 8 lanes.
  std::vector<Group> groups_;
  std::vector<std::uint8_t> overflowed_;
  std::size_t overflowed_count_ = 0;
  std::size_t overflow_limit_;
  std::uint64_t group_mask_;
};

// ---- the hot path, inline: a tracked key costs a table probe, a key compare and an add ----

namespace detail {

template <typename T>
inline T topk_load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Equality of keys of up to 28 bytes with a few overlapping word loads instead of a library
// call. Only bytes [0, n) of either side are touched. For 8 <= n <= 24 the words at 0, n/2 - 4
// and n - 8 cover every byte, so typical keys take no length-dependent branch.
[[gnu::always_inline]] inline bool topk_same_short_bytes(const char* a, const char* b,
                                                         std::size_t n) {
  using W = std::uint64_t;
  if (n >= 8) [[likely]] {
    const std::size_t mid = n <= 24 ? n / 2 - 4 : 8;
    W diff = (topk_load<W>(a) ^ topk_load<W>(b)) | (topk_load<W>(a + mid) ^ topk_load<W>(b + mid)) |
             (topk_load<W>(a + n - 8) ^ topk_load<W>(b + n - 8));
    if (n > 24) diff |= topk_load<W>(a + 16) ^ topk_load<W>(b + 16);
    return diff == 0;
  }
  if (n >= 4) {
    return ((topk_load<std::uint32_t>(a) ^ topk_load<std::uint32_t>(b)) |
            (topk_load<std::uint32_t>(a + n - 4) ^ topk_load<std::uint32_t>(b + n - 4))) == 0;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Saturating add: a hostile total near 2^64 cannot turn an overestimate into a tiny number.
inline std::uint64_t topk_sat_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<std::uint64_t>::max() : r;
}

}  // namespace detail

inline std::uint32_t TopK::matching_lanes(const Group& g, std::uint16_t tag) {
#if defined(__SSE2__)
  const __m128i tags = _mm_load_si128(reinterpret_cast<const __m128i*>(g.tags));
  const __m128i eq = _mm_cmpeq_epi16(tags, _mm_set1_epi16(static_cast<short>(tag)));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(eq)) & 0xaaaau;
#else
  std::uint32_t m = 0;
  for (std::uint32_t k = 0; k < kLanes; ++k) m |= std::uint32_t{g.tags[k] == tag} << (2 * k + 1);
  return m;
#endif
}

inline std::uint32_t TopK::free_lanes(const Group& g) {
#if defined(__SSE2__)
  const __m128i tags = _mm_load_si128(reinterpret_cast<const __m128i*>(g.tags));
  return ~static_cast<std::uint32_t>(_mm_movemask_epi8(tags)) & 0xaaaau;
#else
  std::uint32_t m = 0;
  for (std::uint32_t k = 0; k < kLanes; ++k) m |= std::uint32_t{g.tags[k] < 0x8000u} << (2 * k + 1);
  return m;
#endif
}

[[gnu::always_inline]] inline bool TopK::key_equals(std::uint32_t slot,
                                                    std::string_view key) const {
  const Slot& x = slots_[slot];
  if (x.key_size != key.size()) return false;
  if (x.key_size <= kInlineKeyBytes) {
    return detail::topk_same_short_bytes(x.key, key.data(), key.size());
  }
  return long_keys_[slot] == key;
}

[[gnu::always_inline]] inline std::uint32_t TopK::find(std::uint64_t hash,
                                                       std::string_view key) const {
  // The common cases in one branch each: the key is in its home group at the first lane whose
  // tag matches, or no lane matches and the group never overflowed.
  const std::uint64_t g = hash & group_mask_;
  const std::uint32_t m = matching_lanes(groups_[g], tag_of(hash));
  if (m != 0) [[likely]] {
    const std::uint32_t slot = groups_[g].slots[lane_of(m)];
    if (key_equals(slot, key)) [[likely]] {
      return slot;
    }
  } else if (!overflowed_[g]) [[likely]] {
    return kNone;
  }
  return find_slow(hash, key);  // a tag collision or an overflowed group
}

inline void TopK::add_hashed(std::uint64_t hash, std::string_view key, std::uint64_t weight) {
  if (key.size() > max_key_bytes_ || weight == 0) [[unlikely]] {
    add_unusual(hash, key, weight);
    return;
  }
  assert(hash == hash_key(key, seed_));
  total_ = detail::topk_sat_add(total_, weight);
  const std::uint32_t slot = find(hash, key);
  if (slot != kNone) [[likely]] {
    // The bucket order catches up lazily, when the slot reaches the front (see add_untracked).
    slots_[slot].count = detail::topk_sat_add(slots_[slot].count, weight);
    return;
  }
  add_untracked(hash, key, weight);
}

}  // namespace edgesketch::sketch
