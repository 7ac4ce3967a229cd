// Names, function signatures and canonical printing of PromQL AST nodes.
#include "edgesketch/query/promql_ast.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <tuple>

#include <fmt/format.h>

#include "edgesketch/query/promql_parser.h"
#include "edgesketch/query/series_source.h"

namespace edgesketch::query {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
  }
  return "?";
}

std::string_view aggregate_op_name(AggregateOp op) {
  switch (op) {
    case AggregateOp::kSum:
      return "sum";
    case AggregateOp::kMin:
      return "min";
    case AggregateOp::kMax:
      return "max";
    case AggregateOp::kAvg:
      return "avg";
    case AggregateOp::kCount:
      return "count";
    case AggregateOp::kGroup:
      return "group";
    case AggregateOp::kStddev:
      return "stddev";
    case AggregateOp::kStdvar:
      return "stdvar";
    case AggregateOp::kTopk:
      return "topk";
    case AggregateOp::kBottomk:
      return "bottomk";
    case AggregateOp::kQuantile:
      return "quantile";
    case AggregateOp::kCountValues:
      return "count_values";
  }
  return "?";
}

bool aggregate_has_param(AggregateOp op) {
  return op == AggregateOp::kTopk || op == AggregateOp::kBottomk || op == AggregateOp::kQuantile ||
         op == AggregateOp::kCountValues;
}

std::string_view binary_op_string(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "^";
    case BinaryOp::kEq:
      return "==";
    case BinaryOp::kNe:
      return "!=";
    case BinaryOp::kGt:
      return ">";
    case BinaryOp::kLt:
      return "<";
    case BinaryOp::kGe:
      return ">=";
    case BinaryOp::kLe:
      return "<=";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kUnless:
      return "unless";
  }
  return "?";
}

bool is_comparison(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEq:
    case BinaryOp::kNe:
    case BinaryOp::kGt:
    case BinaryOp::kLt:
    case BinaryOp::kGe:
    case BinaryOp::kLe:
      return true;
    default:
      return false;
  }
}

bool is_set_operator(BinaryOp op) {
  return op == BinaryOp::kAnd || op == BinaryOp::kOr || op == BinaryOp::kUnless;
}

