// Truth computation: one pass over the record appending each reading to the accumulator of its
// (metric, group, window), then a sort per accumulator for quantiles, distinct and top-K.
#include "truth.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "edgesketch/common/json_string.h"
#include "edgesketch/common/time_math.h"
#include "record_reader.h"

namespace edgesketch::sim {
namespace {

// What a distinct count or a top-K is over.
struct Attribute {
  enum class Kind { kDevice, kLabel, kTag } kind;
  std::string name;
  // kTag: value id of each device (-1 = the device lacks the tag) and the interned values.
  std::vector<std::int32_t> device_value;
  std::vector<std::string> values;
  std::unordered_map<std::string, std::int32_t> value_ids;
};

// One comparison of TruthOptions::where.
struct ValueTest {
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe } op;
  double number;

  bool holds(double v) const {
    switch (op) {
      case Op::kEq:
        return v == number;
      case Op::kNe:
        return v != number;
      case Op::kLt:
        return v < number;
      case Op::kLe:
        return v <= number;
      case Op::kGt:
        return v > number;
      case Op::kGe:
        return v >= number;
    }
    return false;
  }
};

// "value OP NUMBER (and value OP NUMBER)*", spaces optional around operators.
Result<std::vector<ValueTest>> parse_where(std::string_view text) {
  std::vector<ValueTest> tests;
  std::size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  };
  auto bad = [&](std::string_view what) {
    return Status::invalid_argument("truth: --where \"" + std::string(text) +
                                    "\": " + std::string(what) + " at offset " + std::to_string(i) +
                                    " (supported: value OP NUMBER joined by 'and')");
  };
  skip();
  if (i == text.size()) return tests;
  for (;;) {
    skip();
    if (text.substr(i, 5) != "value") return bad("expected 'value'");
    i += 5;
    skip();
    ValueTest t{ValueTest::Op::kEq, 0};
    const std::string_view rest = text.substr(i);
    std::size_t len = 2;
    if (rest.starts_with("==")) {
      t.op = ValueTest::Op::kEq;
    } else if (rest.starts_with("!=")) {
      t.op = ValueTest::Op::kNe;
    } else if (rest.starts_with("<=")) {
      t.op = ValueTest::Op::kLe;
    } else if (rest.starts_with(">=")) {
      t.op = ValueTest::Op::kGe;
    } else if (rest.starts_with("<")) {
      t.op = ValueTest::Op::kLt;
      len = 1;
    } else if (rest.starts_with(">")) {
      t.op = ValueTest::Op::kGt;
      len = 1;
    } else {
      return bad("expected ==, !=, <, <=, > or >=");
    }
    i += len;
    skip();
    std::size_t end = i;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    const std::string_view num = text.substr(i, end - i);
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), t.number);
    if (num.empty() || ec != std::errc() || p != num.data() + num.size() ||
        !std::isfinite(t.number)) {
      return bad("expected a number");
    }
    i = end;
    tests.push_back(t);
    skip();
    if (i == text.size()) return tests;
    if (text.substr(i, 3) != "and") return bad("expected 'and' or the end");
    i += 3;
  }
}

Attribute make_attribute(const std::string& name) {
  Attribute a;
  a.name = name;
  a.kind = name == "device"  ? Attribute::Kind::kDevice
           : name == "label" ? Attribute::Kind::kLabel
                             : Attribute::Kind::kTag;
  return a;
}

struct AccKey {
  std::uint64_t metric_group;
  std::int64_t window_start;
  bool operator==(const AccKey&) const = default;
};

