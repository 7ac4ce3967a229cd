// Lexer of PromQL: turns query text into tokens on demand, with the states of Prometheus 2.42's
// lexer (statements, inside braces, inside brackets, parenthesis depth), so that what it rejects
// and the words it rejects it with are Prometheus' own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgesketch/common/status.h"

namespace edgesketch::query {

enum class TokenKind : std::uint8_t {
  kEof,
  kIdentifier,  // metric names, label names, keywords, function names (may contain ':')
  kNumber,      // decimal, hex, octal, scientific, Inf, NaN
  kDuration,    // 5m, 1h30m (the lexer accepts the characters; the parser checks the units)
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
  kRegexMatch,  // =~ (inside braces only)
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
  bool in_braces = false;  // an identifier between { and }: a label name, never a keyword
};

// ASCII case-insensitive equality: PromQL's keywords, operators and Inf/NaN ignore case.
bool iequals(std::string_view a, std::string_view b);

// How a token is named in "unexpected ..." messages, as Prometheus' Item.desc() names it:
// `"}"`, `identifier "foo"`, `string "\"x\""`, `number "1700000000"...`, `<by>`, `<op:+>`,
// `<aggr:sum>`, `end of input`.
std::string describe_token(const Token& t);

// Go's strconv.Quote of the first `max_runes` code points of `s` (all of them when negative):
// `"a\"b"`, control characters escaped.
std::string go_quote(std::string_view s, int max_runes = -1);

class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}

  // The next token; kInvalidArgument (with the byte offset in error_pos()) on a lexical error,
  // worded as Prometheus' lexer words it ("unclosed left parenthesis", "unexpected character
  // inside braces: '~'", "bad duration syntax: \"5\"", …).
  Result<Token> next();

  std::size_t error_pos() const { return error_pos_; }

 private:
  Result<Token> next_in_statement();
  Result<Token> next_inside_braces();
  // Right after `[`: a duration or an error (Prometheus' lexDuration).
  Result<Token> lex_duration();
  // A number or a duration starting at a digit or `.digit` (lexNumberOrDuration).
  Result<Token> lex_number_or_duration();
  Result<Token> lex_string(char quote);
  // Prometheus' scanNumber(): advances over a number's characters; false when a letter or digit
  // follows it (which may still make a duration).
  bool scan_number();
  // Prometheus' acceptRemainingDuration(): the units and further numbers of a duration.
  bool accept_remaining_duration();
  bool accept(std::string_view chars);
  void skip_space_and_comments();
  Token token(TokenKind kind, std::size_t start);
  // The code point at pos_, consumed (an invalid byte as U+FFFD); -1 at the end of the input.
  std::int32_t take_rune();
  Status error(std::size_t pos, std::string message);

  std::string_view in_;
  std::size_t pos_ = 0;
  std::size_t error_pos_ = 0;
  int paren_depth_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  bool got_colon_ = false;
  bool duration_next_ = false;  // the token after `[` is read as a duration
};

}  // namespace edgesketch::query
