// Recursive-descent parser of PromQL with Prometheus' precedence, associativity, modifiers and
// type checks (Prometheus 2.42's grammar; error texts as its parser writes them).
#include "edgesketch/query/promql_parser.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "edgesketch/query/series_source.h"
#include "promql_lexer.h"

namespace edgesketch::query {
namespace {

// Aggregation keywords are case-insensitive, as all of Prometheus' keywords.
std::optional<AggregateOp> aggregate_op(std::string_view name) {
  static constexpr std::pair<std::string_view, AggregateOp> kOps[] = {
      {"sum", AggregateOp::kSum},           {"min", AggregateOp::kMin},
      {"max", AggregateOp::kMax},           {"avg", AggregateOp::kAvg},
      {"count", AggregateOp::kCount},       {"group", AggregateOp::kGroup},
      {"stddev", AggregateOp::kStddev},     {"stdvar", AggregateOp::kStdvar},
      {"topk", AggregateOp::kTopk},         {"bottomk", AggregateOp::kBottomk},
      {"quantile", AggregateOp::kQuantile}, {"count_values", AggregateOp::kCountValues},
  };
  for (const auto& [text, op] : kOps) {
    if (iequals(name, text)) return op;
  }
  return std::nullopt;
}

// Functions of Prometheus 2.42 that edgesketch does not implement, for a clearer error.
constexpr std::string_view kUnsupportedFunctions[] = {
    "acos",          "acosh",  "asin",   "asinh",        "atan",         "atanh",
    "changes",       "cos",    "cosh",   "day_of_month", "day_of_week",  "day_of_year",
    "days_in_month", "deg",    "delta",  "deriv",        "holt_winters", "hour",
    "idelta",        "irate",  "minute", "month",        "pi",           "predict_linear",
    "rad",           "resets", "sin",    "sinh",         "tan",          "tanh",
    "year"};

// Binary operator precedence, lowest first (Prometheus: or < and, unless < comparisons < + - <
// * / % < ^).
constexpr int kPowPrecedence = 6;
int precedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return 1;
    case BinaryOp::kAnd:
    case BinaryOp::kUnless:
      return 2;
    case BinaryOp::kEq:
    case BinaryOp::kNe:
    case BinaryOp::kGt:
    case BinaryOp::kLt:
    case BinaryOp::kGe:
    case BinaryOp::kLe:
      return 3;
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      return 4;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod:
      return 5;
    case BinaryOp::kPow:
      return kPowPrecedence;
  }
  return 0;
}

