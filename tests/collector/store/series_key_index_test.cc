// SeriesKeyIndex: every inserted key is found with its id, absent keys are not, and keys whose
// hashes collide are told apart by their bytes, across growth.
#include "series_key_index.h"

#include <gtest/gtest.h>

#include <string>

namespace edgesketch::store {
namespace {

std::string key_of(int i) { return "acme" + std::string(1, '\0') + "m" + std::to_string(i); }

TEST(SeriesKeyIndexTest, FindsWhatWasInsertedAcrossGrowth) {
  SeriesKeyIndex index;
  EXPECT_EQ(index.find(key_of(1), SeriesKeyIndex::hash(key_of(1))), 0u);
  for (int i = 1; i <= 5000; ++i) {
    const std::string k = key_of(i);
    index.insert(k, SeriesKeyIndex::hash(k), static_cast<std::uint64_t>(i));
  }
  EXPECT_EQ(index.size(), 5000u);
  for (int i = 1; i <= 5000; ++i) {
    const std::string k = key_of(i);
    index.prefetch(SeriesKeyIndex::hash(k));
    EXPECT_EQ(index.find(k, SeriesKeyIndex::hash(k)), static_cast<std::uint64_t>(i)) << i;
  }
  const std::string absent = key_of(5001);
  EXPECT_EQ(index.find(absent, SeriesKeyIndex::hash(absent)), 0u);
}

TEST(SeriesKeyIndexTest, CollidingHashesAreToldApartByTheKey) {
  SeriesKeyIndex index;
  // Every key with the same hash: one probe chain through the whole table, across growth.
  for (int i = 1; i <= 700; ++i) index.insert(key_of(i), 42, static_cast<std::uint64_t>(i));
  for (int i = 1; i <= 700; ++i) {
    EXPECT_EQ(index.find(key_of(i), 42), static_cast<std::uint64_t>(i)) << i;
  }
  EXPECT_EQ(index.find(key_of(701), 42), 0u);
  EXPECT_EQ(index.find(key_of(1), 43), 0u);
  // A key that is a prefix of another is a different key.
  index.insert("ab", 7, 701);
  index.insert("abc", 7, 702);
  EXPECT_EQ(index.find("ab", 7), 701u);
  EXPECT_EQ(index.find("abc", 7), 702u);
  EXPECT_EQ(index.find("a", 7), 0u);
}

}  // namespace
}  // namespace edgesketch::store
