// Tests of the PromQL subset parser: accepted syntax, canonical printing, precedence, and
// Prometheus-style errors with positions.
#include <gtest/gtest.h>

#include <string>

#include "edgesketch/query/promql_parser.h"

namespace edgesketch::query {
namespace {

std::string canon(std::string_view q) {
  auto e = parse_promql(q);
  EXPECT_TRUE(e.ok()) << q << ": " << e.status().message();
  if (!e.ok()) return "<error>";
  return to_string(**e);
}

std::string error_of(std::string_view q) {
  auto e = parse_promql(q);
  EXPECT_FALSE(e.ok()) << q << " parsed as " << (e.ok() ? to_string(**e) : "");
  if (e.ok()) return "";
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  return e.status().message();
}

TEST(QueryParser, Literals) {
  EXPECT_EQ(canon("1"), "1");
  EXPECT_EQ(canon("1.5e3"), "1500");
  EXPECT_EQ(canon("0x1F"), "31");
  EXPECT_EQ(canon(".5"), "0.5");
  EXPECT_EQ(canon("Inf"), "Inf");
  EXPECT_EQ(canon("-inf"), "-Inf");
  EXPECT_EQ(canon("NaN"), "NaN");
  EXPECT_EQ(canon("\"a\\nb\""), "\"a\\nb\"");
  EXPECT_EQ(canon("'it\\'s'"), "\"it's\"");
  EXPECT_EQ(canon("`raw\\d`"), "\"raw\\\\d\"");
  EXPECT_EQ(canon("\"\\u00e9\""), "\"\xc3\xa9\"");
  // Bytes that are not UTF-8, and U+FFFD, print as escapes: the lexer refuses them raw.
  EXPECT_EQ(canon("\"\\u00e9\\x41\\202\""),
            "\"\xc3\xa9"
            "A\\x82\"");
  EXPECT_EQ(canon("\"\\ufffd\""), "\"\\ufffd\"");
  EXPECT_EQ(error_of("\"\xc3\""), "1:1: parse error: invalid UTF-8 rune");
}

TEST(QueryParser, Selectors) {
  EXPECT_EQ(canon("temperature_count"), "temperature_count");
  EXPECT_EQ(canon("m{site=\"a\", line!=\"2\", dev=~\"d.*\", x!~\"y|z\",}"),
            "m{dev=~\"d.*\", line!=\"2\", site=\"a\", x!~\"y|z\"}");
  EXPECT_EQ(canon("{__name__=~\"temp.*\"}"), "{__name__=~\"temp.*\"}");
  EXPECT_EQ(canon("{__name__=\"m\", site=\"a\"}"), "m{site=\"a\"}");
  EXPECT_EQ(canon("m[5m]"), "m[5m]");
  EXPECT_EQ(canon("m{a=\"b\"}[1h30m]"), "m{a=\"b\"}[1h30m]");
  EXPECT_EQ(canon("ns:metric_name"), "ns:metric_name");
  // Keywords may be label names.
  EXPECT_EQ(canon("m{by=\"x\", on=\"y\"}"), "m{by=\"x\", on=\"y\"}");
}

TEST(QueryParser, SelectorMatchersKeepOrderIndependentKey) {
  EXPECT_EQ(canon("m{b=\"1\",a=\"2\"}"), canon("m{a=\"2\", b=\"1\"}"));
}

TEST(QueryParser, Aggregations) {
  EXPECT_EQ(canon("sum(m_count)"), "sum(m_count)");
  EXPECT_EQ(canon("sum by (site, line) (m_count)"), "sum by (line, site) (m_count)");
  EXPECT_EQ(canon("sum(m_count) by (site)"), "sum by (site) (m_count)");
  EXPECT_EQ(canon("max without (device) (m_max)"), "max without (device) (m_max)");
  EXPECT_EQ(canon("avg(m_sum) without (device)"), "avg without (device) (m_sum)");
  EXPECT_EQ(canon("count by () (m_count)"), "count(m_count)");
  EXPECT_EQ(canon("min by (a,) (m_min)"), "min by (a) (m_min)");
}

TEST(QueryParser, BinaryPrecedence) {
  EXPECT_EQ(canon("1 + 2 * 3"), "1 + 2 * 3");
  auto e = parse_promql("1 + 2 * 3");
  ASSERT_TRUE(e.ok());
  const auto& b = std::get<Binary>((*e)->node);
  EXPECT_EQ(b.op, BinaryOp::kAdd);
  EXPECT_EQ(std::get<Binary>(b.rhs->node).op, BinaryOp::kMul);
  // Left associative: (1 - 2) - 3.
  auto l = parse_promql("1 - 2 - 3");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(std::holds_alternative<Binary>(std::get<Binary>((*l)->node).lhs->node));
  // Right associative ^, binding tighter than unary minus.
  auto p = parse_promql("2 ^ 3 ^ 2");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(std::holds_alternative<Binary>(std::get<Binary>((*p)->node).rhs->node));
  auto u = parse_promql("-m_count ^ 2");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(std::holds_alternative<Unary>((*u)->node));
  EXPECT_EQ(canon("(1 + 2) * 3"), "(1 + 2) * 3");
  EXPECT_EQ(canon("sum(a_sum) / on (site) sum(a_count)"), "sum(a_sum) / on (site) sum(a_count)");
  EXPECT_EQ(canon("a_sum / ignoring (x, device) a_count"), "a_sum / ignoring (device, x) a_count");
  EXPECT_EQ(canon("1+1"), "1 + 1");
  EXPECT_EQ(canon("-(1)"), "-(1)");
  EXPECT_EQ(canon("2 % 3"), "2 % 3");
}

TEST(QueryParser, Types) {
  auto v = parse_promql("1 + m_count");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->type, ValueType::kVector);
  auto s = parse_promql("(1 + 2) * 3");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->type, ValueType::kScalar);
  auto str = parse_promql("\"x\"");
  ASSERT_TRUE(str.ok());
  EXPECT_EQ((*str)->type, ValueType::kString);
}

