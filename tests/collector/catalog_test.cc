// The series catalog: get-or-create, persistence, matchers and the per-tenant limit.
#include <gtest/gtest.h>

#include "record_views.h"
#include "series_catalog.h"
#include "store_test_util.h"

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

}  // namespace
}  // namespace edgesketch::store
