// Label matchers of PromQL selectors (`=`, `!=`, `=~`, `!~`) with compiled, fully anchored RE2
// regular expressions (the syntax and linear-time matching Prometheus uses).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "edgesketch/common/status.h"
#include "edgesketch/query/labels.h"

namespace re2 {
class RE2;
}

namespace edgesketch::query {

enum class MatchOp : std::uint8_t { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// "=", "!=", "=~", "!~".
std::string_view match_op_string(MatchOp op);

// One matcher. A label absent from a series matches as the empty string (Prometheus semantics:
// `{a=""}` selects series without `a`). Immutable after make(); copies share the compiled
// regex; thread-safe.
class LabelMatcher {
 public:
  // Regexes longer than this are rejected (bounded compile time and memory).
  static constexpr std::size_t kMaxRegexBytes = 4096;

  // kInvalidArgument when the regex does not compile, in Go's words as Prometheus reports it:
  // "error parsing regexp: missing closing ): `^(?:()$`".
  static Result<LabelMatcher> make(std::string name, MatchOp op, std::string value);

  const std::string& name() const { return name_; }
  MatchOp op() const { return op_; }
  const std::string& value() const { return value_; }

  bool matches(std::string_view value) const;
  // matches() on the series' value of name() ("" when absent).
  bool matches(const Labels& labels) const { return matches(label_value(labels, name_)); }

  // `name="value"` with the value quoted and escaped as in PromQL.
  std::string to_string() const;

  friend bool operator==(const LabelMatcher& a, const LabelMatcher& b) {
    return a.name_ == b.name_ && a.op_ == b.op_ && a.value_ == b.value_;
  }

 private:
  LabelMatcher() = default;

  std::string name_;
  MatchOp op_ = MatchOp::kEqual;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;  // set for the regex ops
};

// True when every matcher matches.
bool matches_all(const Labels& labels, std::span<const LabelMatcher> matchers);

// A PromQL double-quoted string literal for `s` that reads back as `s`: bytes that are not
// valid UTF-8 (and U+FFFD, which PromQL's lexer refuses too) as escapes.
std::string quote_promql_string(std::string_view s);

}  // namespace edgesketch::query
