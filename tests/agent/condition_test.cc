// The `where` condition language: every operator and operand, precedence and parentheses,
// absent tags, label and numeric readings, RE2 full matches, and parse errors with their columns.
#include "process/condition.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgesketch::agent {
namespace {

wire::Reading numeric(double v, std::vector<wire::Tag> tags = {}) {
  wire::Reading r;
  r.device_id = "dev-1";
  r.metric = "vibration";
  r.tags = std::move(tags);  // sorted by key, as the parsers leave them
  r.ts_ms = 1'700'000'000'000;
  r.value = v;
  return r;
}

wire::Reading label(std::string l, std::vector<wire::Tag> tags = {}) {
  wire::Reading r = numeric(0, std::move(tags));
  r.is_label = true;
  r.label = std::move(l);
  return r;
}

bool holds(const std::string& text, const wire::Reading& r) {
  auto c = Condition::compile(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status().to_string();
  return c.ok() && c->matches(r);
}

std::string error_of(const std::string& text) {
  auto c = Condition::compile(text);
  EXPECT_FALSE(c.ok()) << "compiled: " << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  return c.status().message();
}

TEST(ConditionTest, ValueComparisons) {
  const wire::Reading five = numeric(5);
  EXPECT_TRUE(holds("value == 5", five));
  EXPECT_FALSE(holds("value != 5", five));
  EXPECT_FALSE(holds("value < 5", five));
  EXPECT_TRUE(holds("value <= 5", five));
  EXPECT_FALSE(holds("value > 5", five));
  EXPECT_TRUE(holds("value >= 5", five));
  EXPECT_TRUE(holds("value > 4.999", five));
  EXPECT_TRUE(holds("value<6", five));  // no spaces needed
  // Negative numbers, exponents, leading and trailing dots.
  EXPECT_TRUE(holds("value > -1.5e3", numeric(-1499)));
  EXPECT_FALSE(holds("value > -1.5e3", numeric(-1501)));
  EXPECT_TRUE(holds("value == 2.5E-3", numeric(0.0025)));
  EXPECT_TRUE(holds("value == 1e+2", numeric(100)));
  EXPECT_TRUE(holds("value == .5", numeric(0.5)));
  EXPECT_TRUE(holds("value == -.5", numeric(-0.5)));
  EXPECT_TRUE(holds("value == 3.", numeric(3)));
  EXPECT_TRUE(holds("value>-5", numeric(-4)));
}

TEST(ConditionTest, ValueComparisonsAreFalseForLabelReadings) {
  const wire::Reading l = label("E017");
  for (const char* text : {"value == 0", "value != 0", "value < 1", "value <= 0", "value > -1",
                           "value >= 0", "value != 5"}) {
    EXPECT_FALSE(holds(text, l)) << text;
  }
  EXPECT_TRUE(holds("not (value > 1)", l));
}

TEST(ConditionTest, TagsLabelAndDevice) {
  const std::vector<wire::Tag> tags = {{"line", "l3"}, {"site", "s1"}};
  const wire::Reading r = numeric(1, tags);
  EXPECT_TRUE(holds("site == \"s1\"", r));
  EXPECT_TRUE(holds("site == 's1'", r));  // single quotes, handy inside TOML basic strings
  EXPECT_FALSE(holds("site != \"s1\"", r));
  EXPECT_TRUE(holds("site != \"s2\"", r));
  EXPECT_TRUE(holds("device == \"dev-1\"", r));
  EXPECT_TRUE(holds("line =~ \"l[0-4]\"", r));
  EXPECT_FALSE(holds("line !~ \"l[0-4]\"", r));
  EXPECT_TRUE(holds("line !~ \"l[5-9]\"", r));
  // Absent tags read as "" (PromQL): != holds, == "" holds, a match needs the pattern to take "".
  EXPECT_TRUE(holds("zone != \"north\"", r));
  EXPECT_TRUE(holds("zone == \"\"", r));
  EXPECT_FALSE(holds("zone =~ \"n.*\"", r));
  EXPECT_TRUE(holds("zone =~ \".*\"", r));
  EXPECT_TRUE(holds("zone !~ \"n.*\"", r));
  // label: the label of a label reading, "" for a numeric one.
  EXPECT_TRUE(holds("label == \"E017\"", label("E017", tags)));
  EXPECT_FALSE(holds("label == \"E017\"", label("E018", tags)));
  EXPECT_TRUE(holds("label =~ \"E0[0-9]+\"", label("E017", tags)));
  EXPECT_FALSE(holds("label == \"E017\"", r));
  EXPECT_TRUE(holds("label == \"\"", r));
  // A tag key that is not a plain name, or is a reserved word, in backquotes.
  const wire::Reading odd = numeric(1, {{"room no", "12"}, {"value", "x"}});
  EXPECT_TRUE(holds("`room no` == \"12\"", odd));
  EXPECT_TRUE(holds("`value` == \"x\" and value == 1", odd));
  // Plain names may hold digits, '_', '.', ':' and '-'.
  EXPECT_TRUE(holds("a.b:c-d_2 == \"v\"", numeric(1, {{"a.b:c-d_2", "v"}})));
}

TEST(ConditionTest, RegularExpressionsMatchTheWholeValue) {
  const wire::Reading r = numeric(1, {{"line", "line-1"}});
  EXPECT_FALSE(holds("line =~ \"l[0-4]\"", r));  // anchored, as PromQL
  EXPECT_TRUE(holds("line =~ \"line-[0-4]\"", r));
  EXPECT_TRUE(holds("line =~ \".*-1\"", r));
  EXPECT_TRUE(holds("line =~ \"line-1|line-2\"", r));
  EXPECT_TRUE(holds("line =~ \"(?i)LINE-1\"", r));
  const wire::Reading multi = numeric(1, {{"note", "a\nb"}});
  EXPECT_TRUE(holds("note =~ \"a.b\"", multi));  // '.' takes a newline too
  EXPECT_TRUE(holds("note == \"a\\nb\"", multi));
}

// One compiled condition over a sequence of readings: the per-regex memo of the last answer
// follows every change of input (runs, alternation, absent tags, long values).
TEST(ConditionTest, RegexAnswersFollowTheInputAcrossReadings) {
  auto c = Condition::compile("line =~ \"l[0-4]\" or label !~ \"E.*\"");
  ASSERT_TRUE(c.ok());
  const std::string long_value(300, 'x');
  struct Case {
    wire::Reading r;
    bool want;
  };
  const std::vector<Case> cases = {
      {numeric(1, {{"line", "l1"}}), true},
      {numeric(1, {{"line", "l1"}}), true},
      {numeric(1, {{"line", "l7"}}), true},  // label "" !~ "E.*"
      {label("E1", {{"line", "l7"}}), false},
      {label("E1", {{"line", "l2"}}), true},
      {label("E1", {}), false},
      {label("X", {}), true},
      {label("E1", {{"line", long_value}}), false},
      {label("E1", {{"line", "l3"}}), true},
      {label("E1", {{"line", long_value}}), false},
  };
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(c->matches(cases[i].r), cases[i].want) << "case " << i;
    }
  }
}

