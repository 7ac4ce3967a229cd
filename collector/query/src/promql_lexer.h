// Lexer of the PromQL subset: turns query text into tokens on demand.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "edgesketch/common/status.h"

namespace edgesketch::query {

enum class TokenKind : std::uint8_t {
  kEof,
  kIdentifier,  // metric names, label names, keywords, function names (may contain ':')
  kNumber,      // decimal, hex, scientific, Inf, NaN
  kString,      // value already unescaped
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kAssign,      // =
  kNotEqual,    // !=
  kRegexMatch,  // =~
  kRegexNoMatch,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,   // ==  (comparison; != is kNotEqual, shared with label matching)
  kGtr,    // >
  kLss,    // <
  kGte,    // >=
  kLte,    // <=
  kAt,     // @
  kColon,  // subqueries
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::size_t pos = 0;
  std::string_view text;  // the raw token text
  std::string value;      // unescaped string value
  double number = 0;
};

// ASCII case-insensitive equality: PromQL's keywords, operators and Inf/NaN ignore case.
bool iequals(std::string_view a, std::string_view b);

// How a token is named in "unexpected ..." messages: `"}"`, `identifier "foo"`, `end of input`.
std::string describe_token(const Token& t);

class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}

  // The next token; kInvalidArgument (with the byte offset in error_pos()) on a lexical error.
  Result<Token> next();
  // Reads a duration (letters and digits) after skipping spaces: for `[5m]`, `[5m:1m]` and
  // `offset 5m`. An empty string when none starts there.
  std::string_view read_duration();
  // The next character after spaces and comments, '\0' at the end of the input.
  char peek();
  // Skips spaces and comments, then `c` if it comes next; whether it did.
  bool consume(char c);

  std::size_t pos() const { return pos_; }
  std::size_t error_pos() const { return error_pos_; }

 private:
  void skip_space_and_comments();
  Result<Token> lex_string(char quote);
  Result<Token> lex_number();
  Status error(std::size_t pos, std::string message);

  std::string_view in_;
  std::size_t pos_ = 0;
  std::size_t error_pos_ = 0;
};

}  // namespace edgesketch::query
