// The aggregator's state: series in a vector, found through an open-addressing index of their
// XXH3 key hashes; each series holds its few open windows in a small vector.
#include "window/aggregator.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "edgesketch/common/time_math.h"
#include "edgesketch/sketch/hash.h"
#include "process/condition.h"

namespace edgesketch::agent {
namespace {

constexpr std::uint32_t kNoIndex = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min() / 4;
// Distinct metric names whose rule list is cached; past that, rules are matched per reading.
constexpr std::size_t kMaxCachedMetrics = 4096;
constexpr std::int64_t kRetireIntervalMs = 1'000;
// Bound of group_by keys (validate_rule caps them at limits.max_tags; create() checks this).
constexpr std::size_t kMaxGroupKeys = 64;

enum class SubjectKind : std::uint8_t { kNone, kLabel, kDevice, kTag };

struct Subject {
  SubjectKind kind = SubjectKind::kNone;
  std::string tag;  // kTag
};

Subject make_subject(const std::string& of) {
  if (of.empty()) return {};
  if (of == kLabelSubject) return {SubjectKind::kLabel, {}};
  if (of == kDeviceTag) return {SubjectKind::kDevice, {}};
  return {SubjectKind::kTag, of};
}

// String equality without a memcmp call for the short names the hot path compares.
// Up to 16 bytes are compared as two (overlapping) words each way, never reading past size().
[[gnu::always_inline]] inline bool fast_eq(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  auto load8 = [](const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto load4 = [](const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  };
  if (n >= 8) {
    if (n > 16) return std::memcmp(x, y, n) == 0;
    return load8(x) == load8(y) && load8(x + n - 8) == load8(y + n - 8);
  }
  if (n >= 4) return load4(x) == load4(y) && load4(x + n - 4) == load4(y + n - 4);
  for (std::size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

// The value of tag `key` in r (tags are sorted by key), or nullptr.
[[gnu::always_inline]] inline const std::string* find_tag(const wire::Reading& r,
                                                          std::string_view key) {
  for (const wire::Tag& t : r.tags) {
    if (fast_eq(t.key, key)) return &t.value;
  }
  return nullptr;
}

// The value a group key or subject takes in r, or nullptr when r has none.
[[gnu::always_inline]] inline const std::string* key_value(const wire::Reading& r,
                                                           std::string_view key, bool is_device) {
  if (is_device) return r.device_id.empty() ? nullptr : &r.device_id;
  return find_tag(r, key);
}

[[gnu::always_inline]] inline bool subject_value(const Subject& s, const wire::Reading& r,
                                                 std::string_view& out) {
  switch (s.kind) {
    case SubjectKind::kNone:
      return false;
    case SubjectKind::kLabel:
      if (!r.is_label) return false;
      out = r.label;
      return true;
    case SubjectKind::kDevice:
      if (r.device_id.empty()) return false;
      out = r.device_id;
      return true;
    case SubjectKind::kTag: {
      const std::string* v = find_tag(r, s.tag);
      if (v == nullptr) return false;
      out = *v;
      return true;
    }
  }
  return false;
}

std::uint64_t mix(std::uint64_t h, std::uint64_t i) {
  h ^= (i + 1) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

// Prefetches the histogram bucket `v` will increment (at the current scale; a stale guess after a
// downscale only costs a useless prefetch).
inline void prefetch_bucket(const sketch::ExpHistogram& h, double v) { h.prefetch(v); }

bool same_tags(const std::vector<wire::Tag>& a, const std::vector<wire::Tag>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!fast_eq(a[i].key, b[i].key) || !fast_eq(a[i].value, b[i].value)) return false;
  }
  return true;
}

std::size_t string_cost(std::string_view s) { return s.size() + 2; }

// Bytes the record will take on the wire, rounded up (batches stay below max_batch_bytes).
std::size_t estimate_record_bytes(const wire::WindowRecord& rec) {
  std::size_t n =
      64 + string_cost(rec.key.metric) + string_cost(rec.distinct_of) + string_cost(rec.topk_of);
  for (const wire::Tag& t : rec.key.tags) n += string_cost(t.key) + string_cost(t.value) + 4;
  if (const sketch::ExpHistogram* h = rec.agg.histogram()) {
    const std::size_t buckets = h->positive_counts().size() + h->negative_counts().size();
    const std::size_t bits = static_cast<std::size_t>(std::bit_width(h->count() | 1));
    n += 48 + buckets * bits / 8 + buckets / 8 + 2;
  }
  if (const sketch::HyperLogLog* d = rec.agg.distinct())
    n += std::min<std::size_t>(d->memory_bytes(), 3'100) + 16;
  if (const sketch::TopK* t = rec.agg.topk()) n += t->memory_bytes() + 32;
  return n;
}

}  // namespace

std::string_view reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::kClockFuture:
      return "clock_future";
    case RejectReason::kClockPast:
      return "clock_past";
    case RejectReason::kNonFinite:
      return "non_finite";
    case RejectReason::kTooManySeries:
      return "too_many_series";
  }
  return "unknown";
}

struct Aggregator::CompiledRule {
  RuleSpec spec;
  // group_by sorted and deduplicated; device_key[i] says that group_keys[i] is the device id.
  std::vector<std::string> group_keys;
  std::vector<bool> device_key;
  sketch::AggregateSpec agg;
  Subject distinct;
  Subject topk;
  bool same_subject = false;  // distinct and top-K rank the same thing with the same seed
  std::uint64_t seed = 0;     // of the series hashes, from the name (stable across reloads)
  std::int64_t idle_ms = 0;
  // Hot-path caches: the series the last reading went to (kNoIndex after an index rebuild) and
  // the last distinct subject with its hash.
  std::uint32_t last_series = kNoIndex;
  std::string last_subject;
  std::uint64_t last_subject_hash = 0;
  // The compiled `where`; readings it refused.
  std::optional<Condition> where;
  std::uint64_t where_skipped = 0;
  // The number (Aggregator::rule_seq_) of the last reading the rule took.
  std::uint64_t took_seq = 0;
};

struct Aggregator::OpenWindow {
  std::int64_t start_ms = 0;
  std::uint64_t min_record = 0;  // smallest journal record that fed it; 0 = none
  std::uint64_t max_record = 0;  // largest journal record that fed it; 0 = none
  std::int64_t opened_wall_ms = 0;
  bool delta = false;
  bool has_distinct_hash = false;
  std::uint64_t last_distinct_hash = 0;  // the last hash added to agg's HyperLogLog
  sketch::WindowAggregate agg;
};

struct Aggregator::Series {
  std::uint64_t hash = 0;
  std::uint32_t rule = 0;
  wire::SeriesKey key;
  std::int64_t max_ts = kNoTime;          // the largest timestamp seen (non-late readings)
  std::int64_t closed_through = kNoTime;  // the latest end of a window closed
  std::int64_t last_wall_ms = 0;          // agent clock at the last reading
  std::int64_t last_start = kNoTime;      // window start of the last reading (saves a division)
  bool retired = false;
  std::vector<OpenWindow> windows;
};

// Open addressing, linear probing, load <= 1/2; maps a key hash to an index into series_.
// Equal hashes are told apart by the caller's comparison.
class Aggregator::SeriesIndex {
 public:
  SeriesIndex() { reset(16); }