TEST(ConditionTest, PrecedenceAndParentheses) {
  const wire::Reading r = numeric(7, {{"site", "s1"}});
  // not > and > or.
  EXPECT_TRUE(holds("value > 100 and site == \"s2\" or value == 7", r));
  EXPECT_FALSE(holds("value > 100 and (site == \"s2\" or value == 7)", r));
  EXPECT_TRUE(holds("value == 7 or value > 100 and site == \"s2\"", r));
  EXPECT_FALSE(holds("(value == 7 or value > 100) and site == \"s2\"", r));
  EXPECT_FALSE(holds("not value == 7 and site == \"s1\"", r));
  EXPECT_TRUE(holds("not (value == 7 and site == \"s2\")", r));
  EXPECT_TRUE(holds("not not value == 7", r));
  EXPECT_TRUE(holds("((((value == 7))))", r));
  // Long chains are one node each.
  std::string chain = "value == 7";
  for (int i = 0; i < 200; ++i) chain += " and value > " + std::to_string(i - 400);
  EXPECT_TRUE(holds(chain, r));
  EXPECT_FALSE(holds(chain + " and value < 0", r));
  std::string either = "value == 1";
  for (int i = 2; i < 200; ++i) either += " or value == " + std::to_string(i);
  EXPECT_TRUE(holds(either, r));
  EXPECT_FALSE(holds(either, numeric(0.5)));
}

TEST(ConditionTest, TagKeysListsTheTagsRead) {
  auto c = Condition::compile(
      "site == \"a\" or (line =~ \"x\" and value > 1) or not site != \"b\" or label == \"c\" or "
      "device == \"d\" or `k 2` == \"e\"");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->tag_keys(), (std::vector<std::string>{"k 2", "line", "site"}));
  EXPECT_EQ(c->text(), c->text());
}

TEST(ConditionTest, CopiesShareTheCompiledRegex) {
  auto c = Condition::compile("line =~ \"l[0-4]\"");
  ASSERT_TRUE(c.ok());
  const Condition copy = *c;
  c = Condition::compile("value > 1");  // the original goes away
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(copy.matches(numeric(1, {{"line", "l2"}})));
  EXPECT_FALSE(copy.matches(numeric(1, {{"line", "l7"}})));
}