namespace {

constexpr ValueType kS = ValueType::kScalar;
constexpr ValueType kV = ValueType::kVector;
constexpr ValueType kM = ValueType::kMatrix;
constexpr ValueType kStr = ValueType::kString;

constexpr std::array<ValueType, 0> kNoArgs{};
constexpr std::array kVectorArg{kV};
constexpr std::array kMatrixArg{kM};
constexpr std::array kScalarArg{kS};
constexpr std::array kScalarVector{kS, kV};
constexpr std::array kScalarMatrix{kS, kM};
constexpr std::array kVectorScalar{kV, kS};
constexpr std::array kVectorScalarScalar{kV, kS, kS};
constexpr std::array kScalarScalarVector{kS, kS, kV};
constexpr std::array kLabelReplaceArgs{kV, kStr, kStr, kStr, kStr};
constexpr std::array kLabelJoinArgs{kV, kStr, kStr, kStr};

// Sorted by name (find_function searches it); Prometheus' signatures, plus edgesketch's
// distinct_count and topk_items.
const FunctionInfo kFunctions[] = {
    {Function::kAbs, "abs", kVectorArg},
    {Function::kAbsent, "absent", kVectorArg},
    {Function::kAbsentOverTime, "absent_over_time", kMatrixArg},
    {Function::kAvgOverTime, "avg_over_time", kMatrixArg},
    {Function::kCeil, "ceil", kVectorArg},
    {Function::kClamp, "clamp", kVectorScalarScalar},
    {Function::kClampMax, "clamp_max", kVectorScalar},
    {Function::kClampMin, "clamp_min", kVectorScalar},
    {Function::kCountOverTime, "count_over_time", kMatrixArg},
    {Function::kDistinctCount, "distinct_count", kVectorArg},
    {Function::kExp, "exp", kVectorArg},
    {Function::kFloor, "floor", kVectorArg},
    {Function::kHistogramCount, "histogram_count", kVectorArg},
    {Function::kHistogramFraction, "histogram_fraction", kScalarScalarVector},
    {Function::kHistogramQuantile, "histogram_quantile", kScalarVector},
    {Function::kHistogramSum, "histogram_sum", kVectorArg},
    {Function::kIncrease, "increase", kMatrixArg},
    {Function::kLabelJoin, "label_join", kLabelJoinArgs, -1},
    {Function::kLabelReplace, "label_replace", kLabelReplaceArgs},
    {Function::kLastOverTime, "last_over_time", kMatrixArg},
    {Function::kLn, "ln", kVectorArg},
    {Function::kLog10, "log10", kVectorArg},
    {Function::kLog2, "log2", kVectorArg},
    {Function::kMaxOverTime, "max_over_time", kMatrixArg},
    {Function::kMinOverTime, "min_over_time", kMatrixArg},
    {Function::kPresentOverTime, "present_over_time", kMatrixArg},
    {Function::kQuantileOverTime, "quantile_over_time", kScalarMatrix},
    {Function::kRate, "rate", kMatrixArg},
    {Function::kRound, "round", kVectorScalar, 1},
    {Function::kScalar, "scalar", kVectorArg, 0, kS},
    {Function::kSgn, "sgn", kVectorArg},
    {Function::kSort, "sort", kVectorArg},
    {Function::kSortDesc, "sort_desc", kVectorArg},
    {Function::kSqrt, "sqrt", kVectorArg},
    {Function::kStddevOverTime, "stddev_over_time", kMatrixArg},
    {Function::kStdvarOverTime, "stdvar_over_time", kMatrixArg},
    {Function::kSumOverTime, "sum_over_time", kMatrixArg},
    {Function::kTime, "time", kNoArgs, 0, kS},
    {Function::kTimestamp, "timestamp", kVectorArg},
    {Function::kTopkItems, "topk_items", kScalarVector},
    {Function::kVector, "vector", kScalarArg},
};

}  // namespace

const FunctionInfo& function_info(Function f) {
  for (const auto& info : kFunctions) {
    if (info.func == f) return info;
  }
  std::abort();  // every Function has an entry
}

const FunctionInfo* find_function(std::string_view name) {
  const auto* it =
      std::lower_bound(std::begin(kFunctions), std::end(kFunctions), name,
                       [](const FunctionInfo& info, std::string_view n) { return info.name < n; });
  if (it != std::end(kFunctions) && it->name == name) return it;
  return nullptr;
}

std::string_view function_name(Function f) { return function_info(f).name; }

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += v[i];
  }
  return out;
}

std::string number_string(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  return fmt::format("{}", v);
}

// Words that the parser reads as something else than a metric name.
bool is_plain_metric_name(std::string_view v) {
  if (!is_valid_metric_name(v)) return false;
  std::string lower(v);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::string_view kWords[] = {
      "sum",    "min",     "max",        "avg",         "count",        "group", "stddev",
      "stdvar", "topk",    "bottomk",    "quantile",    "count_values", "inf",   "nan",
      "and",    "or",      "unless",     "offset",      "bool",         "on",    "ignoring",
      "by",     "without", "group_left", "group_right", "start",        "end",   "atan2"};
  for (std::string_view kw : kWords) {
    if (lower == kw) return false;
  }
  return true;
}

// " @ 1700000000.500", " @ start()": the suffix of an @ modifier (seconds, three decimals).
std::string at_string(const std::optional<AtModifier>& at) {
  if (!at) return "";
  switch (at->kind) {
    case AtModifier::Kind::kStart:
      return " @ start()";
    case AtModifier::Kind::kEnd:
      return " @ end()";
    case AtModifier::Kind::kTimestamp:
      break;
  }
  const std::int64_t ms = at->t_ms;
  const std::uint64_t abs =
      ms < 0 ? static_cast<std::uint64_t>(-(ms + 1)) + 1 : static_cast<std::uint64_t>(ms);
  return fmt::format(" @ {}{}.{:03}", ms < 0 ? "-" : "", abs / 1000, abs % 1000);
}