// Go's ValueType.String(), which one of Prometheus' messages prints instead of the documented
// name.
std::string_view go_type_name(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kString:
      return "string";
  }
  return "none";
}

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input), lexer_(input) {}

  Result<ExprPtr> parse_query() {
    ES_RETURN_IF_ERROR(advance());
    if (cur_.kind == TokenKind::kEof) return fail(0, "no expression found in input");
    ES_ASSIGN_OR_RETURN(ExprPtr e, parse_expr(0));
    if (cur_.kind != TokenKind::kEof) return unexpected("");
    return e;
  }

  Result<VectorSelector> parse_selector_only() {
    ES_RETURN_IF_ERROR(advance());
    if (cur_.kind == TokenKind::kEof) return fail(0, "no expression found in input");
    ES_ASSIGN_OR_RETURN(ExprPtr e, parse_primary());
    if (cur_.kind != TokenKind::kEof) return unexpected("");
    auto* sel = std::get_if<VectorSelector>(&e->node);
    if (sel == nullptr) {
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
  // A keyword (case-insensitive, as Prometheus' lexer reads them).
  bool at_keyword(std::string_view kw) const {
    return cur_.kind == TokenKind::kIdentifier && iequals(cur_.text, kw);
  }
  // A keyword that can never be a metric name (Prometheus' grammar takes `sum`, `by`, `offset`,
  // `and`, `start`, … as metric names where an expression may start, but not these).
  bool at_reserved_keyword() const {
    for (std::string_view kw : {"bool", "on", "ignoring", "group_left", "group_right", "atan2"}) {
      if (at_keyword(kw)) return true;
    }
    return false;
  }
  // Whether the current token may start an expression.
  bool at_expression_start() const {
    switch (cur_.kind) {
      case TokenKind::kIdentifier:
        return !at_reserved_keyword();
      case TokenKind::kNumber:
      case TokenKind::kString:
      case TokenKind::kLeftParen:
      case TokenKind::kLeftBrace:
      case TokenKind::kAdd:
      case TokenKind::kSub:
        return true;
      default:
        return false;
    }
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

  // The binary operator the current token is, if any.
  std::optional<BinaryOp> binary_op() const {
    switch (cur_.kind) {
      case TokenKind::kAdd:
        return BinaryOp::kAdd;
      case TokenKind::kSub:
        return BinaryOp::kSub;
      case TokenKind::kMul:
        return BinaryOp::kMul;
      case TokenKind::kDiv:
        return BinaryOp::kDiv;
      case TokenKind::kMod:
        return BinaryOp::kMod;
      case TokenKind::kPow:
        return BinaryOp::kPow;
      case TokenKind::kEqlc:
        return BinaryOp::kEq;
      case TokenKind::kNotEqual:
        return BinaryOp::kNe;
      case TokenKind::kGtr:
        return BinaryOp::kGt;
      case TokenKind::kLss:
        return BinaryOp::kLt;
      case TokenKind::kGte:
        return BinaryOp::kGe;
      case TokenKind::kLte:
        return BinaryOp::kLe;
      case TokenKind::kIdentifier:
        if (at_keyword("and")) return BinaryOp::kAnd;
        if (at_keyword("or")) return BinaryOp::kOr;
        if (at_keyword("unless")) return BinaryOp::kUnless;
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }

  // Precedence climbing: operators binding at least as tightly as `min_prec`.
  Result<ExprPtr> parse_expr(int min_prec) {
    ES_ASSIGN_OR_RETURN(ExprPtr lhs, parse_unary());
    while (true) {
      const auto op = binary_op();
      if (!op || precedence(*op) < min_prec) break;
      ES_ASSIGN_OR_RETURN(lhs, parse_binary_rhs(std::move(lhs), *op));
    }
    return lhs;
  }

  // A unary operator binds like `*` (Prometheus' `%prec MUL`): its operand stops before any
  // operator but `^`, so `-a ^ b` is `-(a ^ b)` and `-a * b` is `(-a) * b`.
  Result<ExprPtr> parse_unary() {
    if (cur_.kind != TokenKind::kSub && cur_.kind != TokenKind::kAdd) return parse_postfix();
    const std::size_t pos = cur_.pos;
    const bool negate = cur_.kind == TokenKind::kSub;
    ES_RETURN_IF_ERROR(enter(pos));
    ES_RETURN_IF_ERROR(advance());
    ES_ASSIGN_OR_RETURN(ExprPtr arg, parse_expr(kPowPrecedence));
    --depth_;
    if (arg->type != ValueType::kScalar && arg->type != ValueType::kVector) {
      return fail(pos, fmt::format("unary expression only allowed on expressions of type scalar or "
                                   "instant vector, got \"{}\"",
                                   value_type_name(arg->type)));
    }
    if (auto* num = std::get_if<NumberLiteral>(&arg->node)) {
      if (negate) num->value = -num->value;
      arg->pos = pos;
      return arg;
    }
    const ValueType type = arg->type;
    return make(pos, type, Unary{negate, std::move(arg)});
  }

  // After `lhs` with the operator token current: modifiers, the right operand, type checks.
  Result<ExprPtr> parse_binary_rhs(ExprPtr lhs, BinaryOp op) {
    const std::size_t op_pos = cur_.pos;
    ES_RETURN_IF_ERROR(enter(op_pos));
    ES_RETURN_IF_ERROR(advance());
    Binary b;
    b.op = op;
    if (at_keyword("bool")) {
      b.return_bool = true;
      ES_RETURN_IF_ERROR(advance());
    }
    if (at_keyword("on") || at_keyword("ignoring")) {
      b.on = at_keyword("on");
      ES_RETURN_IF_ERROR(advance());
      ES_ASSIGN_OR_RETURN(b.matching_labels, parse_label_list());
      if (at_keyword("group_left") || at_keyword("group_right")) {
        b.card = at_keyword("group_left") ? MatchCard::kManyToOne : MatchCard::kOneToMany;
        ES_RETURN_IF_ERROR(advance());
        if (cur_.kind == TokenKind::kLeftParen) {
          ES_ASSIGN_OR_RETURN(b.include, parse_label_list());
        } else if (!at_expression_start()) {
          return unexpected("grouping opts", "\"(\"");
        }
      }
    }
    // `^` is right-associative, the others left-associative.
    const int prec = precedence(op);
    ES_ASSIGN_OR_RETURN(ExprPtr rhs, parse_expr(op == BinaryOp::kPow ? prec : prec + 1));
    --depth_;
    const ValueType lt = lhs->type;
    const ValueType rt = rhs->type;
    // The checks of Prometheus' checkAST, in its order.
    if (b.return_bool && !is_comparison(op)) {
      return fail(op_pos, "bool modifier can only be used on comparison operators");
    }
    if (is_comparison(op) && !b.return_bool && lt == ValueType::kScalar &&
        rt == ValueType::kScalar) {
      return fail(op_pos, "comparisons between scalars must use BOOL modifier");
    }
    if (is_set_operator(op) && b.card == MatchCard::kOneToOne) b.card = MatchCard::kManyToMany;
    if (b.on) {
      for (const auto& l : b.matching_labels) {
        if (std::binary_search(b.include.begin(), b.include.end(), l)) {
          return fail(op_pos,
                      fmt::format("label \"{}\" must not occur in ON and GROUP clause at once", l));
        }
      }
    }
    if (lt != ValueType::kScalar && lt != ValueType::kVector) {
      return fail(lhs->pos, "binary expression must contain only scalar and instant vector types");
    }
    if (rt != ValueType::kScalar && rt != ValueType::kVector) {
      return fail(rhs->pos, "binary expression must contain only scalar and instant vector types");
    }
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!b.matching_labels.empty()) {
        return fail(lhs->pos, "vector matching only allowed between instant vectors");
      }
      if (is_set_operator(op)) {
        return fail(lhs->pos,
                    fmt::format("set operator \"{}\" not allowed in binary scalar expression",
                                binary_op_string(op)));
      }
      // Prometheus drops the (empty) vector matching of scalar operations.
      b.on = false;
      b.card = MatchCard::kOneToOne;
      b.include.clear();
    } else if (is_set_operator(op) && b.card != MatchCard::kManyToMany) {
      return fail(lhs->pos,
                  fmt::format("no grouping allowed for \"{}\" operation", binary_op_string(op)));
    }
    const ValueType type = lt == ValueType::kScalar && rt == ValueType::kScalar
                               ? ValueType::kScalar
                               : ValueType::kVector;
    const std::size_t pos = lhs->pos;
    b.lhs = std::move(lhs);
    b.rhs = std::move(rhs);
    return make(pos, type, std::move(b));
  }

  // The value of a duration token, which must not be zero.
  Result<std::int64_t> duration(const Token& t) {
    auto ms = parse_duration_ms(t.text);
    if (!ms.ok()) return fail(t.pos, ms.status().message());
    if (*ms == 0) return fail(t.pos, "duration must be greater than 0");
    return *ms;
  }

  // Postfix modifiers bind tighter than any operator: `[range]`, `[range:step]`, `offset`, `@`.
  Result<ExprPtr> parse_postfix() {
    ES_ASSIGN_OR_RETURN(ExprPtr e, parse_primary());
    while (true) {
      if (cur_.kind == TokenKind::kLeftBracket) {
        ES_ASSIGN_OR_RETURN(e, parse_range_or_subquery(std::move(e)));
      } else if (at_keyword("offset")) {
        ES_RETURN_IF_ERROR(parse_offset(*e));
      } else if (cur_.kind == TokenKind::kAt) {
        ES_RETURN_IF_ERROR(parse_at(*e));
      } else {
        return e;
      }
    }
  }

  // `[range]` or `[range:step]` after `e`; the current token is `[`, after which the lexer reads a
  // duration (or fails).
  Result<ExprPtr> parse_range_or_subquery(ExprPtr e) {
    const std::size_t bracket_pos = cur_.pos;
    ES_RETURN_IF_ERROR(advance());
    ES_ASSIGN_OR_RETURN(const std::int64_t range, duration(cur_));
    ES_RETURN_IF_ERROR(advance());
    if (cur_.kind == TokenKind::kColon) {
      Subquery sq;
      sq.range_ms = range;
      ES_RETURN_IF_ERROR(advance());
      if (cur_.kind == TokenKind::kDuration) {
        ES_ASSIGN_OR_RETURN(sq.step_ms, duration(cur_));
        ES_RETURN_IF_ERROR(advance());
        if (cur_.kind != TokenKind::kRightBracket) return unexpected("subquery selector", "\"]\"");
      } else if (cur_.kind != TokenKind::kRightBracket) {
        return unexpected("subquery selector", "duration or \"]\"");
      }
      ES_RETURN_IF_ERROR(advance());
      if (e->type != ValueType::kVector) {
        return fail(e->pos,
                    fmt::format("subquery is only allowed on instant vector, got {} instead",
                                go_type_name(e->type)));
      }
      const std::size_t pos = e->pos;
      sq.inner = std::move(e);
      return make(pos, ValueType::kMatrix, std::move(sq));
    }
    if (cur_.kind != TokenKind::kRightBracket) {
      return unexpected("subquery or range", "\":\" or \"]\"");
    }
    auto* sel = std::get_if<VectorSelector>(&e->node);
    if (sel == nullptr || sel->range_ms) {
      return fail(bracket_pos, "ranges only allowed for vector selectors");
    }
    if (sel->offset_ms != 0) return fail(bracket_pos, "no offset modifiers allowed before range");
    if (sel->at) return fail(bracket_pos, "no @ modifiers allowed before range");
    sel->range_ms = range;
    ES_RETURN_IF_ERROR(advance());
    return e;
  }

  // The offset and @ of a selector or subquery; nullptr for other expressions.
  static std::pair<std::int64_t*, std::optional<AtModifier>*> modifiers_of(Expr& e) {
    if (auto* s = std::get_if<VectorSelector>(&e.node)) return {&s->offset_ms, &s->at};
    if (auto* s = std::get_if<Subquery>(&e.node)) return {&s->offset_ms, &s->at};
    return {nullptr, nullptr};
  }

  // `offset [-]duration`; the current token is `offset`. The syntax is checked before what
  // precedes it, as Prometheus' grammar reduces the modifier first.
  Status parse_offset(Expr& e) {
    ES_RETURN_IF_ERROR(advance());
    const bool negative = cur_.kind == TokenKind::kSub;
    if (negative) ES_RETURN_IF_ERROR(advance());
    if (cur_.kind != TokenKind::kDuration) return unexpected("offset", "duration");
    ES_ASSIGN_OR_RETURN(const std::int64_t ms, duration(cur_));
    auto [offset, at] = modifiers_of(e);
    if (offset == nullptr) {
      return fail(e.pos,
                  "offset modifier must be preceded by an instant vector selector or range vector "
                  "selector or a subquery");
    }
    if (*offset != 0) return fail(e.pos, "offset may not be set multiple times");
    *offset = negative ? -ms : ms;
    return advance();
  }

  // `@ timestamp`, `@ start()`, `@ end()`; the current token is `@`. Any syntax error after `@`
  // is "expected timestamp" (Prometheus' grammar has one error rule there).
  Status parse_at(Expr& e) {
    ES_RETURN_IF_ERROR(advance());
    AtModifier m;
    if (at_keyword("start") || at_keyword("end")) {
      m.kind = at_keyword("start") ? AtModifier::Kind::kStart : AtModifier::Kind::kEnd;
      ES_RETURN_IF_ERROR(advance());
      if (cur_.kind != TokenKind::kLeftParen) return unexpected("@", "timestamp");
      ES_RETURN_IF_ERROR(advance());
      if (cur_.kind != TokenKind::kRightParen) return unexpected("@", "timestamp");
    } else {
      double sign = 1;
      if (cur_.kind == TokenKind::kAdd || cur_.kind == TokenKind::kSub) {
        sign = cur_.kind == TokenKind::kSub ? -1 : 1;
        ES_RETURN_IF_ERROR(advance());
      }
      if (cur_.kind != TokenKind::kNumber) return unexpected("@", "timestamp");
      const double ts = sign * cur_.number;
      // The engine's time range (Prometheus' own bound is the int64 range of seconds).
      constexpr double kLimit = static_cast<double>(kMaxTimeMs) / 1000;
      if (!std::isfinite(ts) || ts >= kLimit || ts <= -kLimit) {
        return fail(e.pos, fmt::format("timestamp out of bounds for @ modifier: {}",
                                       std::isnan(ts)   ? std::string("NaN")
                                       : std::isinf(ts) ? std::string(ts > 0 ? "+Inf" : "-Inf")
                                                        : fmt::format("{:f}", ts)));
      }
      m.kind = AtModifier::Kind::kTimestamp;
      m.t_ms = static_cast<std::int64_t>(std::round(ts * 1000));
    }
    auto [offset, at] = modifiers_of(e);
    if (at == nullptr) {
      return fail(e.pos,
                  "@ modifier must be preceded by an instant vector selector or range vector "
                  "selector or a subquery");
    }
    if (at->has_value()) return fail(e.pos, "@ <timestamp> may not be set multiple times");
    *at = m;
    return advance();
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
        ES_ASSIGN_OR_RETURN(ExprPtr inner, parse_expr(0));
        if (cur_.kind != TokenKind::kRightParen) return unexpected("");
        ES_RETURN_IF_ERROR(advance());
        --depth_;
        const ValueType type = inner->type;
        return make(pos, type, Paren{std::move(inner)});
      }
      case TokenKind::kLeftBrace:
        return parse_selector("", pos);
      case TokenKind::kIdentifier:
        if (at_reserved_keyword()) return unexpected("");
        break;
      default:
        return unexpected("");
    }
    const std::string name(cur_.text);
    ES_RETURN_IF_ERROR(advance());
    // An aggregation keyword not followed by its arguments or grouping, and start/end, are
    // metric names to Prometheus' grammar.
    if (auto op = aggregate_op(name);
        op && (cur_.kind == TokenKind::kLeftParen || at_keyword("by") || at_keyword("without"))) {
      return parse_aggregate(*op, pos);
    }
    if (cur_.kind == TokenKind::kLeftParen && !iequals(name, "start") && !iequals(name, "end")) {
      const FunctionInfo* info = find_function(name);
      if (info == nullptr) {
        for (auto f : kUnsupportedFunctions) {
          if (name == f) {
            return fail(pos, fmt::format("function \"{}\" is not supported by edgesketch (see "
                                         "docs/query.md for the functions it implements)",
                                         name));
          }
        }
        return fail(pos, fmt::format("unknown function with name \"{}\"", name));
      }
      return parse_call(*info, pos);
    }
    return parse_selector(name, pos);
  }

  // `(a, b, …)` of on/ignoring/group_left/group_right/by/without: sorted, unique.
  Result<std::vector<std::string>> parse_label_list() {
    if (cur_.kind != TokenKind::kLeftParen) return unexpected("grouping opts", "\"(\"");
    ES_RETURN_IF_ERROR(advance());
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

  // `(arg, arg, …)` of a call or aggregation; the current token is `(`. Prometheus names the
  // aggregation in a syntax error among its arguments, and no context for a call.
  Result<std::vector<ExprPtr>> parse_args(std::string_view context) {
    ES_RETURN_IF_ERROR(advance());  // '('
    std::vector<ExprPtr> args;
    while (cur_.kind != TokenKind::kRightParen) {
      ES_ASSIGN_OR_RETURN(ExprPtr arg, parse_expr(0));
      args.push_back(std::move(arg));
      if (cur_.kind == TokenKind::kComma) {
        const std::size_t comma = cur_.pos;
        ES_RETURN_IF_ERROR(advance());
        if (cur_.kind == TokenKind::kRightParen) {
          return fail(comma, "trailing commas not allowed in function call args");
        }
      } else if (cur_.kind != TokenKind::kRightParen) {
        return unexpected(context);
      }
    }
    ES_RETURN_IF_ERROR(advance());
    return args;
  }

  Result<ExprPtr> parse_aggregate(AggregateOp op, std::size_t pos) {
    ES_RETURN_IF_ERROR(enter(pos));
    Aggregate agg;
    agg.op = op;
    bool grouped = false;
    auto parse_grouping = [&]() -> Status {
      agg.without = at_keyword("without");
      ES_RETURN_IF_ERROR(advance());
      auto labels = parse_label_list();
      if (!labels.ok()) return labels.status();
      agg.grouping = std::move(labels).value();
      grouped = true;
      return Status();
    };
    if (at_keyword("by") || at_keyword("without")) ES_RETURN_IF_ERROR(parse_grouping());
    if (cur_.kind != TokenKind::kLeftParen) return unexpected("aggregation");
    ES_ASSIGN_OR_RETURN(auto args, parse_args("aggregation"));
    if (at_keyword("by") || at_keyword("without")) {
      if (grouped) return unexpected("");
      ES_RETURN_IF_ERROR(parse_grouping());
    }
    --depth_;
    if (args.empty()) return fail(pos, "no arguments for aggregate expression provided");
    const std::size_t want = aggregate_has_param(op) ? 2 : 1;
    if (args.size() != want) {
      return fail(pos, fmt::format("wrong number of arguments for aggregate expression provided, "
                                   "expected {}, got {}",
                                   want, args.size()));
    }
    agg.arg = std::move(args.back());
    if (want == 2) agg.param = std::move(args.front());
    if (agg.arg->type != ValueType::kVector) {
      return fail(agg.arg->pos,
                  fmt::format("expected type instant vector in aggregation expression, got {}",
                              value_type_name(agg.arg->type)));
    }
    if (agg.param) {
      const ValueType param_type =
          op == AggregateOp::kCountValues ? ValueType::kString : ValueType::kScalar;
      if (agg.param->type != param_type) {
        return fail(agg.param->pos,
                    fmt::format("expected type {} in aggregation parameter, got {}",
                                value_type_name(param_type), value_type_name(agg.param->type)));
      }
    }
    return make(pos, ValueType::kVector, std::move(agg));
  }

  Result<ExprPtr> parse_call(const FunctionInfo& info, std::size_t pos) {
    ES_RETURN_IF_ERROR(enter(pos));
    Call call;
    call.func = info.func;
    ES_ASSIGN_OR_RETURN(call.args, parse_args(""));
    --depth_;
    const std::size_t nargs = info.args.size();
    const std::size_t got = call.args.size();
    if (info.variadic == 0) {
      if (got != nargs) {
        return fail(pos, fmt::format("expected {} argument(s) in call to \"{}\", got {}", nargs,
                                     info.name, got));
      }
    } else {
      const std::size_t at_least = nargs - 1;
      if (got < at_least) {
        return fail(pos, fmt::format("expected at least {} argument(s) in call to \"{}\", got {}",
                                     at_least, info.name, got));
      }
      if (info.variadic > 0 && got > at_least + static_cast<std::size_t>(info.variadic)) {
        return fail(
            pos, fmt::format("expected at most {} argument(s) in call to \"{}\", got {}",
                             at_least + static_cast<std::size_t>(info.variadic), info.name, got));
      }
    }
    for (std::size_t i = 0; i < got; ++i) {
      const ValueType want = info.args[std::min(i, nargs - 1)];
      const Expr& arg = *call.args[i];
      // A selector with a range is the range vector of a range function (and an instant vector,
      // its merge, elsewhere).
      const bool ok =
          arg.type == want || (want == ValueType::kMatrix && range_selector(arg) != nullptr);
      if (!ok) {
        return fail(arg.pos,
                    fmt::format("expected type {} in call to function \"{}\", got {}",
                                value_type_name(want), info.name, value_type_name(arg.type)));
      }
    }
    return make(pos, info.result, std::move(call));
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
          return unexpected("label matching", "identifier or \"}\"");
        }
        const std::size_t name_pos = cur_.pos;
        std::string name(cur_.text);
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
          return fail(pos, fmt::format("metric name must not be set twice: \"{}\" or \"{}\"",
                                       metric, cur_.value));
        }
        auto m = LabelMatcher::make(std::move(name), op, std::move(cur_.value));
        if (!m.ok()) return fail(name_pos, m.status().message());
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
      return unexpected("");
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
  // Prometheus' durations are Go time.Durations: nanoseconds in an int64, about 292 years.
  constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max() / 1'000'000;
  std::int64_t total = 0;
  bool out_of_range = false;
  std::size_t p = 0;
  int last_unit = -1;
  while (p < text.size()) {
    std::int64_t n = 0;
    const std::size_t digits = p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (n > kMaxMs) {
        out_of_range = true;  // keep reading: a syntax error still wins
      } else {
        n = n * 10 + (text[p] - '0');
      }
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
    if (n > kMaxMs / kUnits[idx].ms) {
      out_of_range = true;
    } else {
      total += n * kUnits[idx].ms;
      if (total > kMaxMs) out_of_range = true;
    }
  }
  if (out_of_range) return Status::invalid_argument("duration out of range");
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