TEST(ConditionTest, ErrorsNameTheColumn) {
  EXPECT_EQ(error_of("value > "), "column 9: expected a value after '>'");
  EXPECT_EQ(error_of("value >"), "column 8: expected a value after '>'");
  EXPECT_EQ(error_of(""), "column 1: the condition is empty");
  EXPECT_EQ(error_of("   "), "column 1: the condition is empty");
  EXPECT_EQ(error_of("value > 5 and"),
            "column 14: expected a comparison such as value > 5 after 'and'");
  EXPECT_EQ(error_of("value 5"),
            "column 7: expected an operator (==, !=, <, <=, >, >=, =~, !~) after 'value', found "
            "'5'");
  EXPECT_EQ(error_of("value = 5"), "column 7: '=' alone: write '==' to compare, '=~' to match");
  EXPECT_EQ(error_of("!(value > 5)"),
            "column 1: '!' alone: write 'not' to negate, '!=' or '!~' to compare");
  EXPECT_EQ(error_of("value > \"5\""), "column 9: 'value' compares with a number, not a string");
  EXPECT_EQ(error_of("value =~ \"5\""),
            "column 7: 'value' is a number: compare it with ==, !=, <, <=, > or >=");
  EXPECT_EQ(error_of("site > \"a\""),
            "column 6: 'site' is a string: compare it with ==, !=, =~ or !~");
  EXPECT_EQ(error_of("site == 5"),
            "column 9: expected a quoted string after '==' ('site' is a string)");
  EXPECT_EQ(error_of("(value > 5"),
            "column 11: expected ')' to close the '(' at column 1, found the end");
  EXPECT_EQ(error_of("value > 5)"),
            "column 10: unexpected ')' after a complete condition (a missing 'and' or 'or'?)");
  EXPECT_EQ(error_of("value > 5 site == \"a\""),
            "column 11: unexpected 'site' after a complete condition (a missing 'and' or 'or'?)");
  EXPECT_EQ(error_of("site == \"a"), "column 9: the string starting here is not closed");
  EXPECT_EQ(error_of("site == 'a\\q'"),
            "column 11: unknown escape '\\q' (use \\\\, \\\", \\', \\n or \\t)");
  EXPECT_EQ(error_of("value > 5x"), "column 9: '5x' is not a number");
  EXPECT_EQ(error_of("value > 1e999"), "column 9: the number '1e999' is out of range");
  EXPECT_EQ(error_of("value > 1.2.3"), "column 9: '1.2.3' is not a number");
  EXPECT_EQ(error_of("line =~ \"(\"").rfind("column 9: bad regular expression: ", 0), 0u);
  EXPECT_EQ(error_of("value > 5 && site == \"a\""), "column 11: unexpected character '&'");
  EXPECT_EQ(error_of("`` == \"a\""), "column 1: an empty tag key ``");
  EXPECT_EQ(error_of("`site == \"a\""), "column 1: the ` quoting a tag key is not closed");
  EXPECT_EQ(error_of("and value > 1"),
            "column 1: expected a comparison such as value > 5 or site == \"s1\", found 'and'");
  EXPECT_EQ(error_of("value > 1 and not"),
            "column 18: expected a comparison such as value > 5 after 'not'");
  EXPECT_EQ(error_of("site == \"a\" \x01"), "column 13: unexpected byte 1");
}

TEST(ConditionTest, Bounds) {
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += "(";
  deep += "value > 1";
  for (int i = 0; i < 70; ++i) deep += ")";
  EXPECT_EQ(error_of(deep), "column 65: nested more than 64 levels deep");
  std::string nots;
  for (int i = 0; i < 100; ++i) nots += "not ";
  EXPECT_NE(error_of(nots + "value > 1").find("nested more than 64 levels deep"),
            std::string::npos);
  std::string regexes = "a =~ \"x\"";
  for (int i = 0; i < 32; ++i) regexes += " or a =~ \"x\"";
  EXPECT_NE(error_of(regexes).find("more than 32 regular expressions"), std::string::npos);
  EXPECT_EQ(error_of(std::string(4097, ' ')), "the condition is 4097 bytes long; at most 4096");
  // A pattern whose program exceeds RE2's memory budget is refused, not built.
  EXPECT_NE(error_of("a =~ \"((((((((((a{100}){100}){100}){100}){100})))))\"")
                .find("bad regular expression"),
            std::string::npos);
}

}  // namespace
}  // namespace edgesketch::agent
