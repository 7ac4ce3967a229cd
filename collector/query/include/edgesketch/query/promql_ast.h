// The AST of edgesketch's PromQL (see docs/query.md), as built by parse_promql().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "edgesketch/query/label_matcher.h"

namespace edgesketch::query {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// Static type of an expression, checked by the parser as Prometheus does. A selector with a range
// (`m[5m]`) is an instant vector here (the merge of the windows of the range, docs/query.md) that
// range functions also accept as a range vector; only subqueries are range vectors proper.
enum class ValueType : std::uint8_t { kScalar, kVector, kMatrix, kString };
// Prometheus' documented names: "scalar", "instant vector", "range vector", "string".
std::string_view value_type_name(ValueType t);

struct NumberLiteral {
  double value = 0;
};

struct StringLiteral {
  std::string value;
};

// `@ <timestamp>`, `@ start()`, `@ end()`: evaluate at a fixed time instead of each step's.
struct AtModifier {
  enum class Kind : std::uint8_t { kTimestamp, kStart, kEnd };
  Kind kind = Kind::kTimestamp;
  std::int64_t t_ms = 0;  // kTimestamp: the time (seconds × 1000, rounded)

  friend bool operator==(const AtModifier&, const AtModifier&) = default;
};

struct VectorSelector {
  // Every matcher, including `__name__="metric"` for a `metric{...}` selector.
  std::vector<LabelMatcher> matchers;
  // `[5m]`: the merge window of each point (see docs/query.md), or the range of a range function;
  // absent: the step (range query) or the lookback (instant query).
  std::optional<std::int64_t> range_ms;
  // `offset 5m` (negative for `offset -5m`): the selector is evaluated at t − offset.
  std::int64_t offset_ms = 0;
  std::optional<AtModifier> at;
};

enum class AggregateOp : std::uint8_t {
  kSum,
  kMin,
  kMax,
  kAvg,
  kCount,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kQuantile,
  kCountValues,
};
std::string_view aggregate_op_name(AggregateOp op);
// topk, bottomk, quantile and count_values take a parameter before the vector.
bool aggregate_has_param(AggregateOp op);

struct Aggregate {
  AggregateOp op = AggregateOp::kSum;
  bool without = false;               // `without (...)` rather than `by (...)`
  std::vector<std::string> grouping;  // sorted, unique
  ExprPtr param;                      // set exactly when aggregate_has_param(op)
  ExprPtr arg;
};

enum class BinaryOp : std::uint8_t {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEq,
  kNe,
  kGt,
  kLt,
  kGe,
  kLe,
  kAnd,
  kOr,
  kUnless,
};
std::string_view binary_op_string(BinaryOp op);
bool is_comparison(BinaryOp op);    // == != > < >= <=
bool is_set_operator(BinaryOp op);  // and or unless

// Vector matching cardinality (Prometheus' VectorMatching.Card).
enum class MatchCard : std::uint8_t { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct Binary {
  BinaryOp op = BinaryOp::kAdd;
  bool return_bool = false;  // `bool` after a comparison
  // Vector matching: `on (...)` when `on` is set, `ignoring (...)` when labels are given without
  // `on`; neither: match on all labels but `__name__`.
  bool on = false;
  std::vector<std::string> matching_labels;  // sorted, unique
  // kManyToOne for `group_left`, kOneToMany for `group_right`, kManyToMany for and/or/unless.
  MatchCard card = MatchCard::kOneToOne;
  std::vector<std::string> include;  // the labels of group_left (…) / group_right (…), sorted
  ExprPtr lhs;
  ExprPtr rhs;
};

struct Unary {
  bool negate = true;  // false for unary plus
  ExprPtr arg;
};

enum class Function : std::uint8_t {
  kAbs,
  kAbsent,
  kAbsentOverTime,
  kAvgOverTime,
  kCeil,
  kClamp,
  kClampMax,
  kClampMin,
  kCountOverTime,
  kDistinctCount,
  kExp,
  kFloor,
  kHistogramCount,
  kHistogramFraction,
  kHistogramQuantile,
  kHistogramSum,
  kIncrease,
  kLabelJoin,
  kLabelReplace,
  kLastOverTime,
  kLn,
  kLog10,
  kLog2,
  kMaxOverTime,
  kMinOverTime,
  kPresentOverTime,
  kQuantileOverTime,
  kRate,
  kRound,
  kScalar,
  kSgn,
  kSort,
  kSortDesc,
  kSqrt,
  kStddevOverTime,
  kStdvarOverTime,
  kSumOverTime,
  kTime,
  kTimestamp,
  kTopkItems,
  kVector,
};

// A function's signature, as Prometheus' parser checks it: argument types, how many of the last
// type may repeat (-1: any number, 0: none, 1: the last argument is optional) and the result.
struct FunctionInfo {
  Function func;
  std::string_view name;
  std::span<const ValueType> args;
  int variadic = 0;
  ValueType result = ValueType::kVector;
};
const FunctionInfo& function_info(Function f);
// nullptr when `name` is not a function edgesketch implements.
const FunctionInfo* find_function(std::string_view name);
std::string_view function_name(Function f);

struct Call {
  Function func = Function::kHistogramQuantile;
  std::vector<ExprPtr> args;
};

struct Paren {
  ExprPtr inner;
};

// `expr[range:step]`: `inner` evaluated at every multiple of the step in (t − range, t].
struct Subquery {
  ExprPtr inner;
  std::int64_t range_ms = 0;
  std::int64_t step_ms = 0;  // 0: `[range:]`, EngineOptions::default_subquery_step_ms
  std::int64_t offset_ms = 0;
  std::optional<AtModifier> at;
};

struct Expr {
  std::variant<NumberLiteral, StringLiteral, VectorSelector, Aggregate, Binary, Unary, Call, Paren,
               Subquery>
      node;
  std::size_t pos = 0;  // byte offset of the expression in the query text
  ValueType type = ValueType::kScalar;
};

// The canonical text of an expression (normalized spacing, sorted matchers and labels,
// parentheses as written): equal queries map to equal strings and the text parses back to the
// same expression, so it serves as a cache key.
std::string to_string(const Expr& e);

// The expression inside any parentheses around `e`.
const Expr& strip_parens(const Expr& e);
// The selector `e` is (through parentheses) when it has a range, for range functions; nullptr
// otherwise.
const VectorSelector* range_selector(const Expr& e);

// Which stored windows a point of `e` reads, relative to its time t, in a range query with step
// `step_ms` (subqueries without a step use `default_subquery_step_ms`): windows ending in
// (t − before_ms, t + after_ms]. `pinned` when an `@` modifier ties
// part of the expression to a fixed time or to the query's start or end, so that a point also
// depends on more than t (such queries cannot be cut into independently cached extents).
struct TimeSpan {
  std::int64_t before_ms = 0;
  std::int64_t after_ms = 0;
  bool pinned = false;
};
TimeSpan time_span(const Expr& e, std::int64_t step_ms, std::int64_t default_subquery_step_ms);

}  // namespace edgesketch::query
