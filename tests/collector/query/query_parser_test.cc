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
            "1:5: parse error: unexpected string \"x\" in label matching, expected label matching "
            "operator");
  EXPECT_EQ(error_of("1 +"), "1:4: parse error: unexpected end of input, expected expression");
  EXPECT_EQ(error_of("sum(m_count"),
            "1:12: parse error: unexpected end of input in aggregation, expected \")\"");
  EXPECT_EQ(error_of("m_count\n  + )"), "2:5: parse error: unexpected \")\", expected expression");
  EXPECT_EQ(error_of("{a=\"\"}"),
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
}

TEST(QueryParser, ErrorsExplainUnsupportedFeatures) {
  EXPECT_NE(error_of("rate(m_count[5m])").find("unknown function with name \"rate\""),
            std::string::npos);
  EXPECT_NE(error_of("topk(3, m_count)").find("aggregation \"topk\" is not supported"),
            std::string::npos);
  EXPECT_NE(error_of("m_count > 1").find("operator \">\" is not supported"), std::string::npos);
  EXPECT_NE(error_of("a and b").find("operator \"and\" is not supported"), std::string::npos);
  EXPECT_NE(error_of("m_count offset 5m").find("offset"), std::string::npos);
  EXPECT_NE(error_of("m_count @ 100").find("@ modifier"), std::string::npos);
  EXPECT_NE(error_of("m_count[5m:1m]").find("subqueries"), std::string::npos);
  EXPECT_NE(error_of("a / on(x) group_left b").find("group_left"), std::string::npos);
}

TEST(QueryParser, TypeErrors) {
  EXPECT_NE(error_of("sum(1)").find("expected type instant vector in aggregation expression, "
                                    "got scalar"),
            std::string::npos);
  EXPECT_NE(error_of("histogram_quantile(m, m)")
                .find("expected type scalar in call to function "
                      "\"histogram_quantile\", got instant vector"),
            std::string::npos);
  EXPECT_NE(error_of("distinct_count(m, m)").find("expected 1 argument(s)"), std::string::npos);
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
  EXPECT_NE(error_of("m{a=~\"(\"}").find("invalid regular expression"), std::string::npos);
  EXPECT_NE(error_of("m[5x]").find("not a valid duration"), std::string::npos);
  EXPECT_NE(error_of("sum(m) by (a) by (b)").find("unexpected identifier \"by\""),
            std::string::npos);
}

TEST(QueryParser, LexicalErrors) {
  EXPECT_NE(error_of("m{a=\"x}").find("unterminated quoted string"), std::string::npos);
  EXPECT_NE(error_of("m{a=\"\\q\"}").find("unknown escape sequence"), std::string::npos);
  EXPECT_NE(error_of("5m").find("bad number or duration"), std::string::npos);
  EXPECT_NE(error_of("m $").find("unexpected character: '$'"), std::string::npos);
  EXPECT_NE(error_of("m !").find("expected '=' or '~'"), std::string::npos);
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
