// Condition: the small expression language of `where` in [[rule]] and [[filter]]
// (docs/agent.md, "Conditions"). Compiled once, at config load, into a tree evaluated per
// reading without allocating.
//
//   value > 5                              numeric readings: value compared with a number
//   site == "s1" and line =~ "l[0-4]"      tags compare as strings; =~ / !~ are RE2 full matches
//   label == "E017" or not (value < -1.5e3)
//   `value` == "x"                         a tag whose key is a reserved word or not a plain name
//
// Grammar (keywords lowercase, whitespace free):
//   condition  := or
//   or         := and ("or" and)*
//   and        := unary ("and" unary)*
//   unary      := "not" unary | "(" or ")" | comparison
//   comparison := operand op literal
//   operand    := "value" | "label" | "device" | tag key ([A-Za-z_][A-Za-z0-9_.:-]*) | `any key`
//   op         := "==" | "!=" | "<" | "<=" | ">" | ">=" | "=~" | "!~"
//   literal    := number (-12, 3.5, 1e-3) | "string" | 'string'  (escapes \\ \" \' \n \t)
// `value` takes the six comparisons and a number; every other operand takes ==, !=, =~, !~ and a
// string. Semantics:
//   - a comparison on `value` is false for a label reading (all six, `!=` included);
//   - `label` is the reading's label ("" for a numeric reading), `device` its device id;
//   - an absent tag reads as "" (as in PromQL): `site != "s1"` holds for a reading without site;
//   - =~ / !~ match the whole string (anchored, as in PromQL): "l[0-4]" does not match "line-1".
// Bounds: 4,096 bytes of text, nesting 64 deep, 32 regular expressions of at most 1 MiB of RE2
// program memory each. Errors are kInvalidArgument "column N: <what>" (N counts bytes from 1).
//
// Cost: no allocation per reading in steady state. Each regular expression remembers its last
// input and answer, so a run of readings with the same tag value (one device's payload) costs
// one RE2 match.
//
// Thread safety: matches() updates those memos: one thread at a time per Condition object.
// Copies are independent (they share only the compiled RE2 objects, which are thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/wire/types.h"

namespace re2 {
class RE2;
}

namespace edgesketch::agent {

inline constexpr std::size_t kMaxConditionBytes = 4096;
inline constexpr std::size_t kMaxConditionDepth = 64;
inline constexpr std::size_t kMaxConditionRegexes = 32;

class Condition {
 public:
  // Parses and checks `text`; kInvalidArgument "column N: ..." on the first problem.
  static Result<Condition> compile(std::string_view text);

  // Whether the reading satisfies the condition. No allocation; O(size of the condition).
  bool matches(const wire::Reading& r) const { return eval(root_, r); }

  // The text it was compiled from.
  const std::string& text() const { return text_; }
  // The tag keys it reads (not value, label or device), sorted, unique.
  std::vector<std::string> tag_keys() const;

 private:
  enum class Kind : std::uint8_t { kAnd, kOr, kNot, kValue, kString, kRegex };
  enum class Operand : std::uint8_t { kValue, kLabel, kDevice, kTag };
  enum class Op : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kMatch, kNoMatch };
  struct Node {
    Kind kind = Kind::kValue;
    Operand operand = Operand::kValue;
    Op op = Op::kEq;
    // kAnd / kOr: the children are kids_[lhs, lhs + rhs); kNot: the child is node lhs.
    std::uint32_t lhs = 0;
    std::uint32_t rhs = 0;
    double number = 0;                   // kValue
    std::string key;                     // kTag: the tag key
    std::string literal;                 // kString
    std::shared_ptr<const re2::RE2> re;  // kRegex
    // kRegex: the last input and whether it matched (memo_valid once there is one).
    mutable std::string memo_input;
    mutable bool memo_valid = false;
    mutable bool memo_match = false;
  };
  class Parser;

  Condition() = default;
  bool eval(std::uint32_t node, const wire::Reading& r) const;
  static std::string_view operand_text(const Node& n, const wire::Reading& r);

  std::string text_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> kids_;  // children of the and / or nodes
  std::uint32_t root_ = 0;
};

}  // namespace edgesketch::agent