std::string offset_string(std::int64_t offset_ms) {
  if (offset_ms == 0) return "";
  if (offset_ms < 0) return " offset -" + format_duration_ms(-offset_ms);
  return " offset " + format_duration_ms(offset_ms);
}

std::string selector_string(const VectorSelector& s) {
  // The `metric{...}` form only when it parses back to the same selector: one `__name__`
  // matcher, an equality, whose value is a metric name and not a keyword.
  std::size_t name_matchers = 0;
  for (const auto& m : s.matchers) name_matchers += m.name() == kMetricNameLabel ? 1 : 0;
  std::vector<const LabelMatcher*> ms;
  std::string name;
  for (const auto& m : s.matchers) {
    if (name_matchers == 1 && m.name() == kMetricNameLabel && m.op() == MatchOp::kEqual &&
        is_plain_metric_name(m.value())) {
      name = m.value();
    } else {
      ms.push_back(&m);
    }
  }
  std::sort(ms.begin(), ms.end(), [](const LabelMatcher* a, const LabelMatcher* b) {
    return std::make_tuple(a->name(), a->op(), a->value()) <
           std::make_tuple(b->name(), b->op(), b->value());
  });
  std::string out = name;
  if (!ms.empty() || name.empty()) {
    out += '{';
    for (std::size_t i = 0; i < ms.size(); ++i) {
      if (i) out += ", ";
      out += ms[i]->to_string();
    }
    out += '}';
  }
  if (s.range_ms) {
    out += '[';
    out += format_duration_ms(*s.range_ms);
    out += ']';
  }
  return out + at_string(s.at) + offset_string(s.offset_ms);
}

}  // namespace

std::string to_string(const Expr& e) {
  struct Printer {
    std::string operator()(const NumberLiteral& n) const { return number_string(n.value); }
    std::string operator()(const StringLiteral& s) const { return quote_promql_string(s.value); }
    std::string operator()(const VectorSelector& s) const { return selector_string(s); }
    std::string operator()(const Aggregate& a) const {
      std::string out(aggregate_op_name(a.op));
      if (a.without || !a.grouping.empty()) {
        out += a.without ? " without (" : " by (";
        out += join(a.grouping) + ") ";
      }
      out += "(";
      if (a.param) out += to_string(*a.param) + ", ";
      return out + to_string(*a.arg) + ")";
    }
    std::string operator()(const Binary& b) const {
      std::string out = to_string(*b.lhs) + " " + std::string(binary_op_string(b.op));
      if (b.return_bool) out += " bool";
      const bool grouped = b.card == MatchCard::kManyToOne || b.card == MatchCard::kOneToMany;
      if (b.on || !b.matching_labels.empty() || grouped) {
        out += b.on ? " on (" : " ignoring (";
        out += join(b.matching_labels) + ")";
      }
      if (grouped) {
        out += b.card == MatchCard::kManyToOne ? " group_left (" : " group_right (";
        out += join(b.include) + ")";
      }
      return out + " " + to_string(*b.rhs);
    }
    std::string operator()(const Unary& u) const {
      std::string out(u.negate ? "-" : "+");
      out += to_string(*u.arg);
      return out;
    }
    std::string operator()(const Call& c) const {
      std::string out = std::string(function_name(c.func)) + "(";
      for (std::size_t i = 0; i < c.args.size(); ++i) {
        if (i) out += ", ";
        out += to_string(*c.args[i]);
      }
      return out + ")";
    }
    std::string operator()(const Paren& p) const {
      std::string out("(");
      out += to_string(*p.inner);
      out += ')';
      return out;
    }
    std::string operator()(const Subquery& s) const {
      std::string out = to_string(*s.inner) + "[" + format_duration_ms(s.range_ms) + ":";
      if (s.step_ms != 0) out += format_duration_ms(s.step_ms);
      return out + "]" + at_string(s.at) + offset_string(s.offset_ms);
    }
  };
  return std::visit(Printer{}, e.node);
}

