// Recursive-descent parser of the PromQL subset, with Prometheus' precedence and type checks.
#include "edgesketch/query/promql_parser.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "edgesketch/query/series_source.h"
#include "promql_lexer.h"

namespace edgesketch::query {
namespace {

constexpr std::string_view kUnsupportedAggregations[] = {
    "topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "group", "limitk"};

std::optional<AggregateOp> aggregate_op(std::string_view name) {
  if (name == "sum") return AggregateOp::kSum;
  if (name == "min") return AggregateOp::kMin;
  if (name == "max") return AggregateOp::kMax;
  if (name == "avg") return AggregateOp::kAvg;
  if (name == "count") return AggregateOp::kCount;
  return std::nullopt;
}

std::optional<Function> function_by_name(std::string_view name) {
  if (name == "histogram_quantile") return Function::kHistogramQuantile;
  if (name == "distinct_count") return Function::kDistinctCount;
  if (name == "topk_items") return Function::kTopkItems;
  return std::nullopt;
}

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input), lexer_(input) {}

  Result<ExprPtr> parse_query() {
    ES_RETURN_IF_ERROR(advance());
    if (cur_.kind == TokenKind::kEof) return fail(0, "no expression found in input");
    ES_ASSIGN_OR_RETURN(ExprPtr e, parse_add());
    if (cur_.kind != TokenKind::kEof) return unexpected("");
    return e;
  }

  Result<VectorSelector> parse_selector_only() {
    ES_RETURN_IF_ERROR(advance());
    if (cur_.kind == TokenKind::kEof) return fail(0, "no expression found in input");
    ES_ASSIGN_OR_RETURN(ExprPtr e, parse_postfix());
    if (cur_.kind != TokenKind::kEof) return unexpected("");
    auto* sel = std::get_if<VectorSelector>(&e->node);
    if (sel == nullptr || sel->range_ms) {
      return fail(e->pos, "expected a series selector like metric{label=\"value\"}");
    }
    return std::move(*sel);
  }

