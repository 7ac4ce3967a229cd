// Names and canonical printing of PromQL AST nodes.
#include "edgesketch/query/promql_ast.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <tuple>

#include <fmt/format.h>

#include "edgesketch/query/promql_parser.h"

namespace edgesketch::query {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
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
  }
  return "?";
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
  }
  return "?";
}

std::string_view function_name(Function f) {
  switch (f) {
    case Function::kHistogramQuantile:
      return "histogram_quantile";
    case Function::kDistinctCount:
      return "distinct_count";
    case Function::kTopkItems:
      return "topk_items";
  }
  return "?";
}

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

bool is_plain_metric_name(std::string_view v) {
  if (!is_valid_metric_name(v)) return false;
  std::string lower(v);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view kw : {"sum", "min", "max", "avg", "count", "inf", "nan"}) {
    if (lower == kw) return false;
  }
  return true;
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
  return out;
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
      return out + "(" + to_string(*a.arg) + ")";
    }
    std::string operator()(const Binary& b) const {
      std::string out = to_string(*b.lhs) + " " + std::string(binary_op_string(b.op));
      if (b.on || !b.matching_labels.empty()) {
        out += b.on ? " on (" : " ignoring (";
        out += join(b.matching_labels) + ")";
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
  };
  return std::visit(Printer{}, e.node);
}

std::int64_t max_range_ms(const Expr& e) {
  struct Visitor {
    std::int64_t operator()(const NumberLiteral&) const { return 0; }
    std::int64_t operator()(const StringLiteral&) const { return 0; }
    std::int64_t operator()(const VectorSelector& s) const { return s.range_ms.value_or(0); }
    std::int64_t operator()(const Aggregate& a) const { return max_range_ms(*a.arg); }
    std::int64_t operator()(const Binary& b) const {
      return std::max(max_range_ms(*b.lhs), max_range_ms(*b.rhs));
    }
    std::int64_t operator()(const Unary& u) const { return max_range_ms(*u.arg); }
    std::int64_t operator()(const Call& c) const {
      std::int64_t m = 0;
      for (const auto& a : c.args) m = std::max(m, max_range_ms(*a));
      return m;
    }
    std::int64_t operator()(const Paren& p) const { return max_range_ms(*p.inner); }
  };
  return std::visit(Visitor{}, e.node);
}

}  // namespace edgesketch::query
