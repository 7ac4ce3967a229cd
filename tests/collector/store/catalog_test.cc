// The series catalog: get-or-create, persistence, matchers and the per-tenant limit.
#include <gtest/gtest.h>

#include <random>

#include "collector/store_test_util.h"
#include "edgesketch/query/label_matcher.h"
#include "record_views.h"
#include "series_catalog.h"

namespace edgesketch::store {
namespace {

wire::WindowRecord rec(const std::string& metric, std::vector<wire::Tag> tags) {
  wire::WindowRecord r;
  r.key.metric = metric;
  r.key.tags = std::move(tags);
  return r;
}

// The catalog resolves record views; these tests build them from records.
Status resolve(SeriesCatalog& c, std::string_view tenant,
               std::span<const wire::WindowRecord> records, std::vector<std::uint64_t>& ids) {
  RecordViews views;
  views.assign(records);
  return c.resolve(tenant, views.views(), ids);
}

std::vector<std::uint64_t> sel(const SeriesCatalog& c, std::vector<LabelMatcher> m) {
  auto r = c.select("acme", m);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::vector<std::uint64_t>{};
}

TEST(StoreCatalogTest, GetOrCreatePersistsAndMatches) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/catalog.db";
  std::vector<wire::WindowRecord> records = {
      rec("temperature", {{"device", "d1"}, {"site", "a"}}),
      rec("temperature", {{"device", "d2"}, {"site", "b"}}),
      rec("vibration", {{"device", "d1"}, {"site", "a"}}),
      rec("temperature", {{"device", "d1"}, {"site", "a"}}),  // repeat within the batch
      rec("uptime", {}),
  };
  std::vector<std::uint64_t> ids;
  {
    auto c = SeriesCatalog::open(path, 100);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(resolve(**c, "acme", records, ids).ok());
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 2, 3, 1, 4}));
    std::vector<std::uint64_t> other;
    ASSERT_TRUE(resolve(**c, "globex", std::span(records).first(1), other).ok());
    EXPECT_EQ(other[0], 5u);
  }
  auto c = SeriesCatalog::open(path, 100);
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> again;
  ASSERT_TRUE(resolve(**c, "acme", records, again).ok());
  EXPECT_EQ(again, ids);
  EXPECT_EQ((*c)->size(), 5u);
  using Op = LabelMatcher::Op;
  EXPECT_EQ(sel(**c, {{"__name__", Op::kEqual, "temperature"}}),
            (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(sel(**c, {{"__name__", Op::kRegexMatch, "temp.*|vib.*"}, {"site", Op::kEqual, "a"}}),
            (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(sel(**c, {{"__name__", Op::kRegexMatch, "temp"}}), std::vector<std::uint64_t>{});
  EXPECT_EQ(sel(**c, {{"device", Op::kNotEqual, "d1"}}), (std::vector<std::uint64_t>{2, 4}));
  EXPECT_EQ(sel(**c, {{"device", Op::kRegexNoMatch, "d[12]"}}), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(sel(**c, {{"device", Op::kEqual, ""}}), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(sel(**c, {{"device", Op::kNotEqual, ""}}), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(sel(**c, {}), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_FALSE((*c)->select("acme", std::vector<LabelMatcher>{{"x", Op::kRegexMatch, "("}}).ok());
  auto info = (*c)->info(2);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->tenant, "acme");
  EXPECT_EQ(info->key, records[1].key);
}

// Lookups hash and compare the key's pieces without building the encoded key: keys whose pieces
// split the same bytes differently, or that contain the separator bytes, stay distinct, and a
// key found by its pieces is the one created (and reloaded) from the encoded bytes.
TEST(StoreCatalogTest, KeysThatDifferOnlyInPieceBoundariesStayDistinct) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/catalog.db";
  std::vector<wire::WindowRecord> records = {
      rec("ab", {{"c", "d"}}),
      rec("a", {{"bc", "d"}}),
      rec("ab", {{"cd", ""}}),
      rec("ab", {{"c", "d\x01e"}}),
      rec("ab", {{"c", "d"}, {"e", "f"}}),
      rec("ab", {{"c", "d\x01"}}),
      rec("abc", {}),
      rec("ab", {}),
  };
  std::vector<std::uint64_t> ids;
  {
    auto c = SeriesCatalog::open(path, 100);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(resolve(**c, "t", records, ids).ok());
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
    std::vector<std::uint64_t> other;
    ASSERT_TRUE(resolve(**c, "ta", std::span(records).first(1), other).ok());
    EXPECT_EQ(other[0], 9u);  // the tenant is part of the key
    std::vector<std::uint64_t> again;
    ASSERT_TRUE(resolve(**c, "t", records, again).ok());
    EXPECT_EQ(again, ids);
  }
  auto c = SeriesCatalog::open(path, 100);
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> reloaded;
  std::vector<wire::WindowRecord> reversed(records.rbegin(), records.rend());
  ASSERT_TRUE(resolve(**c, "t", reversed, reloaded).ok());
  EXPECT_EQ(reloaded, (std::vector<std::uint64_t>{8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ((*c)->size(), 9u);
}

TEST(StoreCatalogTest, TenantLimitIsAllOrNothing) {
  testing::TempDir dir;
  auto c = SeriesCatalog::open(dir.path() + "/catalog.db", 2);
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> ids;
  std::vector<wire::WindowRecord> two = {rec("a", {}), rec("b", {})};
  ASSERT_TRUE(resolve(**c, "acme", two, ids).ok());
  std::vector<wire::WindowRecord> more = {rec("a", {}), rec("c", {{"k", "v"}})};
  Status s = resolve(**c, "acme", more, ids);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("c{k=\"v\"}"), std::string::npos) << s.message();
  EXPECT_EQ((*c)->tenant_size("acme"), 2u);
  // Other tenants have their own budget.
  EXPECT_TRUE(resolve(**c, "globex", more, ids).ok());
}

using Op = LabelMatcher::Op;
using Ids = std::vector<std::uint64_t>;

// A small fleet with labels that some series lack: ids 1..6.
class CatalogMatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = SeriesCatalog::open(dir_.path() + "/catalog.db", 1000);
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(c).value();
    std::vector<wire::WindowRecord> records = {
        rec("temp", {{"device", "d1"}, {"site", "a"}, {"team", "x"}}),   // 1
        rec("temp", {{"device", "d2"}, {"site", "a"}}),                  // 2
        rec("temp", {{"device", "d10"}, {"site", "b"}, {"team", "y"}}),  // 3
        rec("vib", {{"device", "d1"}, {"site", "a"}}),                   // 4
        rec("vib", {{"device", "e1"}, {"site", "b"}, {"team", "x"}}),    // 5
        rec("uptime", {}),                                               // 6
    };
    std::vector<std::uint64_t> ids;
    ASSERT_TRUE(resolve(*catalog_, "acme", records, ids).ok());
    ASSERT_EQ(ids, (Ids{1, 2, 3, 4, 5, 6}));
    // Another tenant's series with the same labels are never selected.
    ASSERT_TRUE(resolve(*catalog_, "globex", std::span(records).first(2), ids).ok());
  }
  Ids sel(std::vector<LabelMatcher> m) { return store::sel(*catalog_, std::move(m)); }

  testing::TempDir dir_;
  std::unique_ptr<SeriesCatalog> catalog_;
};

TEST_F(CatalogMatcherTest, Equality) {
  EXPECT_EQ(sel({{"device", Op::kEqual, "d1"}}), (Ids{1, 4}));
  EXPECT_EQ(sel({{"device", Op::kEqual, "d3"}}), Ids{});
  EXPECT_EQ(sel({{"nolabel", Op::kEqual, "v"}}), Ids{});
  EXPECT_EQ(sel({{"__name__", Op::kEqual, "temp"}, {"site", Op::kEqual, "a"}}), (Ids{1, 2}));
  EXPECT_EQ(sel({{"__name__", Op::kEqual, "vib"}, {"device", Op::kEqual, "d2"}}), Ids{});
}

TEST_F(CatalogMatcherTest, EmptyValueMeansMissingLabel) {
  EXPECT_EQ(sel({{"team", Op::kEqual, ""}}), (Ids{2, 4, 6}));
  EXPECT_EQ(sel({{"team", Op::kNotEqual, ""}}), (Ids{1, 3, 5}));
  EXPECT_EQ(sel({{"nolabel", Op::kEqual, ""}}), (Ids{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sel({{"nolabel", Op::kNotEqual, ""}}), Ids{});
  EXPECT_EQ(sel({{"team", Op::kRegexMatch, "x|"}}), (Ids{1, 2, 4, 5, 6}));
  EXPECT_EQ(sel({{"team", Op::kRegexNoMatch, "x|"}}), (Ids{3}));
  EXPECT_EQ(sel({{"team", Op::kRegexMatch, ".*"}}), (Ids{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sel({{"team", Op::kRegexMatch, ".+"}}), (Ids{1, 3, 5}));
  EXPECT_EQ(sel({{"team", Op::kRegexNoMatch, ".+"}}), (Ids{2, 4, 6}));
  EXPECT_EQ(sel({{"team", Op::kRegexNoMatch, ".*"}}), Ids{});
  EXPECT_EQ(sel({{"nolabel", Op::kRegexMatch, ".+"}}), Ids{});
  EXPECT_EQ(sel({{"nolabel", Op::kRegexNoMatch, ".+"}}), (Ids{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sel({{"nolabel", Op::kRegexNoMatch, "v.*"}}), (Ids{1, 2, 3, 4, 5, 6}));
}

TEST_F(CatalogMatcherTest, NegativeMatchersSubtract) {
  EXPECT_EQ(sel({{"device", Op::kNotEqual, "d1"}}), (Ids{2, 3, 5, 6}));
  EXPECT_EQ(sel({{"site", Op::kEqual, "a"}, {"device", Op::kNotEqual, "d1"}}), (Ids{2}));
  EXPECT_EQ(sel({{"site", Op::kNotEqual, "a"}, {"team", Op::kNotEqual, "y"}}), (Ids{5, 6}));
  EXPECT_EQ(sel({{"device", Op::kRegexNoMatch, "d1.*"}}), (Ids{2, 5, 6}));
  EXPECT_EQ(sel({{"__name__", Op::kEqual, "temp"}, {"device", Op::kRegexNoMatch, "d1|d2"}}),
            (Ids{3}));
}

TEST_F(CatalogMatcherTest, RegexesAreAnchoredRe2) {
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "d1"}}), (Ids{1, 4}));  // not d10
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "d1.*"}}), (Ids{1, 3, 4}));
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "d1|e1"}}), (Ids{1, 4, 5}));
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "d1*0"}}), (Ids{3}));  // prefix "d", not "d1"
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "d?1"}}), (Ids{1, 4}));
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "d1|[e]1"}}), (Ids{1, 4, 5}));
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "d(1|2)"}}), (Ids{1, 2, 4}));
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "(?i)D1"}}), (Ids{1, 4}));
  EXPECT_EQ(sel({{"device", Op::kRegexMatch, "\\w\\d"}}), (Ids{1, 2, 4, 5}));  // RE2 classes
  EXPECT_EQ(sel({{"__name__", Op::kRegexMatch, "temp|vib"}, {"site", Op::kEqual, "b"}}),
            (Ids{3, 5}));
  auto bad = catalog_->select("acme", std::vector<LabelMatcher>{{"x", Op::kRegexMatch, "(a"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("x=~\"(a\""), std::string::npos) << bad.status().message();
}

TEST_F(CatalogMatcherTest, SeveralMatchersIntersect) {
  EXPECT_EQ(sel({{"site", Op::kEqual, "a"}, {"team", Op::kEqual, "x"}}), (Ids{1}));
  EXPECT_EQ(sel({{"site", Op::kRegexMatch, "a|b"},
                 {"device", Op::kRegexMatch, "d.*"},
                 {"team", Op::kNotEqual, ""}}),
            (Ids{1, 3}));
  EXPECT_EQ(sel({{"device", Op::kEqual, "d1"}, {"device", Op::kEqual, "d2"}}), Ids{});
  EXPECT_EQ(catalog_->select("nobody", std::vector<LabelMatcher>{}).value(), Ids{});
}

// Every matcher form over a seeded random fleet with missing labels and many values selects
// exactly the series the query engine's own matchers (RE2, PromQL semantics) accept.
TEST(StoreCatalogPropertyTest, SelectEqualsMatchingEverySeries) {
  testing::TempDir dir;
  auto opened = SeriesCatalog::open(dir.path() + "/catalog.db", 100'000);
  ASSERT_TRUE(opened.ok());
  SeriesCatalog& catalog = **opened;
  std::mt19937_64 rng(20231114);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  // prefix + a random number below n.
  auto value = [&](const char* prefix, int n) {
    std::string v = prefix;
    v += std::to_string(pick(n));
    return v;
  };
  std::vector<wire::WindowRecord> records;
  for (int i = 0; i < 3000; ++i) {
    std::vector<wire::Tag> tags;
    tags.push_back({"device", value("d", 400)});
    if (pick(4) != 0) tags.push_back({"line", value("l", 12)});
    tags.push_back({"site", value("s", 9)});
    if (pick(3) == 0) tags.push_back({"zone", pick(2) ? "north" : "south"});
    records.push_back(rec(value("m", 6), std::move(tags)));
  }
  std::vector<std::uint64_t> ids;
  ASSERT_TRUE(resolve(catalog, "acme", records, ids).ok());

  const std::vector<std::pair<std::string, std::vector<std::string>>> values = {
      {"__name__", {"m1", "m2", "m.*", "m[0-2]", "m1|m5", ".*", ""}},
      {"device", {"d1", "d17", "d1.*", "d1|d2|d3", "d3.+", "d.*7", "", "d", ".*"}},
      {"line", {"l1", "l1.*", "", "l1|", "l[0-9]", ".+"}},
      {"site", {"s1", "s2|s3", "s.", "x", ""}},
      {"zone", {"north", "", "n.*|", ".+"}},
      {"missing", {"", "v", ".*", ".+"}},
  };
  const query::MatchOp ops[] = {query::MatchOp::kEqual, query::MatchOp::kNotEqual,
                                query::MatchOp::kRegexMatch, query::MatchOp::kRegexNoMatch};
  int non_empty = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<LabelMatcher> matchers;
    std::vector<query::LabelMatcher> reference;
    const int n = 1 + pick(3);
    std::string text;
    for (int k = 0; k < n; ++k) {
      const auto& [name, vals] =
          values[static_cast<std::size_t>(pick(static_cast<int>(values.size())))];
      const std::string& v = vals[static_cast<std::size_t>(pick(static_cast<int>(vals.size())))];
      const int op = pick(4);
      matchers.push_back({name, static_cast<Op>(op), v});
      auto m = query::LabelMatcher::make(name, ops[op], v);
      ASSERT_TRUE(m.ok());
      text += m->to_string() + " ";
      reference.push_back(std::move(m).value());
    }
    Ids want;
    for (std::uint64_t id = 1; id <= catalog.size(); ++id) {
      auto info = catalog.info(id);
      if (!info || info->tenant != "acme") continue;
      query::Labels labels{{"__name__", info->key.metric}};
      for (const auto& t : info->key.tags) labels.push_back({t.key, t.value});
      query::sort_labels(labels);
      if (query::matches_all(labels, reference)) want.push_back(id);
    }
    auto got = catalog.select("acme", matchers);
    ASSERT_TRUE(got.ok()) << text << got.status().to_string();
    ASSERT_EQ(*got, want) << text;
    if (!want.empty()) ++non_empty;
  }
  EXPECT_GT(non_empty, 100);  // the rounds select something, not only nothing
}

}  // namespace
}  // namespace edgesketch::store
