// The AST of edgesketch's PromQL subset (see docs/query.md), as built by parse_promql().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "edgesketch/query/label_matcher.h"

namespace edgesketch::query {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// Static type of an expression, checked by the parser as Prometheus does.
enum class ValueType : std::uint8_t { kScalar, kVector, kString };
std::string_view value_type_name(ValueType t);  // "scalar", "instant vector", "string"

struct NumberLiteral {
  double value = 0;
};

struct StringLiteral {
  std::string value;
};

struct VectorSelector {
  // Every matcher, including `__name__="metric"` for a `metric{...}` selector.
  std::vector<LabelMatcher> matchers;
  // `[5m]`: the merge window of each point (see docs/query.md); absent: the step (range query)
  // or the lookback (instant query).
  std::optional<std::int64_t> range_ms;
};

enum class AggregateOp : std::uint8_t { kSum, kMin, kMax, kAvg, kCount };
std::string_view aggregate_op_name(AggregateOp op);

struct Aggregate {
  AggregateOp op = AggregateOp::kSum;
  bool without = false;               // `without (...)` rather than `by (...)`
  std::vector<std::string> grouping;  // sorted, unique
  ExprPtr arg;
};

enum class BinaryOp : std::uint8_t { kAdd, kSub, kMul, kDiv, kMod, kPow };
std::string_view binary_op_string(BinaryOp op);

struct Binary {
  BinaryOp op = BinaryOp::kAdd;
  // Vector matching: `on (...)` when `on` is set, `ignoring (...)` when labels are given
  // without `on`; neither: match on all labels but `__name__`.
  bool on = false;
  std::vector<std::string> matching_labels;  // sorted, unique
  ExprPtr lhs;
  ExprPtr rhs;
};

struct Unary {
  bool negate = true;  // false for unary plus
  ExprPtr arg;
};

enum class Function : std::uint8_t { kHistogramQuantile, kDistinctCount, kTopkItems };
std::string_view function_name(Function f);

struct Call {
  Function func = Function::kHistogramQuantile;
  std::vector<ExprPtr> args;
};

struct Paren {
  ExprPtr inner;
};

struct Expr {
  std::variant<NumberLiteral, StringLiteral, VectorSelector, Aggregate, Binary, Unary, Call, Paren>
      node;
  std::size_t pos = 0;  // byte offset of the expression in the query text
  ValueType type = ValueType::kScalar;
};

// The canonical text of an expression (normalized spacing, sorted grouping labels, no redundant
// parentheses are removed): equal queries map to equal strings, so it serves as a cache key.
std::string to_string(const Expr& e);

// The largest `[range]` in the expression, 0 when there is none.
std::int64_t max_range_ms(const Expr& e);

}  // namespace edgesketch::query