  void reset(std::size_t expected) {
    std::size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{0, kNoIndex});
    mask_ = cap - 1;
    size_ = 0;
  }

  template <typename Eq>
  std::uint32_t find(std::uint64_t hash, Eq&& eq) const {
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.index == kNoIndex) return kNoIndex;
      if (s.hash == hash && eq(s.index)) return s.index;
    }
  }

  void insert(std::uint64_t hash, std::uint32_t index) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(hash, index);
    ++size_;
  }

 private:
  struct Slot {
    std::uint64_t hash;
    std::uint32_t index;
  };

  void place(std::uint64_t hash, std::uint32_t index) {
    std::size_t i = hash & mask_;
    while (slots_[i].index != kNoIndex) i = (i + 1) & mask_;
    slots_[i] = Slot{hash, index};
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, Slot{0, kNoIndex});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.index != kNoIndex) place(s.hash, s.index);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

Aggregator::Aggregator(AggregatorOptions options)
    : options_(std::move(options)),
      owned_clock_(options_.clock ? nullptr : std::make_unique<SystemClock>()),
      clock_(options_.clock ? *options_.clock : *owned_clock_),
      index_(std::make_unique<SeriesIndex>()) {}

Aggregator::~Aggregator() = default;

Result<std::unique_ptr<Aggregator>> Aggregator::create(AggregatorOptions options) {
  if (options.rules.empty()) options.rules.push_back(default_rule());
  const WindowOptions& w = options.window;
  if (w.allowed_lateness_ms < 0 || w.idle_timeout_ms <= 0 || w.delta_hold_ms < 0 ||
      w.max_future_ms < 0 || w.max_past_ms <= 0) {
    return Status::invalid_argument(
        "window: allowed_lateness, delta_hold and max_future must be >= 0, idle_timeout and "
        "max_past > 0");
  }
  if (options.max_series == 0 || options.max_records_per_batch == 0 ||
      options.max_batch_bytes < 4096) {
    return Status::invalid_argument(
        "aggregator: max_series and max_records_per_batch must be > 0, max_batch_bytes >= 4096");
  }
  if (options.limits.max_tags > kMaxGroupKeys) {
    return Status::invalid_argument("aggregator: limits.max_tags above 64");
  }
  ES_RETURN_IF_ERROR(validate_rules(options.rules, options.limits));
  std::unique_ptr<Aggregator> a(new Aggregator(std::move(options)));
  ES_RETURN_IF_ERROR(a->compile(a->options_.rules, a->rules_));
  a->rule_specs_ = a->options_.rules;
  a->last_retire_ms_ = a->clock_.now_ms();
  return a;
}