const Expr& strip_parens(const Expr& e) {
  const Expr* cur = &e;
  while (const auto* p = std::get_if<Paren>(&cur->node)) cur = p->inner.get();
  return *cur;
}

const VectorSelector* range_selector(const Expr& e) {
  const auto* sel = std::get_if<VectorSelector>(&strip_parens(e).node);
  return sel != nullptr && sel->range_ms ? sel : nullptr;
}

namespace {

// a + b, saturating at ±kMaxTimeMs (nested subqueries add up their ranges and offsets).
std::int64_t add_saturated(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) r = (a > 0) ? kMaxTimeMs : -kMaxTimeMs;
  return std::clamp(r, -kMaxTimeMs, kMaxTimeMs);
}

// Folds `inner` (relative to the times it is evaluated at) into the span of an expression
// evaluated at t − offset over the range `range_ms` before it.
TimeSpan shifted(TimeSpan inner, std::int64_t offset_ms, std::int64_t range_ms) {
  TimeSpan out;
  out.before_ms =
      std::max<std::int64_t>(0, add_saturated(add_saturated(inner.before_ms, offset_ms), range_ms));
  out.after_ms = std::max<std::int64_t>(0, add_saturated(inner.after_ms, -offset_ms));
  out.pinned = inner.pinned;
  return out;
}

TimeSpan widest(const TimeSpan& a, const TimeSpan& b) {
  return TimeSpan{std::max(a.before_ms, b.before_ms), std::max(a.after_ms, b.after_ms),
                  a.pinned || b.pinned};
}

}  // namespace

TimeSpan time_span(const Expr& e, std::int64_t step_ms, std::int64_t default_subquery_step_ms) {
  struct Visitor {
    std::int64_t step;
    std::int64_t default_step;
    TimeSpan operator()(const NumberLiteral&) const { return {}; }
    TimeSpan operator()(const StringLiteral&) const { return {}; }
    TimeSpan operator()(const VectorSelector& s) const {
      // A point merges the windows ending in (t − offset − width, t − offset]. As the argument of
      // a range function the samples' grid may start up to one step before the range.
      TimeSpan own{s.range_ms ? add_saturated(*s.range_ms, step) : step, 0, s.at.has_value()};
      return shifted(own, s.offset_ms, 0);
    }
    TimeSpan operator()(const Aggregate& a) const {
      TimeSpan out = time_span(*a.arg, step, default_step);
      if (a.param) out = widest(out, time_span(*a.param, step, default_step));
      return out;
    }
    TimeSpan operator()(const Binary& b) const {
      return widest(time_span(*b.lhs, step, default_step), time_span(*b.rhs, step, default_step));
    }
    TimeSpan operator()(const Unary& u) const { return time_span(*u.arg, step, default_step); }
    TimeSpan operator()(const Call& c) const {
      TimeSpan out;
      for (const auto& a : c.args) out = widest(out, time_span(*a, step, default_step));
      return out;
    }
    TimeSpan operator()(const Paren& p) const { return time_span(*p.inner, step, default_step); }
    TimeSpan operator()(const Subquery& s) const {
      // The inner points lie in (t − offset − range, t − offset].
      const std::int64_t inner_step = s.step_ms > 0 ? s.step_ms : default_step;
      TimeSpan out =
          shifted(time_span(*s.inner, inner_step, default_step), s.offset_ms, s.range_ms);
      out.pinned = out.pinned || s.at.has_value();
      return out;
    }
  };
  return std::visit(Visitor{step_ms, default_subquery_step_ms}, e.node);
}

}  // namespace edgesketch::query