 private:
  // Formats "line:col: parse error: message" for a byte offset.
  Status fail(std::size_t pos, std::string_view message) const {
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < pos && i < input_.size(); ++i) {
      if (input_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return Status::invalid_argument(
        fmt::format("{}:{}: parse error: {}", line, pos - line_start + 1, message));
  }
  Status unexpected(std::string_view context, std::string_view expected = "") const {
    std::string m = fmt::format("unexpected {}", describe_token(cur_));
    if (!context.empty()) m += fmt::format(" in {}", context);
    if (!expected.empty()) m += fmt::format(", expected {}", expected);
    return fail(cur_.pos, m);
  }

  Status advance() {
    auto t = lexer_.next();
    if (!t.ok()) return fail(lexer_.error_pos(), t.status().message());
    cur_ = std::move(t).value();
    return Status();
  }
  Status expect(TokenKind kind, std::string_view context, std::string_view what) {
    if (cur_.kind != kind) return unexpected(context, what);
    return advance();
  }
  bool at_identifier(std::string_view name) const {
    return cur_.kind == TokenKind::kIdentifier && cur_.text == name;
  }

  Status enter(std::size_t pos) {
    if (++depth_ > kMaxParseDepth) {
      return fail(pos,
                  fmt::format("expression is nested more than {} levels deep", kMaxParseDepth));
    }
    return Status();
  }

  static ExprPtr make(std::size_t pos, ValueType type, auto node) {
    auto e = std::make_unique<Expr>();
    e->node = std::move(node);
    e->pos = pos;
    e->type = type;
    return e;
  }

  Result<ExprPtr> parse_add() {
    ES_ASSIGN_OR_RETURN(ExprPtr lhs, parse_mul());
    while (cur_.kind == TokenKind::kAdd || cur_.kind == TokenKind::kSub ||
           cur_.kind == TokenKind::kComparison || at_identifier("and") || at_identifier("or") ||
           at_identifier("unless")) {
      if (cur_.kind == TokenKind::kComparison || cur_.kind == TokenKind::kIdentifier) {
        return fail(cur_.pos, fmt::format("operator \"{}\" is not supported; supported binary "
                                          "operators: + - * / % ^",
                                          cur_.text));
      }
      const BinaryOp op = cur_.kind == TokenKind::kAdd ? BinaryOp::kAdd : BinaryOp::kSub;
      ES_ASSIGN_OR_RETURN(lhs, parse_binary_rhs(std::move(lhs), op, &Parser::parse_mul));
    }
    return lhs;
  }

  Result<ExprPtr> parse_mul() {
    ES_ASSIGN_OR_RETURN(ExprPtr lhs, parse_unary());
    while (cur_.kind == TokenKind::kMul || cur_.kind == TokenKind::kDiv ||
           cur_.kind == TokenKind::kMod) {
      const BinaryOp op = cur_.kind == TokenKind::kMul   ? BinaryOp::kMul
                          : cur_.kind == TokenKind::kDiv ? BinaryOp::kDiv
                                                         : BinaryOp::kMod;
      ES_ASSIGN_OR_RETURN(lhs, parse_binary_rhs(std::move(lhs), op, &Parser::parse_unary));
    }
    return lhs;
  }

  Result<ExprPtr> parse_unary() {
    if (cur_.kind == TokenKind::kSub || cur_.kind == TokenKind::kAdd) {
      const std::size_t pos = cur_.pos;
      const bool negate = cur_.kind == TokenKind::kSub;
      ES_RETURN_IF_ERROR(enter(pos));
      ES_RETURN_IF_ERROR(advance());
      ES_ASSIGN_OR_RETURN(ExprPtr arg, parse_unary());
      --depth_;
      if (arg->type == ValueType::kString) {
        return fail(pos,
                    "unary expression only allowed on expressions of type scalar or "
                    "instant vector, got \"string\"");
      }
      if (auto* num = std::get_if<NumberLiteral>(&arg->node)) {
        if (negate) num->value = -num->value;
        arg->pos = pos;
        return arg;
      }
      const ValueType type = arg->type;
      return make(pos, type, Unary{negate, std::move(arg)});
    }
    return parse_pow();
  }

  Result<ExprPtr> parse_pow() {
    ES_ASSIGN_OR_RETURN(ExprPtr base, parse_postfix());
    if (cur_.kind == TokenKind::kPow) {
      return parse_binary_rhs(std::move(base), BinaryOp::kPow, &Parser::parse_unary);
    }
    return base;
  }

  // After `lhs` with the operator token current: modifiers, the right operand, type checks.
  Result<ExprPtr> parse_binary_rhs(ExprPtr lhs, BinaryOp op, Result<ExprPtr> (Parser::*rhs_fn)()) {
    const std::size_t op_pos = cur_.pos;
    ES_RETURN_IF_ERROR(enter(op_pos));
    ES_RETURN_IF_ERROR(advance());
    Binary b;
    b.op = op;
    if (at_identifier("bool")) {
      return fail(cur_.pos,
                  "the bool modifier is only allowed for comparisons, which are not "
                  "supported");
    }
    bool has_matching = false;
    if (at_identifier("on") || at_identifier("ignoring")) {
      has_matching = true;
      b.on = cur_.text == "on";
      ES_RETURN_IF_ERROR(advance());
      ES_ASSIGN_OR_RETURN(b.matching_labels, parse_label_list("vector matching"));
      if (at_identifier("group_left") || at_identifier("group_right")) {
        return fail(cur_.pos, fmt::format("{} is not supported: only one-to-one vector matching is",
                                          cur_.text));
      }
    }
    ES_ASSIGN_OR_RETURN(ExprPtr rhs, (this->*rhs_fn)());
    --depth_;
    if (lhs->type == ValueType::kString || rhs->type == ValueType::kString) {
      return fail(op_pos, "binary expression must contain only scalar and instant vector types");
    }
    if (has_matching && (lhs->type != ValueType::kVector || rhs->type != ValueType::kVector)) {
      return fail(op_pos, "vector matching only allowed between instant vectors");
    }
    const ValueType type = lhs->type == ValueType::kScalar && rhs->type == ValueType::kScalar
                               ? ValueType::kScalar
                               : ValueType::kVector;
    const std::size_t pos = lhs->pos;
    b.lhs = std::move(lhs);
    b.rhs = std::move(rhs);
    return make(pos, type, std::move(b));
  }

  Result<ExprPtr> parse_postfix() {
    ES_ASSIGN_OR_RETURN(ExprPtr e, parse_primary());
    if (cur_.kind == TokenKind::kLeftBracket) {
      auto* sel = std::get_if<VectorSelector>(&e->node);
      if (sel == nullptr) {
        return fail(cur_.pos, "ranges only allowed for vector selectors");
      }
      if (sel->range_ms) return fail(cur_.pos, "a selector can have only one range");
      const std::size_t dur_pos = cur_.pos + 1;
      auto text = lexer_.read_duration();
      if (!text.ok()) return fail(lexer_.error_pos(), text.status().message());
      auto ms = parse_duration_ms(*text);
      if (!ms.ok()) return fail(dur_pos, ms.status().message());
      if (*ms <= 0) return fail(dur_pos, "range must be positive");
      sel->range_ms = *ms;
      ES_RETURN_IF_ERROR(advance());
      if (cur_.kind == TokenKind::kColon) return fail(cur_.pos, "subqueries are not supported");
      ES_RETURN_IF_ERROR(expect(TokenKind::kRightBracket, "range selector", "\"]\""));
    }
    if (at_identifier("offset")) return fail(cur_.pos, "the offset modifier is not supported");
    if (cur_.kind == TokenKind::kAt) return fail(cur_.pos, "the @ modifier is not supported");
    if (cur_.kind == TokenKind::kLeftBracket) {
      return fail(cur_.pos, "ranges only allowed for vector selectors");
    }
    return e;
  }

  Result<ExprPtr> parse_primary() {
    const std::size_t pos = cur_.pos;
    switch (cur_.kind) {
      case TokenKind::kNumber: {
        const double v = cur_.number;
        ES_RETURN_IF_ERROR(advance());
        return make(pos, ValueType::kScalar, NumberLiteral{v});
      }
      case TokenKind::kString: {
        std::string v = std::move(cur_.value);
        ES_RETURN_IF_ERROR(advance());
        return make(pos, ValueType::kString, StringLiteral{std::move(v)});
      }
      case TokenKind::kLeftParen: {
        ES_RETURN_IF_ERROR(enter(pos));
        ES_RETURN_IF_ERROR(advance());
        ES_ASSIGN_OR_RETURN(ExprPtr inner, parse_add());
        ES_RETURN_IF_ERROR(expect(TokenKind::kRightParen, "paren expression", "\")\""));
        --depth_;
        const ValueType type = inner->type;
        return make(pos, type, Paren{std::move(inner)});
      }
      case TokenKind::kLeftBrace:
        return parse_selector("", pos);
      case TokenKind::kIdentifier:
        break;
      default:
        return unexpected("", "expression");
    }
    const std::string name(cur_.text);
    ES_RETURN_IF_ERROR(advance());
    if (auto op = aggregate_op(name)) return parse_aggregate(*op, pos);
    for (auto a : kUnsupportedAggregations) {
      if (name == a &&
          (cur_.kind == TokenKind::kLeftParen || at_identifier("by") || at_identifier("without"))) {
        return fail(pos, fmt::format("aggregation \"{}\" is not supported; supported: sum, min, "
                                     "max, avg, count",
                                     name));
      }
    }
    if (cur_.kind == TokenKind::kLeftParen) {
      auto func = function_by_name(name);
      if (!func) {
        return fail(pos, fmt::format("unknown function with name \"{}\" (supported: "
                                     "histogram_quantile, distinct_count, topk_items)",
                                     name));
      }
      return parse_call(*func, pos);
    }
    return parse_selector(name, pos);
  }

  Result<std::vector<std::string>> parse_label_list(std::string_view context) {
    ES_RETURN_IF_ERROR(expect(TokenKind::kLeftParen, context, "\"(\""));
    std::vector<std::string> labels;
    while (cur_.kind != TokenKind::kRightParen) {
      if (cur_.kind != TokenKind::kIdentifier || !is_valid_label_name(cur_.text)) {
        return unexpected("grouping opts", "label");
      }
      labels.emplace_back(cur_.text);
      ES_RETURN_IF_ERROR(advance());
      if (cur_.kind == TokenKind::kComma) {
        ES_RETURN_IF_ERROR(advance());
      } else if (cur_.kind != TokenKind::kRightParen) {
        return unexpected("grouping opts", "\",\" or \")\"");
      }
    }
    ES_RETURN_IF_ERROR(advance());
    std::sort(labels.begin(), labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    return labels;
  }

  Result<ExprPtr> parse_aggregate(AggregateOp op, std::size_t pos) {
    ES_RETURN_IF_ERROR(enter(pos));
    Aggregate agg;
    agg.op = op;
    bool grouped = false;
    auto parse_grouping = [&]() -> Status {
      agg.without = cur_.text == "without";
      ES_RETURN_IF_ERROR(advance());
      auto labels = parse_label_list("grouping opts");
      if (!labels.ok()) return labels.status();
      agg.grouping = std::move(labels).value();
      grouped = true;
      return Status();
    };
    if (at_identifier("by") || at_identifier("without")) ES_RETURN_IF_ERROR(parse_grouping());
    if (cur_.kind != TokenKind::kLeftParen) return unexpected("aggregation", "\"(\"");
    ES_RETURN_IF_ERROR(advance());
    if (cur_.kind == TokenKind::kRightParen) {
      return fail(cur_.pos, fmt::format("no arguments for aggregate expression provided"));
    }
    ES_ASSIGN_OR_RETURN(agg.arg, parse_add());
    if (cur_.kind == TokenKind::kComma) {
      return fail(cur_.pos, fmt::format("aggregation {} takes no parameter, only a vector",
                                        aggregate_op_name(op)));
    }
    ES_RETURN_IF_ERROR(expect(TokenKind::kRightParen, "aggregation", "\")\""));
    if (at_identifier("by") || at_identifier("without")) {
      if (grouped) return fail(cur_.pos, "aggregation has two grouping clauses");
      ES_RETURN_IF_ERROR(parse_grouping());
    }
    --depth_;
    if (agg.arg->type != ValueType::kVector) {
      return fail(agg.arg->pos,
                  fmt::format("expected type instant vector in aggregation expression, got {}",
                              value_type_name(agg.arg->type)));
    }
    return make(pos, ValueType::kVector, std::move(agg));
  }

  Result<ExprPtr> parse_call(Function func, std::size_t pos) {
    ES_RETURN_IF_ERROR(enter(pos));
    ES_RETURN_IF_ERROR(advance());  // '('
    Call call;
    call.func = func;
    while (cur_.kind != TokenKind::kRightParen) {
      ES_ASSIGN_OR_RETURN(ExprPtr arg, parse_add());
      call.args.push_back(std::move(arg));
      if (cur_.kind == TokenKind::kComma) {
        ES_RETURN_IF_ERROR(advance());
      } else if (cur_.kind != TokenKind::kRightParen) {
        return unexpected("function call", "\",\" or \")\"");
      }
    }
    ES_RETURN_IF_ERROR(advance());
    --depth_;
    std::vector<ValueType> want;
    switch (func) {
      case Function::kHistogramQuantile:
      case Function::kTopkItems:
        want = {ValueType::kScalar, ValueType::kVector};
        break;
      case Function::kDistinctCount:
        want = {ValueType::kVector};
        break;
    }
    if (call.args.size() != want.size()) {
      return fail(pos, fmt::format("expected {} argument(s) in call to \"{}\", got {}", want.size(),
                                   function_name(func), call.args.size()));
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (call.args[i]->type != want[i]) {
        return fail(call.args[i]->pos,
                    fmt::format("expected type {} in call to function \"{}\", got {}",
                                value_type_name(want[i]), function_name(func),
                                value_type_name(call.args[i]->type)));
      }
    }
    return make(pos, ValueType::kVector, std::move(call));
  }

  Result<ExprPtr> parse_selector(const std::string& metric, std::size_t pos) {
    VectorSelector sel;
    if (!metric.empty()) {
      ES_ASSIGN_OR_RETURN(
          auto m, LabelMatcher::make(std::string(kMetricNameLabel), MatchOp::kEqual, metric));
      sel.matchers.push_back(std::move(m));
    }
    if (cur_.kind == TokenKind::kLeftBrace) {
      ES_RETURN_IF_ERROR(advance());
      while (cur_.kind != TokenKind::kRightBrace) {
        if (cur_.kind != TokenKind::kIdentifier || !is_valid_label_name(cur_.text)) {
          return unexpected("label matching", "label matching, \"}\" or \",\"");
        }
        std::string name(cur_.text);
        const std::size_t name_pos = cur_.pos;
        ES_RETURN_IF_ERROR(advance());
        MatchOp op;
        switch (cur_.kind) {
          case TokenKind::kAssign:
            op = MatchOp::kEqual;
            break;
          case TokenKind::kNotEqual:
            op = MatchOp::kNotEqual;
            break;
          case TokenKind::kRegexMatch:
            op = MatchOp::kRegexMatch;
            break;
          case TokenKind::kRegexNoMatch:
            op = MatchOp::kRegexNoMatch;
            break;
          default:
            return unexpected("label matching", "label matching operator");
        }
        ES_RETURN_IF_ERROR(advance());
        if (cur_.kind != TokenKind::kString) return unexpected("label matching", "string");
        if (name == kMetricNameLabel && !metric.empty()) {
          return fail(name_pos, "metric name must not be set twice");
        }
        auto m = LabelMatcher::make(std::move(name), op, std::move(cur_.value));
        if (!m.ok()) return fail(cur_.pos, m.status().message());
        sel.matchers.push_back(std::move(m).value());
        ES_RETURN_IF_ERROR(advance());
        if (cur_.kind == TokenKind::kComma) {
          ES_RETURN_IF_ERROR(advance());
        } else if (cur_.kind != TokenKind::kRightBrace) {
          return unexpected("label matching", "\",\" or \"}\"");
        }
      }
      ES_RETURN_IF_ERROR(advance());
    } else if (metric.empty()) {
      return unexpected("", "expression");
    }
    const bool any_non_empty = std::any_of(sel.matchers.begin(), sel.matchers.end(),
                                           [](const LabelMatcher& m) { return !m.matches(""); });
    if (!any_non_empty) {
      return fail(pos, "vector selector must contain at least one non-empty matcher");
    }
    return make(pos, ValueType::kVector, std::move(sel));
  }

  std::string_view input_;
  Lexer lexer_;
  Token cur_;
  int depth_ = 0;
};

}  // namespace

Result<ExprPtr> parse_promql(std::string_view query) {
  if (query.size() > kMaxQueryBytes) {
    return Status::invalid_argument(fmt::format(
        "1:1: parse error: query is {} bytes long; the limit is {}", query.size(), kMaxQueryBytes));
  }
  return Parser(query).parse_query();
}

Result<VectorSelector> parse_series_selector(std::string_view selector) {
  if (selector.size() > kMaxQueryBytes) {
    return Status::invalid_argument("1:1: parse error: selector is too long");
  }
  return Parser(selector).parse_selector_only();
}

namespace {
struct DurationUnit {
  std::string_view name;
  std::int64_t ms;
};
constexpr DurationUnit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                                   {"w", 7LL * 24 * 3600 * 1000},
                                   {"d", 24LL * 3600 * 1000},
                                   {"h", 3600LL * 1000},
                                   {"m", 60LL * 1000},
                                   {"s", 1000},
                                   {"ms", 1}};
}  // namespace

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  auto bad = [&] {
    return Status::invalid_argument(fmt::format("not a valid duration string: \"{}\"", text));
  };
  if (text.empty()) return bad();
  if (text == "0") return std::int64_t{0};
  std::int64_t total = 0;
  std::size_t p = 0;
  int last_unit = -1;
  while (p < text.size()) {
    std::int64_t n = 0;
    const std::size_t digits = p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (n > (kMaxTimeMs / 10)) return bad();
      n = n * 10 + (text[p] - '0');
      ++p;
    }
    if (p == digits) return bad();
    const std::size_t unit_start = p;
    while (p < text.size() && !(text[p] >= '0' && text[p] <= '9')) ++p;
    const std::string_view unit = text.substr(unit_start, p - unit_start);
    int idx = -1;
    for (int i = 0; i < static_cast<int>(std::size(kUnits)); ++i) {
      if (kUnits[i].name == unit) idx = i;
    }
    if (idx <= last_unit) return bad();  // unknown, repeated or out of order
    last_unit = idx;
    if (n > kMaxTimeMs / kUnits[idx].ms) return bad();
    total += n * kUnits[idx].ms;
    if (total > kMaxTimeMs) return bad();
  }
  return total;
}

std::string format_duration_ms(std::int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const auto& u : kUnits) {
    if (ms >= u.ms) {
      out += fmt::format("{}{}", ms / u.ms, u.name);
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace edgesketch::query