Status Aggregator::compile(const std::vector<RuleSpec>& specs,
                           std::vector<CompiledRule>& out) const {
  out.clear();
  for (const RuleSpec& spec : specs) {
    CompiledRule c;
    c.spec = spec;
    c.group_keys = spec.group_by;
    std::sort(c.group_keys.begin(), c.group_keys.end());
    c.group_keys.erase(std::unique(c.group_keys.begin(), c.group_keys.end()), c.group_keys.end());
    for (const std::string& k : c.group_keys) c.device_key.push_back(k == kDeviceTag);
    c.agg.quantiles = spec.quantiles;
    c.agg.distinct = !spec.distinct.empty();
    c.agg.topk = !spec.topk.empty();
    c.agg.topk_options.capacity = spec.topk_slots;
    c.agg.topk_options.max_key_bytes = static_cast<std::uint32_t>(options_.limits.max_label_bytes);
    c.distinct = make_subject(spec.distinct);
    c.topk = make_subject(spec.topk);
    c.same_subject = c.agg.distinct && c.agg.topk && spec.distinct == spec.topk &&
                     c.agg.hll.seed == c.agg.topk_options.seed;
    c.seed = sketch::hash_key(spec.name);
    c.idle_ms = std::max<std::int64_t>(options_.window.idle_timeout_ms,
                                       spec.window_ms + options_.window.allowed_lateness_ms);
    if (!spec.where.empty()) {
      auto where = Condition::compile(spec.where);
      if (!where.ok()) {
        return Status::invalid_argument("rule '" + spec.name +
                                        "' where: " + where.status().message());
      }
      c.where = std::move(*where);
    }
    out.push_back(std::move(c));
  }
  return Status();
}

