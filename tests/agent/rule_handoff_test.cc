// RuleHandoff: a SIGHUP's rules from the main thread to the aggregator thread, and its verdict
// back.
#include "app/rule_handoff.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace edgesketch::agent {
namespace {

RuleReload rules(const char* name) { return {.rules = {RuleSpec{.name = name}}}; }

TEST(RuleHandoffTest, NothingOfferedNothingApplied) {
  RuleHandoff h;
  bool called = false;
  h.apply_pending([&](RuleReload) {
    called = true;
    return Status();
  });
  EXPECT_FALSE(called);
}

// The offering thread gets the verdict of the thread that applies the rules.
TEST(RuleHandoffTest, TheOfferGetsTheAggregatorsVerdict) {
  RuleHandoff h;
  std::atomic<bool> applied{false};
  std::thread aggregator([&] {
    while (!applied.load()) {
      h.apply_pending([&](RuleReload r) {
        EXPECT_EQ(r.rules.size(), 1u);
        EXPECT_EQ(r.rules[0].name, "bad");
        applied.store(true);
        return Status::invalid_argument("rule 'bad' has no window");
      });
      std::this_thread::yield();
    }
  });
  Status s = h.offer(rules("bad"), std::chrono::seconds(30));
  aggregator.join();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_EQ(s.message(), "rule 'bad' has no window");
}

// Not taken in time: Unavailable, and the rules stay offered until they are; a later offer
// replaces rules not taken yet.
TEST(RuleHandoffTest, RulesNotTakenInTimeStayOfferedAndTheNewestWins) {
  RuleHandoff h;
  Status first = h.offer(rules("first"), std::chrono::milliseconds(1));
  EXPECT_EQ(first.code(), StatusCode::kUnavailable) << first.to_string();
  Status second = h.offer(rules("second"), std::chrono::milliseconds(1));
  EXPECT_EQ(second.code(), StatusCode::kUnavailable);
  int calls = 0;
  auto apply = [&](RuleReload r) {
    ++calls;
    EXPECT_EQ(r.rules.at(0).name, "second");
    return Status();
  };
  h.apply_pending(apply);
  h.apply_pending(apply);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace edgesketch::agent