struct AccKeyHash {
  std::size_t operator()(const AccKey& k) const {
    std::uint64_t h = k.metric_group * 0x9E3779B97F4A7C15ULL ^
                      static_cast<std::uint64_t>(k.window_start) * 0xC2B2AE3D27D4EB4FULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

struct Accumulator {
  std::uint32_t metric;
  std::uint32_t group;
  std::int64_t window_start;
  std::uint64_t count = 0;
  double sum = 0, compensation = 0;
  double min = INFINITY, max = -INFINITY;
  std::vector<double> values;
  std::vector<std::vector<std::uint32_t>> distinct;
  std::vector<std::uint32_t> topk;
};

void append_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append("null");
    return;
  }
  // Same text as printf("%.17g"), without printf's cost.
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17);
  out.append(buf, end);
}

void append_int(std::string& out, std::int64_t v) { out.append(std::to_string(v)); }

class TruthComputer {
 public:
  TruthComputer(const TruthOptions& options, std::vector<ValueTest> where)
      : o_(options), where_(std::move(where)) {
    for (const std::string& d : o_.distinct_of) distinct_.push_back(make_attribute(d));
    if (!o_.topk_of.empty()) topk_.push_back(make_attribute(o_.topk_of));
  }

  Status scan(RecordReader& reader) {
    RecordMessage msg;
    for (;;) {
      ES_ASSIGN_OR_RETURN(bool more, reader.next(msg));
      if (!more) break;
      summary_.readings_scanned += msg.readings.size();
      if (o_.dedupe && (msg.header.flags & 1) != 0) continue;
      const std::uint32_t device = msg.header.device_id;
      if (device >= group_of_device_.size() || group_of_device_[device] < 0) {
        prepare_device(reader, device);
      }
      sync_metrics(reader);
      const auto group = static_cast<std::uint32_t>(group_of_device_[device]);
      for (const RecordedReading& r : msg.readings) {
        if (!metric_selected_[r.metric_id]) continue;
        if (!where_.empty() && !meets_where(reader, r)) continue;
        const std::int64_t window = floor_div(r.ts_ms, o_.window_ms) * o_.window_ms;
        // Readings of a series arrive in time order, so its last window is almost always the
        // right one; the hash map is the fallback.
        SeriesCache& cache = series_cache(group, r.metric_id);
        if (cache.index == kNone || cache.window_start != window) {
          const AccKey key{(static_cast<std::uint64_t>(r.metric_id) << 32) | group, window};
          auto [it, inserted] = index_.try_emplace(key, static_cast<std::uint32_t>(accs_.size()));
          if (inserted) {
            Accumulator a;
            a.metric = r.metric_id;
            a.group = group;
            a.window_start = window;
            a.distinct.resize(distinct_.size());
            accs_.push_back(std::move(a));
          }
          cache.window_start = window;
          cache.index = it->second;
        }
        add(accs_[cache.index], reader, device, r);
      }
    }
    return check_names(reader);
  }

  void write(const RecordReader& reader, std::FILE* out) {
    // Rank metrics by name and groups by their values once; then sort on integers.
    const auto& metrics = reader.metrics();
    std::vector<std::uint32_t> metric_rank =
        rank(metrics.size(),
             [&](std::uint32_t a, std::uint32_t b) { return metrics[a].name < metrics[b].name; });
    std::vector<std::uint32_t> group_rank = rank(
        groups_.size(), [&](std::uint32_t a, std::uint32_t b) { return groups_[a] < groups_[b]; });
    struct SortKey {
      std::uint64_t series;  // metric rank << 32 | group rank
      std::int64_t window_start;
      std::uint32_t index;
    };
    std::vector<SortKey> keys(accs_.size());
    for (std::uint32_t i = 0; i < keys.size(); ++i) {
      const Accumulator& a = accs_[i];
      keys[i] = {static_cast<std::uint64_t>(metric_rank[a.metric]) << 32 | group_rank[a.group],
                 a.window_start, i};
    }
    std::sort(keys.begin(), keys.end(), [](const SortKey& a, const SortKey& b) {
      return a.series != b.series ? a.series < b.series : a.window_start < b.window_start;
    });
    std::string line;
    for (const SortKey& key : keys) {
      line.clear();
      format(accs_[key.index], reader, line);
      std::fwrite(line.data(), 1, line.size(), out);
      ++summary_.lines;
    }
  }