const std::vector<std::uint32_t>& Aggregator::rules_for(const std::string& metric) {
  if (last_rules_ != nullptr && fast_eq(metric, last_metric_)) return *last_rules_;
  auto it = metric_rules_.find(metric);
  if (it == metric_rules_.end()) {
    std::vector<std::uint32_t> matched;
    for (std::uint32_t i = 0; i < rules_.size(); ++i) {
      if (metric_matches(rules_[i].spec.match, metric)) matched.push_back(i);
    }
    if (metric_rules_.size() >= kMaxCachedMetrics) {
      // Hostile or unbounded metric names: do not grow the cache, match each time.
      scratch_rules_ = std::move(matched);
      last_rules_ = nullptr;
      return scratch_rules_;
    }
    it = metric_rules_.emplace(metric, std::move(matched)).first;
  }
  last_metric_ = metric;
  last_rules_ = &it->second;  // node-based map: stable until the map is cleared
  return it->second;
}

void Aggregator::add(std::span<const wire::Reading> readings, std::uint64_t record_no) {
  const std::int64_t now = clock_.now_ms();
  const WindowOptions& w = options_.window;
  if (record_no > max_record_fed_) max_record_fed_ = record_no;
  const wire::Reading* prev = nullptr;  // the last reading of this call that reached the rules
  for (const wire::Reading& r : readings) {
    ++stats_.readings;
    if (!r.is_label && !std::isfinite(r.value)) [[unlikely]] {
      ++stats_.rejected[static_cast<std::size_t>(RejectReason::kNonFinite)];
      continue;
    }
    if (r.ts_ms > now + w.max_future_ms) [[unlikely]] {
      ++stats_.rejected[static_cast<std::size_t>(RejectReason::kClockFuture)];
      continue;
    }
    if (r.ts_ms < now - w.max_past_ms) [[unlikely]] {
      ++stats_.rejected[static_cast<std::size_t>(RejectReason::kClockPast)];
      continue;
    }
    const std::vector<std::uint32_t>& matched = rules_for(r.metric);
    if (matched.empty()) {
      ++stats_.unmatched;
      continue;
    }
    // Readings of one payload mostly share device and tags: then every rule that took the
    // previous reading finds r's series where that one went, and nothing needs hashing or
    // comparing. (A rule whose where refused the previous reading, or whose series limit kept
    // it out, holds an older reading's series: it looks r's up.)
    const bool same_key = prev != nullptr && fast_eq(prev->metric, r.metric) &&
                          fast_eq(prev->device_id, r.device_id) && same_tags(prev->tags, r.tags);
    const std::uint64_t seq = ++rule_seq_;
    bool taken = false;
    bool refused = false;  // the series limit kept it out of some rule
    for (std::uint32_t ri : matched) {
      CompiledRule& rule = rules_[ri];
      if (rule.where && !rule.where->matches(r)) {
        ++rule.where_skipped;
        continue;
      }
      const bool t = add_to_rule(ri, r, record_no, now, same_key && rule.took_seq + 1 == seq);
      if (t) rule.took_seq = seq;
      taken |= t;
      refused |= !t;
    }
    prev = &r;
    if (taken) {
      ++stats_.accepted;
    } else if (refused) {
      ++stats_.rejected[static_cast<std::size_t>(RejectReason::kTooManySeries)];
    } else {
      ++stats_.unmatched;
    }
  }
  flush_staged();
}

void Aggregator::flush_staged() {
  // Histogram buckets of a series are cold by the time its next payload arrives (10k series
  // touched in between). Prefetching the bucket of the value kPrefetchAhead positions later lets
  // those misses overlap instead of stalling one add_value() after the other.
  constexpr std::size_t kPrefetchAhead = 16;
  const std::size_t n = staged_.size();
  auto prefetch = [&](std::size_t i) {
    if (const sketch::ExpHistogram* h = staged_[i].agg->histogram()) {
      prefetch_bucket(*h, staged_[i].value);
    }
  };
  for (std::size_t i = 0; i < std::min(n, kPrefetchAhead); ++i) prefetch(i);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) prefetch(i + kPrefetchAhead);
    staged_[i].agg->add_value(staged_[i].value);
  }
  staged_.clear();
}

