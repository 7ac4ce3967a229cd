// The series catalog: get-or-create, persistence, matchers and the per-tenant limit.
#include <gtest/gtest.h>

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
    ASSERT_TRUE((*c)->resolve("acme", records, ids).ok());
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 2, 3, 1, 4}));
    std::vector<std::uint64_t> other;
    ASSERT_TRUE((*c)->resolve("globex", std::span(records).first(1), other).ok());
    EXPECT_EQ(other[0], 5u);
  }
  auto c = SeriesCatalog::open(path, 100);
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> again;
  ASSERT_TRUE((*c)->resolve("acme", records, again).ok());
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

TEST(StoreCatalogTest, TenantLimitIsAllOrNothing) {
  testing::TempDir dir;
  auto c = SeriesCatalog::open(dir.path() + "/catalog.db", 2);
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> ids;
  std::vector<wire::WindowRecord> two = {rec("a", {}), rec("b", {})};
  ASSERT_TRUE((*c)->resolve("acme", two, ids).ok());
  std::vector<wire::WindowRecord> more = {rec("a", {}), rec("c", {{"k", "v"}})};
  Status s = (*c)->resolve("acme", more, ids);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("c{k=\"v\"}"), std::string::npos) << s.message();
  EXPECT_EQ((*c)->tenant_size("acme"), 2u);
  // Other tenants have their own budget.
  EXPECT_TRUE((*c)->resolve("globex", more, ids).ok());
}

}  // namespace
}  // namespace edgesketch::store
