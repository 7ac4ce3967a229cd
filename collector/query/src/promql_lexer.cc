// Lexer of PromQL, state for state as Prometheus 2.42's (promql/parser/lex.go): the characters
// each state accepts, where a number ends and a duration starts, and its error texts.
#include "promql_lexer.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "edgesketch/common/utf8.h"

namespace edgesketch::query {
namespace {

constexpr std::int32_t kEofRune = -1;
constexpr std::int32_t kRuneError = 0xfffd;

bool is_alpha(std::int32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(std::int32_t c) { return c >= '0' && c <= '9'; }
bool is_alnum(std::int32_t c) { return is_alpha(c) || is_digit(c); }
bool is_space(std::int32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// The code point at `p` and its length in bytes; U+FFFD and 1 for a byte that does not start
// valid UTF-8 (as Go's utf8.DecodeRuneInString).
std::pair<std::int32_t, std::size_t> decode_rune(std::string_view s, std::size_t p) {
  const Utf8Rune r = decode_utf8(s, p);
  if (r.cp < 0) return {kRuneError, 1};
  return {r.cp, r.len};
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Go's unicode.IsPrint, closely enough for error messages: ASCII graphic characters and space,
// and beyond Latin-1's controls everything but the common invisible and separator code points.
bool go_is_print(std::int32_t cp) {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7f;
  if (cp < 0xa1 || cp == 0xad) return false;
  if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
      (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff) {
    return false;
  }
  return !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff;
}

// The escape of a code point Go's quoting writes when it is not printed as it is.
void append_go_escape(std::string& out, std::int32_t cp) {
  switch (cp) {
    case '\a':
      out += "\\a";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\v':
      out += "\\v";
      return;
    default:
      break;
  }
  if (cp < 0x20 || cp == 0x7f) {
    out += fmt::format("\\x{:02x}", cp);
  } else if (cp < 0x10000) {
    out += fmt::format("\\u{:04x}", cp);
  } else {
    out += fmt::format("\\U{:08x}", cp);
  }
}

// Go's %q of a rune: 'x', '\'', '\n', '\x01'.
std::string go_quote_rune(std::int32_t cp) {
  if (cp == kEofRune) cp = kRuneError;
  std::string out = "'";
  if (cp == '\'' || cp == '\\') {
    out += '\\';
    out += static_cast<char>(cp);
  } else if (go_is_print(cp)) {
    append_utf8(out, static_cast<std::uint32_t>(cp));
  } else {
    append_go_escape(out, cp);
  }
  return out + "'";
}

// Go's %#U: U+0071 'q' (the character only when printable).
std::string go_unicode(std::int32_t cp) {
  if (cp == kEofRune) cp = kRuneError;
  std::string out = fmt::format("U+{:04X}", cp);
  if (go_is_print(cp)) {
    out += " '";
    append_utf8(out, static_cast<std::uint32_t>(cp));
    out += '\'';
  }
  return out;
}

// Keywords as Prometheus' lexer emits them outside braces (case-insensitive).
enum class Keyword : std::uint8_t { kNone, kKeyword, kOperator, kAggregator };
Keyword keyword_kind(std::string_view word) {
  static constexpr std::string_view kKeywords[] = {"offset",   "by",         "without",     "on",
                                                   "ignoring", "group_left", "group_right", "bool",
                                                   "start",    "end"};
  static constexpr std::string_view kOperators[] = {"and", "or", "unless", "atan2"};
  static constexpr std::string_view kAggregators[] = {
      "sum",    "avg",    "count", "min",     "max",          "group",
      "stddev", "stdvar", "topk",  "bottomk", "count_values", "quantile"};
  for (auto k : kKeywords) {
    if (iequals(word, k)) return Keyword::kKeyword;
  }
  for (auto k : kOperators) {
    if (iequals(word, k)) return Keyword::kOperator;
  }
  for (auto k : kAggregators) {
    if (iequals(word, k)) return Keyword::kAggregator;
  }
  return Keyword::kNone;
}

// Go's strconv.ParseInt(text, 0, 64) for the characters a number token holds: 0x hex, a leading
// 0 octal, else decimal; nullopt on bad syntax or outside int64.
std::optional<std::int64_t> parse_int_base0(std::string_view text) {
  int base = 10;
  std::size_t p = 0;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    p = 2;
  } else if (text.size() >= 2 && text[0] == '0') {
    base = 8;
    p = 1;
  }
  if (p >= text.size()) return std::nullopt;
  std::uint64_t v = 0;
  for (; p < text.size(); ++p) {
    const char c = text[p];
    int d;
    if (base == 16 && is_hex(c)) {
      d = hex_value(c);
    } else if (is_digit(c) && c - '0' < base) {
      d = c - '0';
    } else {
      return std::nullopt;
    }
    if (v > (static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) -
             static_cast<std::uint64_t>(d)) /
                static_cast<std::uint64_t>(base)) {
      return std::nullopt;
    }
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
  }
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::string go_quote(std::string_view s, int max_runes) {
  std::string out = "\"";
  int runes = 0;
  for (std::size_t p = 0; p < s.size() && (max_runes < 0 || runes < max_runes); ++runes) {
    const auto [cp, len] = decode_rune(s, p);
    if (cp == kRuneError && len == 1 && static_cast<unsigned char>(s[p]) >= 0x80) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[p]));
    } else if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (go_is_print(cp)) {
      out.append(s, p, len);
    } else {
      append_go_escape(out, cp);
    }
    p += len;
  }
  return out + "\"";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string describe_token(const Token& t) {
  // Numbers, strings and durations longer than 10 bytes show their first 10 characters.
  auto quoted = [&] {
    return t.text.size() > 10 ? go_quote(t.text, 10) + "..." : go_quote(t.text);
  };
  switch (t.kind) {
    case TokenKind::kEof:
      return "end of input";
    case TokenKind::kIdentifier:
      if (!t.in_braces) {
        switch (keyword_kind(t.text)) {
          case Keyword::kKeyword:
            return fmt::format("<{}>", t.text);
          case Keyword::kOperator:
            return fmt::format("<op:{}>", t.text);
          case Keyword::kAggregator:
            return fmt::format("<aggr:{}>", t.text);
          case Keyword::kNone:
            break;
        }
      }
      return (t.text.find(':') != std::string_view::npos ? "metric identifier " : "identifier ") +
             go_quote(t.text);
    case TokenKind::kNumber:
      return "number " + quoted();
    case TokenKind::kDuration:
      return "duration " + quoted();
    case TokenKind::kString:
      return "string " + quoted();
    case TokenKind::kAdd:
    case TokenKind::kSub:
    case TokenKind::kMul:
    case TokenKind::kDiv:
    case TokenKind::kMod:
    case TokenKind::kPow:
    case TokenKind::kEqlc:
    case TokenKind::kNotEqual:
    case TokenKind::kGtr:
    case TokenKind::kLss:
    case TokenKind::kGte:
    case TokenKind::kLte:
    case TokenKind::kRegexMatch:
    case TokenKind::kRegexNoMatch:
    case TokenKind::kAt:
      return fmt::format("<op:{}>", t.text);
    default:
      return go_quote(t.text);
  }
}

Status Lexer::error(std::size_t pos, std::string message) {
  error_pos_ = pos;
  return Status::invalid_argument(std::move(message));
}

std::int32_t Lexer::take_rune() {
  if (pos_ >= in_.size()) return kEofRune;
  const auto [cp, len] = decode_rune(in_, pos_);
  pos_ += len;
  return cp;
}

Token Lexer::token(TokenKind kind, std::size_t start) {
  Token t;
  t.kind = kind;
  t.pos = start;
  t.text = in_.substr(start, pos_ - start);
  return t;
}

bool Lexer::accept(std::string_view chars) {
  if (pos_ < in_.size() && chars.find(in_[pos_]) != std::string_view::npos) {
    ++pos_;
    return true;
  }
  return false;
}

void Lexer::skip_space_and_comments() {
  while (pos_ < in_.size()) {
    const char c = in_[pos_];
    if (is_space(c)) {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
}

Result<Token> Lexer::next() {
  if (duration_next_) {
    duration_next_ = false;
    while (pos_ < in_.size() && is_space(in_[pos_])) ++pos_;
    return lex_duration();
  }
  if (brace_open_) return next_inside_braces();
  return next_in_statement();
}

Result<Token> Lexer::next_in_statement() {
  skip_space_and_comments();
  const std::size_t start = pos_;
  if (pos_ >= in_.size()) {
    if (paren_depth_ != 0) return error(start, "unclosed left parenthesis");
    if (bracket_open_) return error(start, "unclosed left bracket");
    return token(TokenKind::kEof, start);
  }
  const auto [r, len] = decode_rune(in_, pos_);
  pos_ += len;
  const std::int32_t peek = pos_ < in_.size() ? static_cast<unsigned char>(in_[pos_]) : kEofRune;
  switch (r) {
    case ',':
      return token(TokenKind::kComma, start);
    case '*':
      return token(TokenKind::kMul, start);
    case '/':
      return token(TokenKind::kDiv, start);
    case '%':
      return token(TokenKind::kMod, start);
    case '+':
      return token(TokenKind::kAdd, start);
    case '-':
      return token(TokenKind::kSub, start);
    case '^':
      return token(TokenKind::kPow, start);
    case '@':
      return token(TokenKind::kAt, start);
    case '=':
      if (peek == '=') {
        ++pos_;
        return token(TokenKind::kEqlc, start);
      }
      if (peek == '~') return error(start, "unexpected character after '=': '~'");
      return token(TokenKind::kAssign, start);
    case '!': {
      // Prometheus consumes the next character whatever it is.
      const std::int32_t next = take_rune();
      if (next == '=') return token(TokenKind::kNotEqual, start);
      return error(start, "unexpected character after '!': " + go_quote_rune(next));
    }
    case '<':
      if (peek == '=') {
        ++pos_;
        return token(TokenKind::kLte, start);
      }
      return token(TokenKind::kLss, start);
    case '>':
      if (peek == '=') {
        ++pos_;
        return token(TokenKind::kGte, start);
      }
      return token(TokenKind::kGtr, start);
    case '"':
    case '\'':
    case '`':
      pos_ = start;
      return lex_string(static_cast<char>(r));
    case '(':
      ++paren_depth_;
      return token(TokenKind::kLeftParen, start);
    case ')':
      // The error stands after the parenthesis, where Prometheus' lexer has moved on.
      if (--paren_depth_ < 0) return error(pos_, "unexpected right parenthesis ')'");
      return token(TokenKind::kRightParen, start);
    case '{':
      brace_open_ = true;
      return token(TokenKind::kLeftBrace, start);
    case '[':
      if (bracket_open_) return error(start, "unexpected left bracket '['");
      got_colon_ = false;
      bracket_open_ = true;
      duration_next_ = true;
      return token(TokenKind::kLeftBracket, start);
    case ']':
      if (!bracket_open_) return error(start, "unexpected right bracket ']'");
      bracket_open_ = false;
      return token(TokenKind::kRightBracket, start);
    default:
      break;
  }
  if (is_digit(r) || (r == '.' && is_digit(peek))) {
    pos_ = start;
    return lex_number_or_duration();
  }
  if (is_alpha(r) || r == ':') {
    if (bracket_open_) {
      // Between brackets Prometheus takes any letter or colon for the subquery's colon, once.
      if (got_colon_) return error(start, "unexpected colon " + go_quote_rune(r));
      got_colon_ = true;
      return token(TokenKind::kColon, start);
    }
    while (pos_ < in_.size() && (is_alnum(in_[pos_]) || in_[pos_] == ':')) ++pos_;
    Token t = token(TokenKind::kIdentifier, start);
    if (iequals(t.text, "inf") || iequals(t.text, "nan")) {
      t.kind = TokenKind::kNumber;
      t.number = iequals(t.text, "inf") ? std::numeric_limits<double>::infinity()
                                        : std::numeric_limits<double>::quiet_NaN();
    }
    return t;
  }
  return error(start, "unexpected character: " + go_quote_rune(r));
}

Result<Token> Lexer::next_inside_braces() {
  skip_space_and_comments();
  const std::size_t start = pos_;
  if (pos_ >= in_.size()) return error(start, "unexpected end of input inside braces");
  const auto [r, len] = decode_rune(in_, pos_);
  pos_ += len;
  if (is_alpha(r)) {
    while (pos_ < in_.size() && is_alnum(in_[pos_])) ++pos_;
    Token t = token(TokenKind::kIdentifier, start);
    t.in_braces = true;
    return t;
  }
  switch (r) {
    case ',':
      return token(TokenKind::kComma, start);
    case '"':
    case '\'':
    case '`':
      pos_ = start;
      return lex_string(static_cast<char>(r));
    case '=':
      if (pos_ < in_.size() && in_[pos_] == '~') {
        ++pos_;
        return token(TokenKind::kRegexMatch, start);
      }
      return token(TokenKind::kAssign, start);
    case '!': {
      const std::int32_t next = take_rune();
      if (next == '~') return token(TokenKind::kRegexNoMatch, start);
      if (next == '=') return token(TokenKind::kNotEqual, start);
      return error(start, "unexpected character after '!' inside braces: " + go_quote_rune(next));
    }
    case '{':
      return error(start, "unexpected left brace '{'");
    case '}':
      brace_open_ = false;
      return token(TokenKind::kRightBrace, start);
    default:
      return error(start, "unexpected character inside braces: " + go_quote_rune(r));
  }
}

bool Lexer::scan_number() {
  std::string_view digits = "0123456789";
  if (accept("0") && accept("xX")) digits = "0123456789abcdefABCDEF";
  while (accept(digits)) {
  }
  if (accept(".")) {
    while (accept(digits)) {
    }
  }
  if (accept("eE")) {
    accept("+-");
    while (accept("0123456789")) {
    }
  }
  return pos_ >= in_.size() || !is_alnum(in_[pos_]);
}

bool Lexer::accept_remaining_duration() {
  if (!accept("smhdwy")) return false;
  accept("s");  // ms; bad units like "hs" are the duration parser's to reject
  while (accept("0123456789")) {
    while (accept("0123456789")) {
    }
    if (!accept("smhdw")) return false;  // y only comes first
    accept("s");
  }
  // Prometheus reads one more character here; what follows the duration must not be a letter or
  // digit, which then belongs to its error text.
  if (pos_ < in_.size() && is_alnum(in_[pos_])) {
    ++pos_;
    return false;
  }
  return true;
}

Result<Token> Lexer::lex_duration() {
  const std::size_t start = pos_;
  if (scan_number()) return error(start, "missing unit character in duration");
  if (!accept_remaining_duration()) {
    return error(start, "bad duration syntax: " + go_quote(in_.substr(start, pos_ - start)));
  }
  return token(TokenKind::kDuration, start);
}

Result<Token> Lexer::lex_number_or_duration() {
  const std::size_t start = pos_;
  if (scan_number()) {
    Token t = token(TokenKind::kNumber, start);
    // Prometheus' parseNumber: strconv.ParseInt(s, 0, 64), else strconv.ParseFloat(s, 64).
    if (auto n = parse_int_base0(t.text)) {
      t.number = static_cast<double>(*n);
      return t;
    }
    const char* first = t.text.data();
    const char* last = first + t.text.size();
    auto [ptr, ec] = std::from_chars(first, last, t.number, std::chars_format::general);
    if (ec == std::errc::result_out_of_range && ptr == last) {
      // Go returns ±Inf with an error past the largest double, and 0 or a subnormal below.
      t.number = std::strtod(std::string(t.text).c_str(), nullptr);
      if (std::isinf(t.number)) {
        return error(start, "error parsing number: strconv.ParseFloat: parsing " +
                                go_quote(t.text) + ": value out of range");
      }
    } else if (ec != std::errc() || ptr != last) {
      return error(start, "error parsing number: strconv.ParseFloat: parsing " + go_quote(t.text) +
                              ": invalid syntax");
    }
    return t;
  }
  if (accept_remaining_duration()) return token(TokenKind::kDuration, start);
  return error(start,
               "bad number or duration syntax: " + go_quote(in_.substr(start, pos_ - start)));
}

Result<Token> Lexer::lex_string(char quote) {
  // Errors stand at the opening quote, as Prometheus' lexer reports them.
  Token t;
  t.pos = pos_;
  t.kind = TokenKind::kString;
  const std::size_t start = pos_;
  std::size_t p = pos_ + 1;
  if (quote == '`') {
    while (true) {
      if (p >= in_.size()) return error(start, "unterminated raw string");
      const auto [r, len] = decode_rune(in_, p);
      if (r == kRuneError) return error(start, "invalid UTF-8 rune");
      p += len;
      if (r == '`') break;
      t.value.append(in_, p - len, len);
    }
    pos_ = p;
    t.text = in_.substr(start, pos_ - start);
    return t;
  }
  // The next code point of the escape, kEofRune at the end of the input.
  auto next_rune = [&]() -> std::int32_t {
    if (p >= in_.size()) return kEofRune;
    const auto [r, len] = decode_rune(in_, p);
    p += len;
    return r;
  };
  while (true) {
    if (p >= in_.size()) return error(start, "unterminated quoted string");
    const auto [r, len] = decode_rune(in_, p);
    p += len;
    if (r == quote) break;
    if (r == '\n') return error(start, "unterminated quoted string");
    if (r == kRuneError) return error(start, "invalid UTF-8 rune");
    if (r != '\\') {
      t.value.append(in_, p - len, len);
      continue;
    }
    std::int32_t ch = next_rune();
    int n = 0;
    std::uint32_t base = 0;
    std::uint32_t max = 0;
    switch (ch) {
      case 'a':
        t.value += '\a';
        continue;
      case 'b':
        t.value += '\b';
        continue;
      case 'f':
        t.value += '\f';
        continue;
      case 'n':
        t.value += '\n';
        continue;
      case 'r':
        t.value += '\r';
        continue;
      case 't':
        t.value += '\t';
        continue;
      case 'v':
        t.value += '\v';
        continue;
      case '\\':
        t.value += '\\';
        continue;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        n = 3;
        base = 8;
        max = 255;
        break;
      case 'x':
        ch = next_rune();
        n = 2;
        base = 16;
        max = 255;
        break;
      case 'u':
        ch = next_rune();
        n = 4;
        base = 16;
        max = 0x10ffff;
        break;
      case 'U':
        ch = next_rune();
        n = 8;
        base = 16;
        max = 0x10ffff;
        break;
      case kEofRune:
        return error(start, "escape sequence not terminated");
      default:
        if (ch == quote) {
          t.value += quote;
          continue;
        }
        return error(start, "unknown escape sequence " + go_unicode(ch));
    }
    std::uint32_t x = 0;
    for (; n > 0; --n) {
      std::uint32_t d = 16;
      if (ch >= 0 && ch < 0x80 && is_hex(static_cast<char>(ch))) {
        d = static_cast<std::uint32_t>(hex_value(static_cast<char>(ch)));
      }
      if (d >= base) {
        if (ch == kEofRune) return error(start, "escape sequence not terminated");
        return error(start, "illegal character " + go_unicode(ch) + " in escape sequence");
      }
      x = x * base + d;
      if (n > 1) ch = next_rune();
    }
    if (x > max || (x >= 0xd800 && x < 0xe000)) {
      return error(start, "escape sequence is an invalid Unicode code point");
    }
    // \x and octal escapes are bytes; \u and \U code points (Go's UnquoteChar).
    if (max == 255) {
      t.value += static_cast<char>(x);
    } else {
      append_utf8(t.value, x);
    }
  }
  pos_ = p;
  t.text = in_.substr(start, pos_ - start);
  return t;
}

}  // namespace edgesketch::query