bool Aggregator::add_to_rule(std::uint32_t rule_index, const wire::Reading& r,
                             std::uint64_t record_no, std::int64_t now_ms, bool same_key) {
  CompiledRule& rule = rules_[rule_index];
  const std::size_t groups = rule.group_keys.size();
  Series* s = nullptr;
  std::array<const std::string*, kMaxGroupKeys> values;
  if (same_key && rule.last_series < series_.size()) {
    s = &series_[rule.last_series];
  } else {
    for (std::size_t i = 0; i < groups; ++i) {
      values[i] = key_value(r, rule.group_keys[i], rule.device_key[i]);
    }
  }
  // Consecutive readings of one payload mostly hit the series the previous one hit.
  if (s != nullptr) {
    // same_key: the previous reading resolved this rule's series with an equal key.
  } else if (rule.last_series < series_.size() &&
             series_matches(series_[rule.last_series], rule_index, r.metric, values.data(),
                            groups)) {
    s = &series_[rule.last_series];
  } else {
    std::uint64_t h = XXH3_64bits_withSeed(r.metric.data(), r.metric.size(), rule.seed);
    for (std::size_t i = 0; i < groups; ++i) {
      const std::string* v = values[i];
      h = v ? XXH3_64bits_withSeed(v->data(), v->size(), mix(h, i)) : mix(h, i + 64);
    }
    s = find_or_create_series(rule_index, r, h, values.data());
    if (s == nullptr) return false;
    rule.last_series = static_cast<std::uint32_t>(s - series_.data());
  }
  s->last_wall_ms = now_ms;

  const std::int64_t wms = rule.spec.window_ms;
  const std::int64_t lateness = options_.window.allowed_lateness_ms;
  // Most readings fall into the window the previous one did: no division then.
  std::int64_t start = s->last_start;
  if (r.ts_ms < start || r.ts_ms >= start + wms) {
    start = window_floor(r.ts_ms, wms);
    s->last_start = start;
  }
  const std::int64_t end = start + wms;
  const bool late = end <= s->closed_through || end <= s->max_ts - lateness;
  if (!replay_fence_.empty() && record_no != 0) [[unlikely]] {
    auto it = replay_fence_.find(FenceKey{s->hash, start});
    if (it != replay_fence_.end() && record_no <= it->second) {
      ++stats_.replay_skipped;  // already in a committed version of this window
      return true;
    }
  }

  OpenWindow* win = nullptr;
  for (OpenWindow& ow : s->windows) {
    if (ow.start_ms == start && ow.delta == late) {
      win = &ow;
      break;
    }
  }
  if (win == nullptr) {
    flush_staged();  // push_back may move the series' windows
    s->windows.push_back(OpenWindow{start, record_no, record_no, now_ms, late, false, 0,
                                    sketch::WindowAggregate(rule.agg)});
    win = &s->windows.back();
  }
  if (record_no != 0 && (win->min_record == 0 || record_no < win->min_record)) {
    win->min_record = record_no;
  }
  if (record_no > win->max_record) win->max_record = record_no;

  sketch::WindowAggregate& agg = win->agg;
  if (r.is_label) {
    agg.add_event();
  } else {
    staged_.push_back(StagedValue{&agg, r.value});
  }
  std::string_view subject;
  const bool has_distinct = subject_value(rule.distinct, r, subject);
  std::uint64_t subject_hash = 0;
  if (has_distinct) {
    // Devices repeat within a payload: reuse the last hash of the same key.
    if (!fast_eq(subject, rule.last_subject)) {
      rule.last_subject.assign(subject);
      rule.last_subject_hash = sketch::hash_key(subject, rule.agg.hll.seed);
    }
    subject_hash = rule.last_subject_hash;
    // Adding a hash to a HyperLogLog twice changes nothing, so a run of one key costs one add.
    if (!win->has_distinct_hash || win->last_distinct_hash != subject_hash) {
      agg.add_distinct(subject_hash);
      win->last_distinct_hash = subject_hash;
      win->has_distinct_hash = true;
    }
  }
  if (rule.same_subject) {
    if (has_distinct) agg.add_top(subject_hash, subject);
  } else if (subject_value(rule.topk, r, subject)) {
    agg.add_top(sketch::hash_key(subject, rule.agg.topk_options.seed), subject);
  }

  if (late) {
    ++stats_.late_readings;
  } else if (r.ts_ms > s->max_ts) {
    s->max_ts = r.ts_ms;
    const std::int64_t watermark = r.ts_ms - lateness;
    for (std::size_t i = 0; i < s->windows.size();) {
      const OpenWindow& ow = s->windows[i];
      if (!ow.delta && ow.start_ms + wms <= watermark) {
        flush_staged();  // staged values may point into the window about to move
        close_window(*s, i);
      } else {
        ++i;
      }
    }
  }
  return true;
}