TEST(QueryParser, Functions) {
  EXPECT_EQ(canon("histogram_quantile(0.99, sum by (site) (vibration))"),
            "histogram_quantile(0.99, sum by (site) (vibration))");
  EXPECT_EQ(canon("distinct_count(event)"), "distinct_count(event)");
  EXPECT_EQ(canon("distinct_count(sum by (site) (event[1h]))"),
            "distinct_count(sum by (site) (event[1h]))");
  EXPECT_EQ(canon("topk_items(5, event{site=\"s1\"})"), "topk_items(5, event{site=\"s1\"})");
}

TEST(QueryParser, ErrorsHavePositions) {
  EXPECT_EQ(error_of(""), "1:1: parse error: no expression found in input");
  EXPECT_EQ(error_of("m{a=}"),
            "1:5: parse error: unexpected \"}\" in label matching, expected string");
  EXPECT_EQ(error_of("m{a \"x\"}"),
            "1:5: parse error: unexpected string \"\\\"x\\\"\" in label matching, expected label "
            "matching operator");
  EXPECT_EQ(error_of("1 +"), "1:4: parse error: unexpected end of input");
  EXPECT_EQ(error_of("sum(m_count"), "1:12: parse error: unclosed left parenthesis");
  EXPECT_EQ(error_of("m_count\n  + )"), "2:6: parse error: unexpected right parenthesis ')'");
  EXPECT_EQ(error_of("{a=\"\"}"),
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
}

TEST(QueryParser, ErrorsExplainUnsupportedFunctions) {
  EXPECT_EQ(error_of("irate(m_count[5m])"),
            "1:1: parse error: function \"irate\" is not supported by edgesketch (see "
            "docs/query.md for the functions it implements)");
  EXPECT_EQ(error_of("foo(m)"), "1:1: parse error: unknown function with name \"foo\"");
  // A name that is not followed by "(" is a metric.
  EXPECT_EQ(canon("irate"), "irate");
}

// The kind of node at the top of a query, and of its operands, to check precedence.
BinaryOp top_op(std::string_view q) {
  auto e = parse_promql(q);
  EXPECT_TRUE(e.ok()) << q << ": " << e.status().message();
  if (!e.ok()) return BinaryOp::kAdd;
  const auto* b = std::get_if<Binary>(&(*e)->node);
  EXPECT_NE(b, nullptr) << q;
  return b == nullptr ? BinaryOp::kAdd : b->op;
}

TEST(QueryParser, ComparisonsAndSetOperators) {
  EXPECT_EQ(canon("m_count > 5"), "m_count > 5");
  EXPECT_EQ(canon("m_count>=bool 5"), "m_count >= bool 5");
  EXPECT_EQ(canon("1 == bool 2"), "1 == bool 2");
  EXPECT_EQ(canon("a != b"), "a != b");
  EXPECT_EQ(canon("a<b"), "a < b");
  EXPECT_EQ(canon("a <= on (x) b"), "a <= on (x) b");
  EXPECT_EQ(canon("a and b or c unless d"), "a and b or c unless d");
  // Keywords are case-insensitive.
  EXPECT_EQ(canon("a AND b OR c"), "a and b or c");
  EXPECT_EQ(canon("SUM BY (x) (m)"), "sum by (x) (m)");
  EXPECT_EQ(canon("a > BOOL b"), "a > bool b");
  // Types: a comparison of scalars with bool is a scalar.
  auto s = parse_promql("1 < bool 2");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->type, ValueType::kScalar);
  // Set operators are many-to-many.
  auto e = parse_promql("a and on (x) b");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<Binary>((*e)->node).card, MatchCard::kManyToMany);
}