  const TruthSummary& summary() const { return summary_; }

 private:
  // rank[i] = position of item i when items 0..n-1 are sorted by `less`.
  template <typename Less>
  static std::vector<std::uint32_t> rank(std::size_t n, Less less) {
    std::vector<std::uint32_t> order(n), ranks(n);
    for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), less);
    for (std::uint32_t i = 0; i < n; ++i) ranks[order[i]] = i;
    return ranks;
  }

  static std::int32_t intern(Attribute& a, const std::string& v) {
    auto [it, inserted] = a.value_ids.try_emplace(v, static_cast<std::int32_t>(a.values.size()));
    if (inserted) a.values.push_back(v);
    return it->second;
  }

  static const std::string* find_tag(const RecordDevice& d, const std::string& key) {
    for (const auto& [k, v] : d.tags) {
      if (k == key) return &v;
    }
    return nullptr;
  }

  bool meets_where(const RecordReader& reader, const RecordedReading& r) const {
    if (reader.metrics()[r.metric_id].categorical) return false;
    for (const ValueTest& t : where_) {
      if (!t.holds(r.value)) return false;
    }
    return true;
  }

  void prepare_device(const RecordReader& reader, std::uint32_t device) {
    const RecordDevice& d = reader.devices()[device];
    std::vector<std::string> values;
    for (const std::string& key : o_.group_by) {
      if (key == "device") {
        values.push_back(d.name);
        group_key_seen_.insert(key);
      } else if (const std::string* v = find_tag(d, key)) {
        values.push_back(*v);
        group_key_seen_.insert(key);
      } else {
        values.emplace_back();
      }
    }
    auto [it, inserted] = group_ids_.try_emplace(values, static_cast<std::int32_t>(groups_.size()));
    if (inserted) groups_.push_back(values);
    if (group_of_device_.size() <= device) group_of_device_.resize(device + 1, -1);
    group_of_device_[device] = it->second;
    for (Attribute* a : attributes()) {
      if (a->kind != Attribute::Kind::kTag) continue;
      if (a->device_value.size() <= device) a->device_value.resize(device + 1, -1);
      const std::string* v = find_tag(d, a->name);
      a->device_value[device] = v ? intern(*a, *v) : -1;
    }
  }

  void sync_metrics(const RecordReader& reader) {
    const auto& metrics = reader.metrics();
    while (metric_selected_.size() < metrics.size()) {
      const RecordMetric& m = metrics[metric_selected_.size()];
      bool selected = m.defined &&
                      (o_.metrics.empty() ||
                       std::find(o_.metrics.begin(), o_.metrics.end(), m.name) != o_.metrics.end());
      metric_selected_.push_back(selected);
    }
  }

  std::vector<Attribute*> attributes() {
    std::vector<Attribute*> all;
    for (Attribute& a : distinct_) all.push_back(&a);
    for (Attribute& a : topk_) all.push_back(&a);
    return all;
  }

  // The id of the reading's attribute value, or -1 when it has none.
  static std::int64_t attribute_id(const Attribute& a, const RecordReader& reader,
                                   std::uint32_t device, const RecordedReading& r) {
    switch (a.kind) {
      case Attribute::Kind::kDevice:
        return device;
      case Attribute::Kind::kLabel:
        return reader.metrics()[r.metric_id].categorical ? static_cast<std::int64_t>(r.label_id)
                                                         : -1;
      case Attribute::Kind::kTag:
        return device < a.device_value.size() ? a.device_value[device] : -1;
    }
    return -1;
  }

  static std::string attribute_text(const Attribute& a, const RecordReader& reader,
                                    std::uint32_t id) {
    switch (a.kind) {
      case Attribute::Kind::kDevice:
        return reader.devices()[id].name;
      case Attribute::Kind::kLabel:
        return reader.labels()[id];
      case Attribute::Kind::kTag:
        return a.values[id];
    }
    return {};
  }

  void add(Accumulator& a, const RecordReader& reader, std::uint32_t device,
           const RecordedReading& r) {
    ++summary_.readings_used;
    ++a.count;
    if (!reader.metrics()[r.metric_id].categorical) {
      const double v = r.value;
      // Neumaier's compensated summation.
      const double t = a.sum + v;
      if (std::fabs(a.sum) >= std::fabs(v)) {
        a.compensation += (a.sum - t) + v;
      } else {
        a.compensation += (v - t) + a.sum;
      }
      a.sum = t;
      a.min = std::min(a.min, v);
      a.max = std::max(a.max, v);
      a.values.push_back(v);
    }
    for (std::size_t s = 0; s < distinct_.size(); ++s) {
      std::int64_t id = attribute_id(distinct_[s], reader, device, r);
      if (id >= 0) a.distinct[s].push_back(static_cast<std::uint32_t>(id));
    }
    if (!topk_.empty()) {
      std::int64_t id = attribute_id(topk_[0], reader, device, r);
      if (id >= 0) a.topk.push_back(static_cast<std::uint32_t>(id));
    }
  }

  Status check_names(const RecordReader& reader) {
    for (const std::string& key : o_.group_by) {
      if (key != "device" && group_key_seen_.count(key) == 0 && !group_of_device_.empty()) {
        return Status::invalid_argument("truth: no device in the record has the tag '" + key +
                                        "' (group-by keys: device, site, line)");
      }
    }
    for (const std::string& name : o_.metrics) {
      bool found = false;
      for (const RecordMetric& m : reader.metrics()) found = found || (m.defined && m.name == name);
      if (!found) {
        std::string known;
        for (const RecordMetric& m : reader.metrics()) {
          if (m.defined) known += (known.empty() ? "" : ", ") + m.name;
        }
        return Status::invalid_argument("truth: metric '" + name +
                                        "' is not in the record (it has: " + known + ")");
      }
    }
    return Status();
  }

  void format(Accumulator& a, const RecordReader& reader, std::string& out) {
    const RecordMetric& metric = reader.metrics()[a.metric];
    out.append("{\"metric\":");
    append_json_string(out, metric.name);
    out.append(",\"group\":{");
    for (std::size_t i = 0; i < o_.group_by.size(); ++i) {
      if (i) out.push_back(',');
      append_json_string(out, o_.group_by[i]);
      out.push_back(':');
      append_json_string(out, groups_[a.group][i]);
    }
    out.append("},\"window_start_ms\":");
    append_int(out, a.window_start);
    out.append(",\"window_ms\":");
    append_int(out, o_.window_ms);
    out.append(",\"count\":");
    append_int(out, static_cast<std::int64_t>(a.count));
    if (!metric.categorical && !a.values.empty()) {
      std::sort(a.values.begin(), a.values.end());
      out.append(",\"sum\":");
      append_double(out, a.sum + a.compensation);
      out.append(",\"min\":");
      append_double(out, a.min);
      out.append(",\"max\":");
      append_double(out, a.max);
      const std::uint64_t n1 = a.values.size() - 1;
      for (auto [name, permille] :
           {std::pair{"p50", 500}, {"p90", 900}, {"p99", 990}, {"p999", 999}}) {
        out.append(",\"");
        out.append(name);
        out.append("\":");
        append_double(out, a.values[(static_cast<std::uint64_t>(permille) * n1) / 1000]);
      }
    }
    if (!distinct_.empty()) {
      out.append(",\"distinct\":{");
      for (std::size_t s = 0; s < distinct_.size(); ++s) {
        std::vector<std::uint32_t>& ids = a.distinct[s];
        std::sort(ids.begin(), ids.end());
        auto n = std::unique(ids.begin(), ids.end()) - ids.begin();
        if (s) out.push_back(',');
        append_json_string(out, distinct_[s].name);
        out.push_back(':');
        append_int(out, n);
      }
      out.push_back('}');
    }
    if (!topk_.empty()) {
      std::vector<std::uint32_t>& ids = a.topk;
      std::sort(ids.begin(), ids.end());
      std::vector<std::pair<std::uint64_t, std::string>> counts;  // (count, key)
      for (std::size_t i = 0; i < ids.size();) {
        std::size_t j = i;
        while (j < ids.size() && ids[j] == ids[i]) ++j;
        counts.emplace_back(j - i, attribute_text(topk_[0], reader, ids[i]));
        i = j;
      }
      const std::size_t k = std::min<std::size_t>(o_.k, counts.size());
      std::partial_sort(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(k),
                        counts.end(), [](const auto& x, const auto& y) {
                          return x.first != y.first ? x.first > y.first : x.second < y.second;
                        });
      out.append(",\"topk_of\":");
      append_json_string(out, topk_[0].name);
      out.append(",\"topk\":[");
      for (std::size_t i = 0; i < k; ++i) {
        if (i) out.push_back(',');
        out.append("{\"key\":");
        append_json_string(out, counts[i].second);
        out.append(",\"count\":");
        append_int(out, static_cast<std::int64_t>(counts[i].first));
        out.push_back('}');
      }
      out.push_back(']');
    }
    out.append("}\n");
    // The accumulator is final: give its memory back.
    std::vector<double>().swap(a.values);
    a.distinct.clear();
    std::vector<std::uint32_t>().swap(a.topk);
  }

  struct VectorHash {
    std::size_t operator()(const std::vector<std::string>& v) const {
      std::size_t h = 0;
      for (const std::string& s : v) h = h * 1000003u ^ std::hash<std::string>{}(s);
      return h;
    }
  };

  const TruthOptions& o_;
  std::vector<ValueTest> where_;
  std::vector<Attribute> distinct_;
  std::vector<Attribute> topk_;  // zero or one
  std::vector<std::int32_t> group_of_device_;
  std::vector<std::vector<std::string>> groups_;
  std::unordered_map<std::vector<std::string>, std::int32_t, VectorHash> group_ids_;
  std::unordered_set<std::string> group_key_seen_;
  std::vector<bool> metric_selected_;
  std::vector<Accumulator> accs_;
  std::unordered_map<AccKey, std::uint32_t, AccKeyHash> index_;
  static constexpr std::uint32_t kNone = ~0u;
  struct SeriesCache {
    std::int64_t window_start = 0;
    std::uint32_t index = kNone;
  };
  SeriesCache& series_cache(std::uint32_t group, std::uint32_t metric) {
    if (cache_.size() <= group) cache_.resize(group + 1);
    std::vector<SeriesCache>& per_metric = cache_[group];
    if (per_metric.size() <= metric) per_metric.resize(metric + 1);
    return per_metric[metric];
  }
  std::vector<std::vector<SeriesCache>> cache_;  // [group][metric]
  TruthSummary summary_;
};

}  // namespace

Result<TruthSummary> compute_truth(const TruthOptions& options, std::FILE* out) {
  if (options.window_ms <= 0) return Status::invalid_argument("truth: window must be positive");
  if (options.k == 0) return Status::invalid_argument("truth: k must be at least 1");
  ES_ASSIGN_OR_RETURN(auto where, parse_where(options.where));
  ES_ASSIGN_OR_RETURN(auto reader, RecordReader::open(options.record_path));
  TruthComputer computer(options, std::move(where));
  ES_RETURN_IF_ERROR(computer.scan(*reader));
  computer.write(*reader, out);
  if (std::fflush(out) != 0) return Status::io_error("truth: writing the output failed");
  return computer.summary();
}

}  // namespace edgesketch::sim
