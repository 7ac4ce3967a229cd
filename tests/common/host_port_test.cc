#include "edgesketch/common/host_port.h"

#include <gtest/gtest.h>

namespace edgesketch {
namespace {

TEST(HostPortTest, SplitsAtTheLastColon) {
  auto a = parse_host_port("127.0.0.1:9781");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9781);
  auto b = parse_host_port("[::1]:80");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 80);
  auto c = parse_host_port("broker.local:0");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(parse_host_port("h:65535")->port, 65535);
}

TEST(HostPortTest, RefusesWhatIsNotHostColonPort) {
  for (const char* bad : {"", "9781", ":9781", "host:", "host:65536", "host:-1", "host:80x",
                          "host: 80", "host:+80"}) {
    EXPECT_FALSE(parse_host_port(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace edgesketch