bool Aggregator::series_matches(const Series& s, std::uint32_t rule_index,
                                const std::string& metric, const std::string* const* values,
                                std::size_t groups) const {
  if (s.rule != rule_index || !fast_eq(s.key.metric, metric)) return false;
  const std::vector<std::string>& keys = rules_[rule_index].group_keys;
  std::size_t j = 0;
  for (std::size_t i = 0; i < groups; ++i) {
    const std::string* v = values[i];
    const bool has = j < s.key.tags.size() && fast_eq(s.key.tags[j].key, keys[i]);
    if ((v != nullptr) != has) return false;
    if (v != nullptr) {
      if (!fast_eq(s.key.tags[j].value, *v)) return false;
      ++j;
    }
  }
  return j == s.key.tags.size();
}

Aggregator::Series* Aggregator::find_or_create_series(std::uint32_t rule_index,
                                                      const wire::Reading& r, std::uint64_t hash,
                                                      const std::string* const* values) {
  const CompiledRule& rule = rules_[rule_index];
  const std::size_t groups = rule.group_keys.size();
  std::uint32_t idx = index_->find(hash, [&](std::uint32_t i) {
    return series_matches(series_[i], rule_index, r.metric, values, groups);
  });
  if (idx != kNoIndex) return &series_[idx];
  if (series_.size() >= options_.max_series) return nullptr;
  Series s;
  s.hash = hash;
  s.rule = rule_index;
  s.key.metric = r.metric;
  for (std::size_t i = 0; i < groups; ++i) {
    if (values[i] != nullptr) s.key.tags.push_back(wire::Tag{rule.group_keys[i], *values[i]});
  }
  s.windows.reserve(2);
  series_.push_back(std::move(s));
  idx = static_cast<std::uint32_t>(series_.size() - 1);
  index_->insert(hash, idx);
  return &series_.back();
}

void Aggregator::close_window(Series& s, std::size_t window_index) {
  OpenWindow& ow = s.windows[window_index];
  const CompiledRule& rule = rules_[s.rule];
  const std::int64_t end = ow.start_ms + rule.spec.window_ms;
  if (!ow.delta && end > s.closed_through) s.closed_through = end;
  wire::WindowRecord rec;
  rec.key = s.key;
  if (!rule.spec.output.empty()) rec.key.metric = rule.spec.output;
  rec.window_start_ms = ow.start_ms;
  rec.window_ms = rule.spec.window_ms;
  rec.delta = ow.delta;
  if (rule.agg.distinct) rec.distinct_of = rule.spec.distinct;
  if (rule.agg.topk) rec.topk_of = rule.spec.topk;
  rec.agg = std::move(ow.agg);
  ++stats_.windows_closed;
  if (ow.delta) ++stats_.deltas_closed;
  // fed_upto 0: no journaled reading, nothing for replay to skip.
  emit(std::move(rec), CloseMark{s.hash, ow.start_ms, ow.max_record});
  s.windows.erase(s.windows.begin() + static_cast<std::ptrdiff_t>(window_index));
}

