// RedeliveryFilter: which DUP-flagged MQTT messages after a restart are taken for redeliveries
// of journaled payloads, for how long, and how many times each journaled copy answers.
#include "app/redelivery_filter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace edgesketch::agent {
namespace {

// A record body: device length, device id, payload.
Bytes body(const std::string& payload, const std::string& device = "dev-1") {
  const std::string s = std::string(1, static_cast<char>(device.size())) + device + payload;
  return Bytes(s.begin(), s.end());
}

ByteSpan span(const Bytes& b) { return ByteSpan(b.data(), b.size()); }

constexpr std::uint8_t kLine = 2;

TEST(RedeliveryFilterTest, NothingMatchesBeforeStart) {
  FakeClock clock;
  RedeliveryFilter f(clock);
  const Bytes a = body("vibration value=1");
  f.remember(kLine, span(a));
  EXPECT_FALSE(f.take_redelivery(kLine, span(a)));
  f.start();
  EXPECT_TRUE(f.take_redelivery(kLine, span(a)));
}

// Each journaled copy answers one redelivery: two identical payloads journaled, two redeliveries
// of them recognised, a third identical message is new.
TEST(RedeliveryFilterTest, EachJournaledCopyAnswersOneRedelivery) {
  FakeClock clock;
  RedeliveryFilter f(clock);
  const Bytes a = body("vibration value=1");
  const Bytes b = body("vibration value=2");
  f.remember(kLine, span(a));
  f.remember(kLine, span(b));
  f.remember(kLine, span(a));
  f.start();
  EXPECT_TRUE(f.take_redelivery(kLine, span(a)));
  EXPECT_TRUE(f.take_redelivery(kLine, span(a)));
  EXPECT_FALSE(f.take_redelivery(kLine, span(a)));
  EXPECT_TRUE(f.take_redelivery(kLine, span(b)));
  EXPECT_FALSE(f.take_redelivery(kLine, span(b)));
}

// The same bytes in another format, or from another device, are another record.
TEST(RedeliveryFilterTest, FormatAndDeviceArePartOfTheRecord) {
  FakeClock clock;
  RedeliveryFilter f(clock);
  const Bytes a = body("{\"m\":1}");
  f.remember(kLine, span(a));
  f.start();
  EXPECT_FALSE(f.take_redelivery(1, span(a)));
  EXPECT_FALSE(f.take_redelivery(kLine, span(body("{\"m\":1}", "dev-2"))));
  EXPECT_TRUE(f.take_redelivery(kLine, span(a)));
}

TEST(RedeliveryFilterTest, TheWindowClosesAfterItsTimeAndStaysClosed) {
  FakeClock clock(1'700'000'000'000, 5'000'000'000);
  RedeliveryFilter f(clock);
  const Bytes a = body("a"), b = body("b"), c = body("c");
  for (const Bytes* x : {&a, &b, &c}) f.remember(kLine, span(*x));
  f.start();
  clock.advance_ms(RedeliveryFilter::kWindowMs);
  EXPECT_TRUE(f.take_redelivery(kLine, span(a)));  // the window's last millisecond
  clock.advance_ms(1);
  EXPECT_FALSE(f.take_redelivery(kLine, span(b)));
  EXPECT_FALSE(f.take_redelivery(kLine, span(c)));
}

// The window follows the clock's monotonic time, not its wall time (which may be set back).
TEST(RedeliveryFilterTest, TheWindowIgnoresWallClockSteps) {
  FakeClock clock;
  RedeliveryFilter f(clock);
  const Bytes a = body("a");
  f.remember(kLine, span(a));
  f.start();
  clock.set_now_ms(clock.now_ms() + 10 * RedeliveryFilter::kWindowMs);
  EXPECT_TRUE(f.take_redelivery(kLine, span(a)));
}

TEST(RedeliveryFilterTest, OnlyTheJournalsNewestRecordsAreKnown) {
  FakeClock clock;
  RedeliveryFilter f(clock);
  for (std::uint64_t i = 0; i <= RedeliveryFilter::kTail; ++i) {
    const Bytes x = body("v=" + std::to_string(i));
    f.remember(kLine, span(x));
  }
  f.start();
  EXPECT_FALSE(f.take_redelivery(kLine, span(body("v=0"))));
  EXPECT_TRUE(f.take_redelivery(kLine, span(body("v=1"))));
  EXPECT_TRUE(f.take_redelivery(kLine, span(body("v=" + std::to_string(RedeliveryFilter::kTail)))));
}

TEST(RedeliveryFilterTest, AnEmptyJournalRecognisesNothing) {
  FakeClock clock;
  RedeliveryFilter f(clock);
  f.start();
  EXPECT_FALSE(f.take_redelivery(kLine, span(body("a"))));
}

// Several inputs ask at once: every copy is used up exactly once.
TEST(RedeliveryFilterTest, ConcurrentInputsUseEachCopyOnce) {
  FakeClock clock;
  RedeliveryFilter f(clock);
  const Bytes a = body("vibration value=1");
  constexpr int kCopies = 100;
  for (int i = 0; i < kCopies; ++i) f.remember(kLine, span(a));
  f.start();
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCopies; ++i) {
        if (f.take_redelivery(kLine, span(a))) taken.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), kCopies);
}

}  // namespace
}  // namespace edgesketch::agent