TEST(QueryParser, PrometheusPrecedence) {
  // or < and, unless < comparisons < + - < * / % < ^; all left-associative but ^.
  EXPECT_EQ(top_op("a or b and c"), BinaryOp::kOr);
  EXPECT_EQ(top_op("a and b or c"), BinaryOp::kOr);
  EXPECT_EQ(top_op("a unless b and c"), BinaryOp::kAnd);  // (a unless b) and c
  EXPECT_EQ(top_op("a and b > c"), BinaryOp::kAnd);
  EXPECT_EQ(top_op("a > b + c"), BinaryOp::kGt);
  EXPECT_EQ(top_op("a + b > c"), BinaryOp::kGt);
  EXPECT_EQ(top_op("a == b == c"), BinaryOp::kEq);
  EXPECT_EQ(top_op("a + b * c"), BinaryOp::kAdd);
  EXPECT_EQ(top_op("a * b ^ c"), BinaryOp::kMul);
  auto left = parse_promql("a == b != c");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(std::get<Binary>(std::get<Binary>((*left)->node).lhs->node).op, BinaryOp::kEq);
  auto pow = parse_promql("a ^ b ^ c");
  ASSERT_TRUE(pow.ok());
  EXPECT_EQ(std::get<Binary>(std::get<Binary>((*pow)->node).rhs->node).op, BinaryOp::kPow);
  // Unary minus binds like *: -a ^ b is -(a ^ b), -a * b is (-a) * b.
  auto neg_pow = parse_promql("-a ^ b");
  ASSERT_TRUE(neg_pow.ok());
  EXPECT_TRUE(std::holds_alternative<Unary>((*neg_pow)->node));
  EXPECT_EQ(top_op("-a * b"), BinaryOp::kMul);
  EXPECT_EQ(top_op("-a > b"), BinaryOp::kGt);
  EXPECT_EQ(canon("2 ^ -3 * 4"), "2 ^ -3 * 4");
  EXPECT_EQ(top_op("2 ^ -3 * 4"), BinaryOp::kMul);
}

TEST(QueryParser, VectorMatchingModifiers) {
  EXPECT_EQ(canon("a * on(x) group_left(y, w) b"), "a * on (x) group_left (w, y) b");
  EXPECT_EQ(canon("a + ignoring(x) group_right b"), "a + ignoring (x) group_right () b");
  EXPECT_EQ(canon("a > bool on() b"), "a > bool on () b");
  EXPECT_EQ(canon("a * ignoring () group_left b"), "a * ignoring () group_left () b");
  auto e = parse_promql("a / on (x) group_left (y) b");
  ASSERT_TRUE(e.ok());
  const auto& b = std::get<Binary>((*e)->node);
  EXPECT_TRUE(b.on);
  EXPECT_EQ(b.card, MatchCard::kManyToOne);
  EXPECT_EQ(b.include, (std::vector<std::string>{"y"}));
  // `(` after group_left always opens its label list.
  EXPECT_EQ(error_of("a * on (x) group_left (b + c)"),
            "1:26: parse error: unexpected <op:+> in grouping opts, expected \",\" or \")\"");
  // Keywords may be label names.
  EXPECT_EQ(canon("a * on (by, bool) b"), "a * on (bool, by) b");
}