void Aggregator::emit(wire::WindowRecord rec, const CloseMark& mark) {
  const std::size_t est = estimate_record_bytes(rec);
  if (closed_.batches.empty() ||
      closed_.batches.back().records.size() >= options_.max_records_per_batch ||
      (closed_batch_bytes_ + est > options_.max_batch_bytes &&
       !closed_.batches.back().records.empty())) {
    wire::WindowBatch b;
    b.tenant = options_.tenant;
    b.gateway_id = options_.gateway_id;
    closed_.batches.push_back(std::move(b));
    closed_.marks.emplace_back();
    closed_batch_bytes_ = 128;
  }
  closed_batch_bytes_ += est;
  closed_.batches.back().records.push_back(std::move(rec));
  if (mark.fed_upto != 0) closed_.marks.back().push_back(mark);
  ++closed_records_;
}

void Aggregator::close_all_windows(Series& s) {
  // Oldest first, so that records of one series leave in window order.
  std::sort(s.windows.begin(), s.windows.end(), [](const OpenWindow& a, const OpenWindow& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.delta < b.delta;
  });
  while (!s.windows.empty()) close_window(s, 0);
}

void Aggregator::poll() {
  const std::int64_t now = clock_.now_ms();
  const std::int64_t hold = options_.window.delta_hold_ms;
  for (Series& s : series_) {
    if (s.windows.empty()) continue;
    if (now - s.last_wall_ms >= rules_[s.rule].idle_ms) {
      close_all_windows(s);
      continue;
    }
    for (std::size_t i = 0; i < s.windows.size();) {
      if (s.windows[i].delta && now - s.windows[i].opened_wall_ms >= hold) {
        close_window(s, i);
      } else {
        ++i;
      }
    }
  }
  if (now - last_retire_ms_ >= kRetireIntervalMs) {
    last_retire_ms_ = now;
    retire_series(now, false);
  }
}

void Aggregator::retire_series(std::int64_t now_ms, bool force_rebuild) {
  std::size_t retired = 0;
  for (Series& s : series_) {
    if (s.windows.empty() && now_ms - s.last_wall_ms >= options_.series_retention_ms) {
      s.retired = true;
      ++retired;
    }
  }
  stats_.series_retired += retired;
  if (retired > 0 || force_rebuild) rebuild_index();
}

void Aggregator::rebuild_index() {
  std::erase_if(series_, [](const Series& s) { return s.retired; });
  for (CompiledRule& r : rules_) r.last_series = kNoIndex;
  index_->reset(series_.size());
  for (std::uint32_t i = 0; i < series_.size(); ++i) index_->insert(series_[i].hash, i);
}

void Aggregator::flush_all() {
  for (Series& s : series_) close_all_windows(s);
}

Status Aggregator::reload_rules(std::vector<RuleSpec> rules) {
  if (rules.empty()) rules.push_back(default_rule());
  ES_RETURN_IF_ERROR(validate_rules(rules, options_.limits));
  std::vector<CompiledRule> compiled;
  ES_RETURN_IF_ERROR(compile(rules, compiled));
  std::vector<std::uint32_t> remap(rules_.size(), kNoIndex);
  for (std::uint32_t i = 0; i < rules_.size(); ++i) {
    for (std::uint32_t j = 0; j < compiled.size(); ++j) {
      if (compiled[j].spec == rules_[i].spec) remap[i] = j;
    }
  }
  // Close what the old rules hold while they are still in place (close_window reads them).
  for (Series& s : series_) {
    if (remap[s.rule] == kNoIndex) {
      close_all_windows(s);
      s.retired = true;
    }
  }
  for (Series& s : series_) {
    if (!s.retired) s.rule = remap[s.rule];
  }
  for (const CompiledRule& r : rules_) {
    if (r.where) retired_where_skipped_[r.spec.name] += r.where_skipped;
  }
  rules_ = std::move(compiled);
  rule_specs_ = std::move(rules);
  metric_rules_.clear();
  last_rules_ = nullptr;
  rebuild_index();
  return Status();
}

