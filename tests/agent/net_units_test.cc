// Unit tests of the network edges' small parts: reconnect backoff and the backlog token bucket.
#include <gtest/gtest.h>

#include "edgesketch/net/backoff.h"
#include "forward/token_bucket.h"

namespace edgesketch::agent {
namespace {

TEST(BackoffTest, DoublesUpToTheCapWithoutJitter) {
  net::Backoff b({.min_ms = 100, .max_ms = 1000, .jitter = 0, .seed = 1});
  EXPECT_EQ(b.next_delay_ms(), 100);
  EXPECT_EQ(b.next_delay_ms(), 200);
  EXPECT_EQ(b.next_delay_ms(), 400);
  EXPECT_EQ(b.next_delay_ms(), 800);
  EXPECT_EQ(b.next_delay_ms(), 1000);
  EXPECT_EQ(b.next_delay_ms(), 1000);
  b.reset();
  EXPECT_EQ(b.next_delay_ms(), 100);
}

TEST(BackoffTest, JitterStaysWithinItsBandAndIsSeeded) {
  net::Backoff a({.min_ms = 1000, .max_ms = 1000, .jitter = 0.2, .seed = 9});
  net::Backoff b({.min_ms = 1000, .max_ms = 1000, .jitter = 0.2, .seed = 9});
  bool varied = false;
  std::int64_t first = -1;
  for (int i = 0; i < 100; ++i) {
    std::int64_t d = a.next_delay_ms();
    EXPECT_EQ(d, b.next_delay_ms());
    EXPECT_GE(d, 800);
    EXPECT_LE(d, 1200);
    if (first < 0) first = d;
    varied = varied || d != first;
  }
  EXPECT_TRUE(varied);
}

TEST(TokenBucketTest, PacesAtTheRateAfterTheBurst) {
  constexpr std::int64_t kSec = 1'000'000'000;
  TokenBucket t(5, 2, 0);
  EXPECT_EQ(t.available(0), 2u);
  t.take(2);
  EXPECT_EQ(t.available(0), 0u);
  EXPECT_EQ(t.ns_until_token(0), kSec / 5 + 1);
  EXPECT_EQ(t.available(kSec / 5 + 1), 1u);
  EXPECT_EQ(t.available(10 * kSec), 2u);  // never more than the burst
  TokenBucket unlimited(0, 1, 0);
  EXPECT_TRUE(unlimited.unlimited());
  EXPECT_GT(unlimited.available(0), 1'000'000u);
  EXPECT_EQ(unlimited.ns_until_token(0), 0);
}

}  // namespace
}  // namespace edgesketch::agent
