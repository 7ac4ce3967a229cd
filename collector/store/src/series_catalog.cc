// The series catalog: SQLite persistence, key lookup and the inverted index with matchers.
#include "series_catalog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <regex>
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

std::vector<std::uint64_t> set_union(const std::vector<std::uint64_t>& a,
                                     const std::vector<std::uint64_t>& b) {
  std::vector<std::uint64_t> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<std::uint64_t> set_difference(const std::vector<std::uint64_t>& a,
                                          const std::vector<std::uint64_t>& b) {
  std::vector<std::uint64_t> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

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
  t.postings[kMetricLabel][info.key.metric].push_back(info.id);
  for (const auto& tag : info.key.tags) t.postings[tag.key][tag.value].push_back(info.id);
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

// The ids whose label `m.name` has a value the matcher's positive form accepts (=, =~), then
// complemented for != and !~. Series without the label count as having "".
Result<std::vector<std::uint64_t>> SeriesCatalog::match_one(const TenantIndex& t,
                                                            const LabelMatcher& m) const {
  const bool regex =
      m.op == LabelMatcher::Op::kRegexMatch || m.op == LabelMatcher::Op::kRegexNoMatch;
  const bool negate =
      m.op == LabelMatcher::Op::kNotEqual || m.op == LabelMatcher::Op::kRegexNoMatch;
  std::optional<std::regex> re;
  if (regex) {
    try {
      re.emplace(m.value, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Status::invalid_argument("matcher " + m.name + "=~\"" + m.value +
                                      "\": invalid regular expression: " + e.what());
    }
  }
  auto accepts = [&](const std::string& v) {
    return regex ? std::regex_match(v, *re) : v == m.value;
  };
  std::vector<std::uint64_t> positive;
  std::vector<std::uint64_t> with_label;
  auto pl = t.postings.find(m.name);
  if (pl != t.postings.end()) {
    for (const auto& [value, ids] : pl->second) {
      with_label = set_union(with_label, ids);
      if (accepts(value)) positive = set_union(positive, ids);
    }
  }
  if (accepts(std::string())) positive = set_union(positive, set_difference(t.all, with_label));
  if (negate) return set_difference(t.all, positive);
  return positive;
}

Result<std::vector<std::uint64_t>> SeriesCatalog::select(
    std::string_view tenant, std::span<const LabelMatcher> matchers) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return std::vector<std::uint64_t>{};
  const TenantIndex& t = it->second;
  std::vector<std::uint64_t> result = t.all;
  for (const auto& m : matchers) {
    ES_ASSIGN_OR_RETURN(auto ids, match_one(t, m));
    std::vector<std::uint64_t> next;
    std::set_intersection(result.begin(), result.end(), ids.begin(), ids.end(),
                          std::back_inserter(next));
    result = std::move(next);
    if (result.empty()) break;
  }
  return result;
}

}  // namespace edgesketch::store