void Aggregator::set_replay_fence(std::span<const CloseMark> marks) {
  replay_fence_.clear();
  for (const CloseMark& m : marks) {
    std::uint64_t& fed = replay_fence_[FenceKey{m.series_hash, m.window_start_ms}];
    if (m.fed_upto > fed) fed = m.fed_upto;
  }
}

void Aggregator::clear_replay_fence() { replay_fence_.clear(); }

std::uint64_t Aggregator::min_open_record() const {
  std::uint64_t m = 0;
  for (const Series& s : series_) {
    for (const OpenWindow& w : s.windows) {
      if (w.min_record != 0 && (m == 0 || w.min_record < m)) m = w.min_record;
    }
  }
  return m;
}

std::size_t window_batch_memory_bytes(const wire::WindowBatch& batch) {
  const auto text = [](const std::string& s) { return s.capacity() + 1; };
  std::size_t n = sizeof(batch) + text(batch.tenant) + text(batch.gateway_id) +
                  batch.records.capacity() * sizeof(wire::WindowRecord);
  for (const wire::WindowRecord& rec : batch.records) {
    n += text(rec.key.metric) + text(rec.distinct_of) + text(rec.topk_of) +
         rec.key.tags.capacity() * sizeof(wire::Tag);
    for (const wire::Tag& t : rec.key.tags) n += text(t.key) + text(t.value);
    if (const sketch::ExpHistogram* h = rec.agg.histogram()) n += h->memory_bytes();
    if (const sketch::HyperLogLog* d = rec.agg.distinct()) n += d->memory_bytes();
    if (const sketch::TopK* t = rec.agg.topk()) n += t->memory_bytes();
  }
  return n;
}

ClosedBatches Aggregator::take_batches() {
  ClosedBatches out = std::move(closed_);
  closed_ = ClosedBatches();
  closed_records_ = 0;
  const std::int64_t now = clock_.now_ms();
  for (wire::WindowBatch& b : out.batches) b.created_ms = now;
  stats_.batches += out.batches.size();
  const std::uint64_t min_open = min_open_record();
  out.journal_upto = min_open != 0 ? min_open - 1 : max_record_fed_;
  return out;
}

AggregatorStats Aggregator::stats() const {
  AggregatorStats s = stats_;
  s.open_series = series_.size();
  std::uint64_t windows = 0;
  std::uint64_t bytes = 0;
  for (const Series& x : series_) {
    windows += x.windows.size();
    for (const OpenWindow& w : x.windows) {
      if (const sketch::ExpHistogram* h = w.agg.histogram()) bytes += h->memory_bytes();
      if (const sketch::HyperLogLog* d = w.agg.distinct()) bytes += d->memory_bytes();
      if (const sketch::TopK* t = w.agg.topk()) bytes += t->memory_bytes();
    }
  }
  s.open_windows = windows;
  s.sketch_bytes = bytes;
  std::map<std::string, std::uint64_t> retired = retired_where_skipped_;
  for (const CompiledRule& r : rules_) {
    if (!r.where) continue;
    std::uint64_t n = r.where_skipped;
    if (auto it = retired.find(r.spec.name); it != retired.end()) {
      n += it->second;
      retired.erase(it);
    }
    s.where_skipped.emplace_back(r.spec.name, n);
  }
  for (const auto& [name, n] : retired) s.where_skipped.emplace_back(name, n);
  s.pending_records = closed_records_;
  return s;
}

}  // namespace edgesketch::agent