TEST(QueryParser, BinaryErrorsAsPrometheus) {
  EXPECT_EQ(error_of("1 == 2"),
            "1:3: parse error: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(error_of("a + bool b"),
            "1:3: parse error: bool modifier can only be used on comparison operators");
  EXPECT_EQ(error_of("1 and m"),
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression");
  EXPECT_EQ(error_of("a or on (x) group_left b"),
            "1:1: parse error: no grouping allowed for \"or\" operation");
  EXPECT_EQ(error_of("a * on (x) group_left (x) b"),
            "1:3: parse error: label \"x\" must not occur in ON and GROUP clause at once");
  EXPECT_EQ(error_of("1 + on (a) m"),
            "1:1: parse error: vector matching only allowed between instant vectors");
  EXPECT_EQ(error_of("m[5m:1m] + 1"),
            "1:1: parse error: binary expression must contain only scalar and instant vector "
            "types");
  // on () without labels is dropped for a scalar operand, as Prometheus does.
  EXPECT_EQ(canon("1 + on () m"), "1 + m");
}

TEST(QueryParser, NewAggregations) {
  EXPECT_EQ(canon("topk(5, m)"), "topk(5, m)");
  EXPECT_EQ(canon("bottomk by (a) (3, m)"), "bottomk by (a) (3, m)");
  EXPECT_EQ(canon("topk(3, m) without (a)"), "topk without (a) (3, m)");
  EXPECT_EQ(canon("quantile(0.9, m)"), "quantile(0.9, m)");
  EXPECT_EQ(canon("count_values('v', m)"), "count_values(\"v\", m)");
  EXPECT_EQ(canon("stddev(m)"), "stddev(m)");
  EXPECT_EQ(canon("stdvar by (a) (m)"), "stdvar by (a) (m)");
  EXPECT_EQ(canon("group(m)"), "group(m)");
  EXPECT_EQ(error_of("topk(m)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, "
            "expected 2, got 1");
  EXPECT_EQ(error_of("sum(a, b)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, "
            "expected 1, got 2");
  EXPECT_EQ(error_of("sum()"), "1:1: parse error: no arguments for aggregate expression provided");
  EXPECT_EQ(error_of("topk(m, m)"),
            "1:6: parse error: expected type scalar in aggregation parameter, got instant vector");
  EXPECT_EQ(error_of("count_values(1, m)"),
            "1:14: parse error: expected type string in aggregation parameter, got scalar");
  EXPECT_EQ(error_of("quantile(0.5, 1)"),
            "1:15: parse error: expected type instant vector in aggregation expression, got "
            "scalar");
  EXPECT_EQ(error_of("sum(m[5m:1m])"),
            "1:5: parse error: expected type instant vector in aggregation expression, got range "
            "vector");
}

TEST(QueryParser, OffsetAndAt) {
  EXPECT_EQ(canon("m offset 5m"), "m offset 5m");
  EXPECT_EQ(canon("m offset -1h30m"), "m offset -1h30m");
  EXPECT_EQ(canon("m OFFSET 5m"), "m offset 5m");
  EXPECT_EQ(canon("m[5m] offset 1h"), "m[5m] offset 1h");
  EXPECT_EQ(canon("m @ 1700000000"), "m @ 1700000000.000");
  EXPECT_EQ(canon("m @ 1700000000.5"), "m @ 1700000000.500");
  EXPECT_EQ(canon("m @ -1.5"), "m @ -1.500");
  EXPECT_EQ(canon("m offset 5m @ 100"), "m @ 100.000 offset 5m");
  EXPECT_EQ(canon("m @ start()"), "m @ start()");
  EXPECT_EQ(canon("m[1m] @ END()"), "m[1m] @ end()");
  EXPECT_EQ(canon("rate(m_count[5m] offset 1h)"), "rate(m_count[5m] offset 1h)");
  EXPECT_EQ(canon("-m offset 5m"), "-m offset 5m");
  auto e = parse_promql("m{a=\"b\"}[5m] @ 12.3456 offset -10s");
  ASSERT_TRUE(e.ok());
  const auto& sel = std::get<VectorSelector>((*e)->node);
  EXPECT_EQ(sel.offset_ms, -10'000);
  ASSERT_TRUE(sel.at);
  EXPECT_EQ(sel.at->t_ms, 12'346);
  EXPECT_EQ(error_of("sum(m) offset 5m"),
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or "
            "range vector selector or a subquery");
  EXPECT_EQ(error_of("(m) @ 5"),
            "1:1: parse error: @ modifier must be preceded by an instant vector selector or range "
            "vector selector or a subquery");
  EXPECT_EQ(error_of("m offset 5m offset 1m"),
            "1:1: parse error: offset may not be set multiple times");
  EXPECT_EQ(error_of("m @ 1 @ 2"), "1:1: parse error: @ <timestamp> may not be set multiple times");
  EXPECT_EQ(error_of("m offset 5m [5m]"),
            "1:13: parse error: no offset modifiers allowed before range");
  EXPECT_EQ(error_of("m @ 5 [5m]"), "1:7: parse error: no @ modifiers allowed before range");
  EXPECT_EQ(error_of("m offset"),
            "1:9: parse error: unexpected end of input in offset, expected duration");
  EXPECT_EQ(error_of("m offset 5"),
            "1:10: parse error: unexpected number \"5\" in offset, expected duration");
  EXPECT_EQ(error_of("m @ foo"),
            "1:5: parse error: unexpected identifier \"foo\" in @, expected timestamp");
  EXPECT_EQ(error_of("m @ Inf"), "1:1: parse error: timestamp out of bounds for @ modifier: +Inf");
  EXPECT_EQ(error_of("m offset 0s"), "1:10: parse error: duration must be greater than 0");
}

TEST(QueryParser, Subqueries) {
  EXPECT_EQ(canon("max_over_time(m_max[1h:1m])"), "max_over_time(m_max[1h:1m])");
  EXPECT_EQ(canon("m_max[1h:]"), "m_max[1h:]");
  EXPECT_EQ(canon("sum(m_max)[30m:1m] offset 1h"), "sum(m_max)[30m:1m] offset 1h");
  EXPECT_EQ(canon("rate(m_count[5m])[1h:5m] @ end()"), "rate(m_count[5m])[1h:5m] @ end()");
  EXPECT_EQ(canon("(a + b)[ 5m : 1m ]"), "(a + b)[5m:1m]");
  EXPECT_EQ(canon("m[5m][10m:1m]"), "m[5m][10m:1m]");  // the merged window, sampled
  auto e = parse_promql("sum(m)[5m:1m]");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->type, ValueType::kMatrix);
  const auto& sq = std::get<Subquery>((*e)->node);
  EXPECT_EQ(sq.range_ms, 300'000);
  EXPECT_EQ(sq.step_ms, 60'000);
  EXPECT_EQ(error_of("1[5m:1m]"),
            "1:1: parse error: subquery is only allowed on instant vector, got scalar instead");
  EXPECT_EQ(error_of("m[5m:1m][1h:5m]"),
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead");
  EXPECT_EQ(error_of("m[5m:1m"), "1:8: parse error: unclosed left bracket");
  EXPECT_EQ(error_of("m[5m 1m]"),
            "1:6: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or "
            "\"]\"");
  // Between brackets Prometheus' lexer takes a letter for the colon: `m[5m x]` is `m[5m:]`.
  EXPECT_EQ(canon("m[5m x]"), "m[5m:]");
  EXPECT_EQ(error_of("m[]"), "1:3: parse error: missing unit character in duration");
  EXPECT_EQ(error_of("m[0s]"), "1:3: parse error: duration must be greater than 0");
  EXPECT_EQ(error_of("sum(m)[5m]"), "1:7: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(error_of("-m[5m:1m]"),
            "1:1: parse error: unary expression only allowed on expressions of type scalar or "
            "instant vector, got \"range vector\"");
}

TEST(QueryParser, NewFunctions) {
  for (std::string_view q : {"abs(m)",
                             "ceil(m)",
                             "floor(m)",
                             "round(m)",
                             "round(m, 0.5)",
                             "sqrt(m)",
                             "exp(m)",
                             "ln(m)",
                             "log2(m)",
                             "log10(m)",
                             "sgn(m)",
                             "clamp(m, 0, 1)",
                             "clamp_min(m, 0)",
                             "clamp_max(m, 1)",
                             "time()",
                             "timestamp(m)",
                             "vector(1)",
                             "scalar(m)",
                             "sort(m)",
                             "sort_desc(m)",
                             "absent(m)",
                             "absent_over_time(m[5m])",
                             "label_replace(m, \"a\", \"$1\", \"b\", \"(.*)\")",
                             "label_join(m, \"a\", \",\", \"b\", \"c\")",
                             "avg_over_time(m[5m])",
                             "min_over_time(m[5m])",
                             "max_over_time(m[5m])",
                             "sum_over_time(m[5m])",
                             "count_over_time(m[5m])",
                             "last_over_time(m[5m])",
                             "quantile_over_time(0.9, m[5m])",
                             "stddev_over_time(m[5m])",
                             "stdvar_over_time(m[5m])",
                             "present_over_time(m[5m])",
                             "rate(m[5m])",
                             "increase(m[5m])",
                             "histogram_count(m)",
                             "histogram_sum(m)",
                             "histogram_fraction(0, 1, m)",
                             "histogram_quantile(0.5, m)",
                             "rate((m[5m]))",
                             "max_over_time(m[1h:1m])"}) {
    EXPECT_EQ(canon(q), q);
  }
  auto t = parse_promql("time()");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->type, ValueType::kScalar);
  auto sc = parse_promql("scalar(m) * 2");
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ((*sc)->type, ValueType::kScalar);
  EXPECT_EQ(error_of("rate(m)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(error_of("abs(m[5m:1m])"),
            "1:5: parse error: expected type instant vector in call to function \"abs\", got "
            "range vector");
  EXPECT_EQ(error_of("round(m, 1, 2)"),
            "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3");
  EXPECT_EQ(error_of("label_join(m)"),
            "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1");
  EXPECT_EQ(error_of("time(1)"),
            "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1");
  EXPECT_EQ(error_of("abs(m,)"),
            "1:6: parse error: trailing commas not allowed in function call args");
  EXPECT_EQ(error_of("label_replace(m, 1, \"a\", \"b\", \"c\")"),
            "1:18: parse error: expected type string in call to function \"label_replace\", got "
            "scalar");
  EXPECT_EQ(error_of("label_join(m, \"a\", \",\", \"b\", 2)"),
            "1:30: parse error: expected type string in call to function \"label_join\", got "
            "scalar");
}

TEST(QueryParser, CanonicalTextParsesBackToItself) {
  for (std::string_view q :
       {"sum by (site) (rate(vibration_count[5m] offset 1h)) > bool on (site) group_left (line) "
        "x * scalar(y)",
        "topk(3, -m_max @ start()) or sort_desc(m_min) unless on () vector(1)",
        "count_values without (a) (\"v\", max_over_time((m > 5)[10m:1m] ))",
        "max_over_time((sum(m_sum) / sum(m_count))[1h:] @ 1700000000.25 offset -5m)",
        "label_replace(histogram_quantile(0.99, sum by (site) (vibration)), \"x\", \"$1\", "
        "\"site\", \"s(.*)\")",
        "-(a ^ -b ^ c) % 2 != bool 1", "absent_over_time(nothing{a=\"1\"}[5m])"}) {
    auto e = parse_promql(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().message();
    const std::string text = to_string(**e);
    auto again = parse_promql(text);
    ASSERT_TRUE(again.ok()) << text << ": " << again.status().message();
    EXPECT_EQ(to_string(**again), text);
  }
}

TEST(QueryParser, TimeSpanOfOffsetsRangesAndSubqueries) {
  auto span = [](std::string_view q, std::int64_t step) {
    auto e = parse_promql(q);
    EXPECT_TRUE(e.ok()) << q;
    return time_span(**e, step, 60'000);
  };
  EXPECT_EQ(span("m", 60'000).before_ms, 60'000);
  EXPECT_EQ(span("m[5m]", 60'000).before_ms, 360'000);
  EXPECT_EQ(span("m offset 1h", 60'000).before_ms, 3'660'000);
  const TimeSpan ahead = span("m offset -10m", 60'000);
  EXPECT_EQ(ahead.before_ms, 0);
  EXPECT_EQ(ahead.after_ms, 600'000);
  EXPECT_FALSE(ahead.pinned);
  // Inner points of a subquery reach back its range, and their own selectors' steps.
  EXPECT_EQ(span("max_over_time(m[1h:5m])", 60'000).before_ms, 3'600'000 + 300'000);
  EXPECT_EQ(span("max_over_time(m[1h:])", 60'000).before_ms, 3'600'000 + 60'000);
  EXPECT_TRUE(span("m @ 100", 60'000).pinned);
  EXPECT_TRUE(span("sum_over_time(m[5m:1m] @ end())", 60'000).pinned);
}

TEST(QueryParser, TypeErrors) {
  EXPECT_NE(error_of("sum(1)").find("expected type instant vector in aggregation expression, "
                                    "got scalar"),
            std::string::npos);
  EXPECT_NE(error_of("histogram_quantile(m, m)")
                .find("expected type scalar in call to function "
                      "\"histogram_quantile\", got instant vector"),
            std::string::npos);
  EXPECT_EQ(error_of("distinct_count(m, m)"),
            "1:1: parse error: expected 1 argument(s) in call to \"distinct_count\", got 2");
  EXPECT_NE(error_of("\"a\" + 1")
                .find("binary expression must contain only scalar and instant "
                      "vector types"),
            std::string::npos);
  EXPECT_NE(error_of("1 + on(a) 2").find("vector matching only allowed between instant vectors"),
            std::string::npos);
  EXPECT_NE(error_of("(m)[5m]").find("ranges only allowed for vector selectors"),
            std::string::npos);
  EXPECT_NE(error_of("m{__name__=\"x\"}").find("metric name must not be set twice"),
            std::string::npos);
  EXPECT_NE(error_of("m{a=~\"(\"}").find("error parsing regexp"), std::string::npos);
  EXPECT_NE(error_of("m[5x]").find("bad duration syntax"), std::string::npos);
  EXPECT_NE(error_of("sum(m) by (a) by (b)").find("unexpected <by>"), std::string::npos);
}

TEST(QueryParser, LexicalErrors) {
  EXPECT_NE(error_of("m{a=\"x}").find("unterminated quoted string"), std::string::npos);
  EXPECT_NE(error_of("m{a=\"\\q\"}").find("unknown escape sequence"), std::string::npos);
  EXPECT_NE(error_of("5x").find("bad number or duration"), std::string::npos);
  EXPECT_NE(error_of("m $").find("unexpected character: '$'"), std::string::npos);
  EXPECT_NE(error_of("m !").find("unexpected character after '!'"), std::string::npos);
}

// Syntax errors in the words of Prometheus' lexer and grammar, as Prometheus 2.42 answered each
// of these queries (its lexer's states: parentheses, braces, brackets; where a number ends and a
// duration starts; how it names tokens; Go's regexp errors).
TEST(QueryParser, SyntaxErrorsAsPrometheus) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"sum(m", "1:6: parse error: unclosed left parenthesis"},
      {"(m", "1:3: parse error: unclosed left parenthesis"},
      {"m )", "1:4: parse error: unexpected right parenthesis ')'"},
      {"m ]", "1:3: parse error: unexpected right bracket ']'"},
      {"m[5m", "1:5: parse error: unclosed left bracket"},
      {"m{a=\"b\"", "1:8: parse error: unexpected end of input inside braces"},
      {"m{", "1:3: parse error: unexpected end of input inside braces"},
      {"m{a~\"b\"}", "1:4: parse error: unexpected character inside braces: '~'"},
      {"m{a!\"b\"}", "1:4: parse error: unexpected character after '!' inside braces: '\"'"},
      {"m{{", "1:3: parse error: unexpected left brace '{'"},
      {"m }", "1:3: parse error: unexpected character: '}'"},
      {"m !b", "1:3: parse error: unexpected character after '!': 'b'"},
      {"m =~ \"x\"", "1:3: parse error: unexpected character after '=': '~'"},
      {"m[5x]", "1:3: parse error: bad duration syntax: \"5\""},
      {"m[5]", "1:3: parse error: missing unit character in duration"},
      {"m[1.5m]", "1:3: parse error: not a valid duration string: \"1.5m\""},
      {"m offset 5x", "1:10: parse error: bad number or duration syntax: \"5\""},
      {"m[5m:1m:]", "1:8: parse error: unexpected colon ':'"},
      {"m[5m:x]", "1:6: parse error: unexpected colon 'x'"},
      {"m[1h:5]",
       "1:6: parse error: unexpected number \"5\" in subquery selector, expected duration or "
       "\"]\""},
      {"123abc", "1:1: parse error: bad number or duration syntax: \"123\""},
      {"0x",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid "
       "syntax"},
      {"1e",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e\": invalid "
       "syntax"},
      {"1e400",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out "
       "of range"},
      {"0x8000000000000000",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
       "\"0x8000000000000000\": invalid syntax"},
      {"5m", "1:1: parse error: unexpected duration \"5m\""},
      {"m + 5m", "1:5: parse error: unexpected duration \"5m\""},
      {"m @ 5m", "1:5: parse error: unexpected duration \"5m\" in @, expected timestamp"},
      {"m @ start", "1:10: parse error: unexpected end of input in @, expected timestamp"},
      {"m bool", "1:3: parse error: unexpected <bool>"},
      {"m == bool bool 1", "1:11: parse error: unexpected <bool>"},
      {"m + on(a) group_left bool b",
       "1:22: parse error: unexpected <bool> in grouping opts, expected \"(\""},
      {"m + on(a) group_left ,",
       "1:22: parse error: unexpected \",\" in grouping opts, expected \"(\""},
      {"sum m", "1:5: parse error: unexpected identifier \"m\""},
      {"sum by (a) m", "1:12: parse error: unexpected identifier \"m\" in aggregation"},
      {"sum(m) by (a) by (b)", "1:15: parse error: unexpected <by>"},
      {"sum(m n)", "1:7: parse error: unexpected identifier \"n\" in aggregation"},
      {"abs(m n)", "1:7: parse error: unexpected identifier \"n\""},
      {"(m n)", "1:4: parse error: unexpected identifier \"n\""},
      {"m{,}",
       "1:3: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
      {"m{a=\"b\",,}",
       "1:9: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
      {"m{\"a\"=\"b\"}",
       "1:3: parse error: unexpected string \"\\\"a\\\"\" in label matching, expected identifier "
       "or \"}\""},
      {"m{a=~\"(\"}", "1:3: parse error: error parsing regexp: missing closing ): `^(?:()$`"},
      {"m{a=~\"a++\"}",
       "1:3: parse error: error parsing regexp: invalid nested repetition operator: `++`"},
      {"m{a=~\"\\\\q\"}", "1:3: parse error: error parsing regexp: invalid escape sequence: `\\q`"},
      {"\"\\q\"", "1:1: parse error: unknown escape sequence U+0071 'q'"},
      {"\"\\x4\"", "1:1: parse error: illegal character U+0022 '\"' in escape sequence"},
      {"'\\\"'", "1:1: parse error: unknown escape sequence U+0022 '\"'"},
      {"\"abc", "1:1: parse error: unterminated quoted string"},
      {"m @ \"12345678901234\"",
       "1:5: parse error: unexpected string \"\\\"123456789\"... in @, expected timestamp"},
      {"m + \"averyveryverylongstring\"",
       "1:5: parse error: binary expression must contain only scalar and instant vector types"},
      {"m[30000000y]", "1:3: parse error: duration out of range"},
      {"m offset 30000000y", "1:10: parse error: duration out of range"},
      {"m ü", "1:3: parse error: unexpected character: 'ü'"},
      {"m{ü=\"x\"}", "1:3: parse error: unexpected character inside braces: 'ü'"},

  };
  for (const auto& [query, want] : cases) EXPECT_EQ(error_of(query), want) << query;
  // Prometheus' numbers: a leading 0 is octal, hexadecimal within int64.
  EXPECT_EQ(canon("017"), "15");
  EXPECT_EQ(canon("0x7FFFFFFFFFFFFFFF"), "9.223372036854776e+18");
  // Keywords that may be metric names where an expression starts (printed so that they read back
  // as names).
  EXPECT_EQ(canon("sum"), "{__name__=\"sum\"}");
  EXPECT_EQ(canon("a + on (b) group_left sum"), "a + on (b) group_left () {__name__=\"sum\"}");
}

TEST(QueryParser, DepthAndSizeAreBounded) {
  std::string deep(10000, '(');
  deep += "1";
  deep += std::string(10000, ')');
  EXPECT_NE(error_of(deep).find("nested more than"), std::string::npos);
  std::string minus(10000, '-');
  minus += "1";
  EXPECT_NE(error_of(minus).find("nested more than"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMaxQueryBytes + 1, ' ')).find("limit"), std::string::npos);
}

TEST(QueryParser, SeriesSelector) {
  auto s = parse_series_selector("m{a=\"b\"}");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->matchers.size(), 2u);
  EXPECT_FALSE(parse_series_selector("sum(m)").ok());
  EXPECT_FALSE(parse_series_selector("m[5m]").ok());
}

TEST(QueryParser, Durations) {
  EXPECT_EQ(*parse_duration_ms("5m"), 300'000);
  EXPECT_EQ(*parse_duration_ms("1h30m"), 5'400'000);
  EXPECT_EQ(*parse_duration_ms("250ms"), 250);
  EXPECT_EQ(*parse_duration_ms("1d"), 86'400'000);
  EXPECT_EQ(*parse_duration_ms("1w"), 604'800'000);
  EXPECT_EQ(*parse_duration_ms("1y"), 31'536'000'000);
  EXPECT_FALSE(parse_duration_ms("").ok());
  EXPECT_FALSE(parse_duration_ms("5").ok());
  EXPECT_FALSE(parse_duration_ms("m").ok());
  EXPECT_FALSE(parse_duration_ms("30m1h").ok());
  EXPECT_FALSE(parse_duration_ms("1m1m").ok());
  EXPECT_FALSE(parse_duration_ms("99999999999999999999y").ok());
  EXPECT_EQ(format_duration_ms(5'400'000), "1h30m");
  EXPECT_EQ(format_duration_ms(250), "250ms");
}

}  // namespace
}  // namespace edgesketch::query
