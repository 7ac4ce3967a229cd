#include "edgesketch/common/status.h"

#include <gtest/gtest.h>

namespace edgesketch {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::invalid_argument("value " + std::to_string(v) + " is not positive");
  return v;
}

Status use_macros(int v, int& out) {
  ES_ASSIGN_OR_RETURN(int x, parse_positive(v));
  ES_RETURN_IF_ERROR(x > 100 ? Status::out_of_range("too big") : Status());
  out = x;
  return Status();
}

TEST(StatusTest, OkAndErrorFormatting) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().to_string(), "OK");
  Status s = Status::corruption("bad block 3");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.to_string(), "CORRUPTION: bad block 3");
  EXPECT_EQ(s.with_context("histogram").message(), "histogram: bad block 3");
  EXPECT_TRUE(Status().with_context("x").ok());
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> good = parse_positive(5);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 5);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  Result<int> misuse{Status()};
  EXPECT_EQ(misuse.status().code(), StatusCode::kInternal);
}

TEST(StatusTest, Macros) {
  int out = 0;
  EXPECT_TRUE(use_macros(7, out).ok());
  EXPECT_EQ(out, 7);
  EXPECT_EQ(use_macros(-3, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(use_macros(101, out).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(out, 7);
}

}  // namespace
}  // namespace edgesketch
