// The series catalog: SQLite persistence, key lookup and the inverted index with matchers.
#include "series_catalog.h"

#include <spdlog/spdlog.h>

#include <re2/re2.h>
#include <algorithm>
#include <iterator>

#include <optional>
#include <unordered_map>

#include "edgesketch/common/byte_coding.h"

namespace edgesketch::store {
namespace {

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS series(
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  metric TEXT NOT NULL,
  tags BLOB NOT NULL,
  UNIQUE(tenant, metric, tags)
);
)sql";

// Tags as stored in the `tags` column: varint count, then key and value strings.
Bytes encode_tags(const std::vector<wire::Tag>& tags) {
  Bytes out;
  put_varint(out, tags.size());
  for (const auto& t : tags) {
    put_string(out, t.key);
    put_string(out, t.value);
  }
  return out;
}

Result<std::vector<wire::Tag>> decode_tags(ByteSpan b) {
  ByteReader r(b);
  std::uint64_t n = r.varint();
  if (!r.ok() || n > r.remaining() / 2) return Status::corruption("catalog: bad tag count");
  std::vector<wire::Tag> tags(n);
  for (auto& t : tags) {
    t.key = std::string(r.string(1 << 16));
    t.value = std::string(r.string(1 << 16));
  }
  if (!r.ok() || !r.at_end()) return Status::corruption("catalog: bad tags blob");
  return tags;
}

using Ids = std::vector<std::uint64_t>;
using IdSpan = std::span<const std::uint64_t>;

// Set operations on sorted id lists. When one side is much smaller, its elements are looked up
// in the other by binary search (O(small * log large)) instead of merging both.
bool much_smaller(std::size_t a, std::size_t b) { return a * 16 < b; }

bool contains(IdSpan sorted, std::uint64_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

Ids intersect(IdSpan a, IdSpan b) {
  if (much_smaller(b.size(), a.size())) std::swap(a, b);
  Ids out;
  if (much_smaller(a.size(), b.size())) {
    for (std::uint64_t id : a) {
      if (contains(b, id)) out.push_back(id);
    }
    return out;
  }
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Ids difference(IdSpan a, IdSpan b) {
  Ids out;
  if (much_smaller(a.size(), b.size())) {
    for (std::uint64_t id : a) {
      if (!contains(b, id)) out.push_back(id);
    }
    return out;
  }
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// The sorted union of several sorted lists (ids of different values of one label are disjoint).
Ids union_of(std::span<const IdSpan> lists) {
  Ids out;
  std::size_t n = 0;
  for (IdSpan l : lists) n += l.size();
  out.reserve(n);
  for (IdSpan l : lists) out.insert(out.end(), l.begin(), l.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

constexpr std::string_view kRegexMeta = "\\.+*?()|[]{}^$";

bool is_literal(std::string_view s) {
  return s.find_first_of(kRegexMeta) == std::string_view::npos;
}

// The values an anchored regex accepts when it is a literal or an alternation of literals
// ("d1|d2|d3"); nullopt otherwise.
std::optional<std::vector<std::string_view>> literal_alternatives(std::string_view re) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t bar = re.find('|');
    const std::string_view part = re.substr(0, bar);
    if (!is_literal(part)) return std::nullopt;
    out.push_back(part);
    if (bar == std::string_view::npos) break;
    re.remove_prefix(bar + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A prefix every value the anchored regex accepts starts with ("" when none is known): the
// literal characters before the first metacharacter, without the last one when a quantifier
// follows it; none when an alternation may be at the top level.
std::string_view literal_prefix(std::string_view re) {
  if (re.find('[') != std::string_view::npos && re.find('|') != std::string_view::npos) return {};
  int depth = 0;
  for (std::size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\') {
      ++i;
    } else if (re[i] == '(') {
      ++depth;
    } else if (re[i] == ')') {
      --depth;
    } else if (re[i] == '|' && depth == 0) {
      return {};
    }
  }
  std::size_t n = std::min(re.find_first_of(kRegexMeta), re.size());
  if (n < re.size() && n > 0 && (re[n] == '*' || re[n] == '?' || re[n] == '{')) --n;
  return re.substr(0, n);
}

// A matcher's test of one value, RE2 for the regex forms (anchored, `.` matches newlines: the
// semantics of PromQL's matchers).
class ValueTest {
 public:
  static Result<ValueTest> make(const LabelMatcher& m) {
    ValueTest t;
    t.op_ = m.op;
    t.value_ = m.value;
    if (m.op == LabelMatcher::Op::kRegexMatch || m.op == LabelMatcher::Op::kRegexNoMatch) {
      RE2::Options options;
      options.set_log_errors(false);
      options.set_dot_nl(true);
      options.set_max_mem(8 << 20);
      t.re_ = std::make_unique<RE2>("^(?:" + m.value + ")$", options);
      if (!t.re_->ok()) {
        return Status::invalid_argument(
            "matcher " + m.name + (m.op == LabelMatcher::Op::kRegexMatch ? "=~" : "!~") + "\"" +
            m.value + "\": invalid regular expression: " + t.re_->error());
      }
    }
    return t;
  }
  bool regex() const { return re_ != nullptr; }
  // Whether the matcher's positive form (= or =~) accepts v.
  bool positive_accepts(std::string_view v) const {
    if (re_ == nullptr) return v == value_;
    return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re_);
  }
  bool negated() const {
    return op_ == LabelMatcher::Op::kNotEqual || op_ == LabelMatcher::Op::kRegexNoMatch;
  }
  bool accepts(std::string_view v) const { return positive_accepts(v) != negated(); }

 private:
  LabelMatcher::Op op_ = LabelMatcher::Op::kEqual;
  std::string value_;
  std::unique_ptr<RE2> re_;
};

}  // namespace

SeriesCatalog::~SeriesCatalog() {
  insert_ = Statement();
  if (db_ != nullptr) sqlite3_close(db_);
}

Result<std::unique_ptr<SeriesCatalog>> SeriesCatalog::open(
    const std::string& path, std::size_t default_max_series,
    std::map<std::string, std::size_t, std::less<>> max_series, const char* vfs) {
  std::unique_ptr<SeriesCatalog> c(new SeriesCatalog());
  c->default_max_ = default_max_series;
  c->max_series_ = std::move(max_series);
  int rc = sqlite3_open_v2(path.c_str(), &c->db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) return sqlite_status(c->db_, rc, "open catalog " + path);
  ES_RETURN_IF_ERROR(exec_sql(c->db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  ES_RETURN_IF_ERROR(exec_sql(c->db_, kSchemaSql));
  ES_ASSIGN_OR_RETURN(c->insert_, Statement::prepare(c->db_,
                                                     "INSERT INTO series(tenant, metric, tags) "
                                                     "VALUES(?1, ?2, ?3) RETURNING id"));
  ES_ASSIGN_OR_RETURN(Statement load,
                      Statement::prepare(c->db_,
                                         "SELECT id, tenant, metric, tags FROM series "
                                         "ORDER BY id"));
  std::unique_lock lock(c->mu_);
  for (;;) {
    ES_ASSIGN_OR_RETURN(bool row, load.step());
    if (!row) break;
    SeriesInfo info;
    info.id = static_cast<std::uint64_t>(load.column_int(0));
    info.tenant = load.column_text(1);
    info.key.metric = load.column_text(2);
    auto tags = decode_tags(load.column_blob(3));
    if (!tags.ok()) return tags.status().with_context("series " + std::to_string(info.id));
    info.key.tags = std::move(tags).value();
    if (info.id != c->by_id_.size() + 1) {
      return Status::corruption("catalog " + path + ": series ids are not dense at " +
                                std::to_string(info.id));
    }
    c->publish_locked(std::move(info));
  }
  return c;
}

namespace {

// The catalog key of a series from its parts (whatever type holds its tags).
template <class Tags>
void encode_key_parts(std::string_view tenant, std::string_view metric, const Tags& tags,
                      std::string& out) {
  out.clear();
  out.append(tenant);
  out.push_back('\0');
  out.append(metric);
  for (const auto& t : tags) {
    out.push_back('\0');
    out.append(t.key);
    out.push_back('\1');
    out.append(t.value);
  }
}

}  // namespace

void SeriesCatalog::encode_key(const KeyRef& key, std::string& out) {
  encode_key_parts(key.tenant, key.metric, key.tags, out);
}

void SeriesCatalog::encode_key(std::string_view tenant, const wire::SeriesKey& key,
                               std::string& out) {
  encode_key_parts(tenant, key.metric, key.tags, out);
}

void SeriesCatalog::publish_locked(SeriesInfo info) {
  std::string k;
  encode_key(info.tenant, info.key, k);
  by_key_.insert(k, SeriesKeyIndex::hash(k), info.id);
  auto it = tenants_.find(info.tenant);
  if (it == tenants_.end()) it = tenants_.emplace(info.tenant, TenantIndex{}).first;
  TenantIndex& t = it->second;
  t.all.push_back(info.id);
  // Ids grow, so appending keeps every list sorted; a label repeated within a key is added once.
  auto add = [&](const std::string& label, const std::string& value) {
    auto l = t.labels.find(label);
    if (l == t.labels.end()) l = t.labels.emplace(label, LabelPostings{}).first;
    if (!l->second.with_label.empty() && l->second.with_label.back() == info.id) return;
    l->second.with_label.push_back(info.id);
    auto v = l->second.values.find(value);
    if (v == l->second.values.end()) v = l->second.values.emplace(value, Ids{}).first;
    v->second.push_back(info.id);
  };
  add(kMetricLabel, info.key.metric);
  for (const auto& tag : info.key.tags) add(tag.key, tag.value);
  by_id_.push_back(std::move(info));
}

Status SeriesCatalog::resolve(std::string_view tenant,
                              std::span<const wire::WindowRecordView> records,
                              std::vector<std::uint64_t>& ids) {
  auto ref = [&](std::size_t i) { return KeyRef{tenant, records[i].metric, records[i].tags}; };
  std::lock_guard write(write_mu_);
  ids.assign(records.size(), 0);
  // Encode and hash every key first, prefetching their slots, then look them up: the lookups'
  // cache misses overlap instead of following one another.
  keys_.clear();
  key_end_.clear();
  key_hash_.clear();
  for (std::size_t i = 0; i < records.size(); ++i) {
    encode_key(ref(i), scratch_);
    keys_ += scratch_;
    key_end_.push_back(keys_.size());
    key_hash_.push_back(SeriesKeyIndex::hash(scratch_));
  }
  auto key = [&](std::size_t i) {
    const std::size_t begin = i == 0 ? 0 : key_end_[i - 1];
    return std::string_view(keys_).substr(begin, key_end_[i] - begin);
  };
  std::vector<std::size_t> missing;
  {
    std::shared_lock lock(mu_);
    for (std::uint64_t h : key_hash_) by_key_.prefetch(h);
    for (std::size_t i = 0; i < records.size(); ++i) {
      ids[i] = by_key_.find(key(i), key_hash_[i]);
      if (ids[i] == 0) missing.push_back(i);
    }
  }
  if (missing.empty()) return Status();

  // Dedupe keys that repeat within the batch, then check the limit before creating anything.
  std::unordered_map<std::string, std::size_t> first_of;
  std::vector<std::size_t> to_create;
  for (std::size_t i : missing) {
    if (first_of.emplace(key(i), i).second) to_create.push_back(i);
  }
  const std::size_t have = tenant_size(tenant);
  const std::size_t limit = limit_of(tenant);
  if (have + to_create.size() > limit) {
    const auto& k = records[to_create.front()];
    std::string name = std::string(k.metric) + "{";
    for (std::size_t j = 0; j < k.tags.size(); ++j) {
      name += std::string(j ? "," : "") + std::string(k.tags[j].key) + "=\"" +
              std::string(k.tags[j].value) + "\"";
    }
    name += "}";
    return Status::resource_exhausted(
        "tenant '" + std::string(tenant) + "' has " + std::to_string(have) +
        " series and the batch would add " + std::to_string(to_create.size()) +
        ", over its limit of " + std::to_string(limit) + " (first new series " + name +
        "); raise the tenant's max_series or drop high-cardinality tags [series_limit]");
  }

  std::vector<SeriesInfo> created;
  {
    Transaction txn(db_);
    ES_RETURN_IF_ERROR(txn.begin());
    for (std::size_t i : to_create) {
      wire::SeriesKey key;
      key.metric.assign(records[i].metric);
      key.tags.reserve(records[i].tags.size());
      for (const auto& t : records[i].tags) {
        key.tags.push_back(wire::Tag{std::string(t.key), std::string(t.value)});
      }
      insert_.bind(1, tenant)
          .bind(2, std::string_view(key.metric))
          .bind(3, ByteSpan(encode_tags(key.tags)));
      auto row = insert_.step();
      if (!row.ok() || !*row) {
        insert_.reset();
        return row.ok() ? Status::internal("catalog insert returned no id") : row.status();
      }
      SeriesInfo info;
      info.id = static_cast<std::uint64_t>(insert_.column_int(0));
      info.tenant = std::string(tenant);
      info.key = std::move(key);
      insert_.reset();
      created.push_back(std::move(info));
    }
    ES_RETURN_IF_ERROR(txn.commit());
    writes_.fetch_add(1, std::memory_order_relaxed);
  }
  std::unique_lock lock(mu_);
  for (auto& info : created) {
    if (info.id != by_id_.size() + 1) {
      return Status::internal("catalog: new series id " + std::to_string(info.id) +
                              " is not dense (have " + std::to_string(by_id_.size()) + ")");
    }
    publish_locked(std::move(info));
  }
  for (std::size_t i : missing) {
    ids[i] = by_key_.find(key(i), key_hash_[i]);
    if (ids[i] == 0) return Status::internal("catalog: a series just created is missing");
  }
  return Status();
}

std::size_t SeriesCatalog::limit_of(std::string_view tenant) const {
  auto it = max_series_.find(tenant);
  return it != max_series_.end() ? it->second : default_max_;
}

std::size_t SeriesCatalog::size() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

std::size_t SeriesCatalog::tenant_size(std::string_view tenant) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second.all.size();
}

std::optional<SeriesInfo> SeriesCatalog::info(std::uint64_t id) const {
  std::shared_lock lock(mu_);
  if (id == 0 || id > by_id_.size()) return std::nullopt;
  return by_id_[id - 1];
}

// One matcher's part of a selection: the series in the union of `lists` (intersect) or not in it
// (subtract). Series without the label count as having "".
struct SeriesCatalog::Term {
  bool subtract = false;
  std::vector<IdSpan> lists;
  std::size_t size = 0;  // sum of the lists' sizes

  void add(IdSpan ids) {
    if (ids.empty()) return;
    lists.push_back(ids);
    size += ids.size();
  }
};

// A matcher that rejects "" selects the series whose value it accepts: the union of those
// values' postings (intersected with the other matchers). A matcher that accepts "" selects
// every series except those whose value it rejects: the union of those values' postings is
// subtracted. Equality and literal alternations look their values up; other regexes test the
// label's values (those with the regex's literal prefix only).
Result<SeriesCatalog::Term> SeriesCatalog::match_one(const TenantIndex& t, const LabelMatcher& m) {
  // The common "any value" regexes need no test of each value: `.*` accepts every value (and
  // ""), `.+` every value but "" (`l=~".+"` is `l!=""`).
  const bool regex =
      m.op == LabelMatcher::Op::kRegexMatch || m.op == LabelMatcher::Op::kRegexNoMatch;
  if (regex && m.value == ".*") {
    Term all_or_none;
    all_or_none.subtract = m.op == LabelMatcher::Op::kRegexMatch;  // nothing to subtract: all
    return all_or_none;                                            // else nothing to intersect
  }
  if (regex && m.value == ".+") {
    return match_one(
        t, LabelMatcher{m.name,
                        m.op == LabelMatcher::Op::kRegexMatch ? LabelMatcher::Op::kNotEqual
                                                              : LabelMatcher::Op::kEqual,
                        std::string()});
  }
  ES_ASSIGN_OR_RETURN(ValueTest test, ValueTest::make(m));
  Term term;
  term.subtract = test.accepts("");
  auto l = t.labels.find(m.name);
  if (l == t.labels.end()) return term;  // nobody has the label: all or nothing, by `subtract`
  const LabelPostings& p = l->second;

  // The values whose postings the term takes: those the matcher accepts (intersect) or rejects
  // (subtract). Either way, those where the positive form's answer equals `want`.
  const bool want = term.subtract == test.negated();
  std::optional<std::vector<std::string_view>> literals;
  if (!test.regex()) {
    literals.emplace(1, std::string_view(m.value));
  } else {
    literals = literal_alternatives(m.value);
  }
  if (literals && want) {
    for (std::string_view v : *literals) {
      // A series without the label is in no list; one whose value is "" is in the list of "".
      if (auto it = p.values.find(v); it != p.values.end()) term.add(it->second);
    }
    return term;
  }
  if (literals) {
    // Every value but the (literal) ones the positive form accepts: when that is all of them,
    // the label's own list.
    if (std::none_of(literals->begin(), literals->end(),
                     [&](std::string_view v) { return p.values.find(v) != p.values.end(); })) {
      term.add(p.with_label);
      return term;
    }
    for (const auto& [value, ids] : p.values) {
      if (!std::binary_search(literals->begin(), literals->end(), std::string_view(value))) {
        term.add(ids);
      }
    }
    return term;
  }
  // A regex tested on the values; when the term wants the values it accepts, only those with its
  // literal prefix can be.
  auto it = p.values.begin();
  const std::string_view prefix = want ? literal_prefix(m.value) : std::string_view();
  if (!prefix.empty()) it = p.values.lower_bound(prefix);
  for (; it != p.values.end(); ++it) {
    if (!prefix.empty() && !std::string_view(it->first).starts_with(prefix)) break;
    if (test.positive_accepts(it->first) == want) term.add(it->second);
  }
  return term;
}

Result<std::vector<std::uint64_t>> SeriesCatalog::select(
    std::string_view tenant, std::span<const LabelMatcher> matchers) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return Ids{};
  const TenantIndex& t = it->second;
  std::vector<Term> terms;
  terms.reserve(matchers.size());
  for (const auto& m : matchers) {
    ES_ASSIGN_OR_RETURN(Term term, match_one(t, m));
    if (!term.subtract && term.lists.empty()) return Ids{};
    terms.push_back(std::move(term));
  }
  // Intersections first, smallest first; then the differences, from what is left.
  std::stable_sort(terms.begin(), terms.end(), [](const Term& a, const Term& b) {
    if (a.subtract != b.subtract) return !a.subtract;
    return a.size < b.size;
  });
  std::optional<Ids> result;
  auto current = [&]() -> IdSpan { return result ? IdSpan(*result) : IdSpan(t.all); };
  for (const Term& term : terms) {
    if (term.subtract) {
      if (term.lists.empty()) continue;
      if (term.lists.size() == 1 || much_smaller(current().size(), term.size)) {
        Ids left(current().begin(), current().end());
        for (IdSpan l : term.lists) left = difference(left, l);
        result = std::move(left);
      } else {
        result = difference(current(), union_of(term.lists));
      }
    } else if (!result) {
      result = term.lists.size() == 1 ? Ids(term.lists[0].begin(), term.lists[0].end())
                                      : union_of(term.lists);
    } else if (term.lists.size() == 1) {
      result = intersect(*result, term.lists[0]);
    } else if (much_smaller(result->size() * term.lists.size(), term.size)) {
      // A few candidates left: keep those found in one of the lists.
      Ids kept;
      for (std::uint64_t id : *result) {
        for (IdSpan l : term.lists) {
          if (contains(l, id)) {
            kept.push_back(id);
            break;
          }
        }
      }
      result = std::move(kept);
    } else {
      result = intersect(*result, union_of(term.lists));
    }
    if (result && result->empty()) break;
  }
  if (!result) return t.all;
  return std::move(*result);
}

}  // namespace edgesketch::store
