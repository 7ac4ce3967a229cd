// Topic templates: what they accept, the subscription they imply, and what they take from a
// topic.
#include "input/topic_template.h"

#include <gtest/gtest.h>

namespace edgesketch::agent {
namespace {

TEST(TopicTemplateTest, MatchesLevelsByPosition) {
  auto t = TopicTemplate::parse("shellies/{device}/sensor/{metric}");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_TRUE(t->names_metric());
  EXPECT_EQ(t->filter(), "shellies/+/sensor/+");
  TopicFields f;
  ASSERT_TRUE(t->match("shellies/ht-1/sensor/temperature", f));
  EXPECT_EQ(f.device, "ht-1");
  EXPECT_EQ(f.metric, "temperature");
  EXPECT_TRUE(f.tags.empty());
  EXPECT_FALSE(t->match("shellies/ht-1/sensor", f));                // fewer levels
  EXPECT_FALSE(t->match("shellies/ht-1/sensor/temperature/x", f));  // more levels
  EXPECT_FALSE(t->match("shellies/ht-1/relay/0", f));               // another literal
  EXPECT_FALSE(t->match("", f));
}

TEST(TopicTemplateTest, OtherNamesAreTagsSortedByNameAndPlusIsIgnored) {
  auto t = TopicTemplate::parse("plant/{site}/+/{line}/{device}");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->names_metric());
  EXPECT_EQ(t->filter(), "plant/+/+/+/+");
  TopicFields f;
  ASSERT_TRUE(t->match("plant/s1/hall-b/l2/d9", f));
  EXPECT_EQ(f.device, "d9");
  EXPECT_EQ(f.metric, "");
  ASSERT_EQ(f.tags.size(), 2u);
  EXPECT_EQ(f.tags[0].key, "line");
  EXPECT_EQ(f.tags[0].value, "l2");
  EXPECT_EQ(f.tags[1].key, "site");
  EXPECT_EQ(f.tags[1].value, "s1");
  // Matching again replaces what the last match found.
  auto z = TopicTemplate::parse("zigbee2mqtt/{device}");
  ASSERT_TRUE(z.ok());
  ASSERT_TRUE(z->match("zigbee2mqtt/0x00158d0001", f));
  EXPECT_EQ(f.device, "0x00158d0001");
  EXPECT_TRUE(f.tags.empty());
  EXPECT_FALSE(z->match("zigbee2mqtt/bridge/state", f));
  // An empty level matches as an empty value.
  ASSERT_TRUE(t->match("plant//x/l1/d", f));
  EXPECT_EQ(f.tags[1].value, "");
}

TEST(TopicTemplateTest, RefusesWhatItCannotMatch) {
  for (const char* bad : {"", "a//b", "a/", "/a", "a/#", "a/dev-{device}", "a/{}",
                          "a/{device}/{device}", "a/{x}/{x}", "a/{de+v}", "a/b+", "{a", "a}"}) {
    auto t = TopicTemplate::parse(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("topic template"), std::string::npos);
    }
  }
  std::string many = "t";
  for (int i = 0; i < 17; ++i) many += "/{t" + std::to_string(i) + "}";
  EXPECT_FALSE(TopicTemplate::parse(many).ok());  // more tags than max_tags
  std::string deep = "t";
  for (int i = 0; i < 40; ++i) deep += "/x";
  EXPECT_FALSE(TopicTemplate::parse(deep).ok());
}

}  // namespace
}  // namespace edgesketch::agent
