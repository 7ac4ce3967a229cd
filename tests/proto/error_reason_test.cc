// ErrorReason: stable names and the Status convention that carries them.
#include "edgesketch/wire/error_reason.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace edgesketch::wire {
namespace {

constexpr int kReasonCount = static_cast<int>(ErrorReason::kBadCompression) + 1;

TEST(ErrorReasonTest, NamesAreUniqueSnakeCase) {
  std::set<std::string_view> names;
  for (int i = 0; i < kReasonCount; ++i) {
    std::string_view name = reason_name(static_cast<ErrorReason>(i));
    EXPECT_FALSE(name.empty());
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(reason_name(ErrorReason::kTruncated), "truncated");
  EXPECT_EQ(reason_name(ErrorReason::kTooManyRecords), "too_many_records");
  EXPECT_EQ(reason_name(ErrorReason::kClockFuture), "clock_future");
  EXPECT_EQ(reason_name(ErrorReason::kBadSketch), "bad_sketch");
  EXPECT_EQ(reason_name(ErrorReason::kTagOrder), "tag_order");
  EXPECT_EQ(reason_name(static_cast<ErrorReason>(200)), "unknown");
}

TEST(ErrorReasonTest, StatusCarriesTheReason) {
  for (int i = 1; i < kReasonCount; ++i) {
    auto reason = static_cast<ErrorReason>(i);
    Status s = wire_error(reason, "window_batch.seq: something");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(error_reason(s), reason) << s.to_string();
    EXPECT_EQ(error_reason(s.with_context("collector ingest")), reason);
    EXPECT_EQ(s.message(),
              "window_batch.seq: something [" + std::string(reason_name(reason)) + "]");
  }
}

TEST(ErrorReasonTest, CodesFollowTheKindOfFailure) {
  EXPECT_EQ(wire_error(ErrorReason::kTruncated, "x").code(), StatusCode::kCorruption);
  EXPECT_EQ(wire_error(ErrorReason::kBadSketch, "x").code(), StatusCode::kCorruption);
  EXPECT_EQ(wire_error(ErrorReason::kTooManyRecords, "x").code(), StatusCode::kOutOfRange);
  EXPECT_EQ(wire_error(ErrorReason::kClockPast, "x").code(), StatusCode::kOutOfRange);
  EXPECT_EQ(wire_error(ErrorReason::kTagOrder, "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wire_error(ErrorReason::kOutOfMemory, "x").code(), StatusCode::kResourceExhausted);
}

TEST(ErrorReasonTest, OtherStatusesHaveNoReason) {
  EXPECT_EQ(error_reason(Status()), ErrorReason::kUnknown);
  EXPECT_EQ(error_reason(Status::corruption("bad block")), ErrorReason::kUnknown);
  EXPECT_EQ(error_reason(Status::corruption("bad [block]")), ErrorReason::kUnknown);
  EXPECT_EQ(error_reason(Status::corruption("[truncated]")), ErrorReason::kUnknown);
  EXPECT_EQ(error_reason(Status::corruption("]")), ErrorReason::kUnknown);
}

}  // namespace
}  // namespace edgesketch::wire
