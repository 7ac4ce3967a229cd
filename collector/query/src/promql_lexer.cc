// Lexer of the PromQL subset.
#include "promql_lexer.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

namespace edgesketch::query {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
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

}  // namespace

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
  switch (t.kind) {
    case TokenKind::kEof:
      return "end of input";
    case TokenKind::kIdentifier:
      return fmt::format("identifier \"{}\"", t.text);
    case TokenKind::kNumber:
      return fmt::format("number \"{}\"", t.text);
    case TokenKind::kString:
      return fmt::format("string {}", t.text);
    default:
      return fmt::format("\"{}\"", t.text);
  }
}

Status Lexer::error(std::size_t pos, std::string message) {
  error_pos_ = pos;
  return Status::invalid_argument(std::move(message));
}

void Lexer::skip_space_and_comments() {
  while (pos_ < in_.size()) {
    const char c = in_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
}

Result<Token> Lexer::next() {
  skip_space_and_comments();
  Token t;
  t.pos = pos_;
  if (pos_ >= in_.size()) {
    t.kind = TokenKind::kEof;
    return t;
  }
  const char c = in_[pos_];
  auto single = [&](TokenKind k, std::size_t len) {
    t.kind = k;
    t.text = in_.substr(pos_, len);
    pos_ += len;
    return t;
  };
  const char c2 = pos_ + 1 < in_.size() ? in_[pos_ + 1] : '\0';
  switch (c) {
    case '(':
      return single(TokenKind::kLeftParen, 1);
    case ')':
      return single(TokenKind::kRightParen, 1);
    case '{':
      return single(TokenKind::kLeftBrace, 1);
    case '}':
      return single(TokenKind::kRightBrace, 1);
    case '[':
      return single(TokenKind::kLeftBracket, 1);
    case ']':
      return single(TokenKind::kRightBracket, 1);
    case ',':
      return single(TokenKind::kComma, 1);
    case '+':
      return single(TokenKind::kAdd, 1);
    case '-':
      return single(TokenKind::kSub, 1);
    case '*':
      return single(TokenKind::kMul, 1);
    case '/':
      return single(TokenKind::kDiv, 1);
    case '%':
      return single(TokenKind::kMod, 1);
    case '^':
      return single(TokenKind::kPow, 1);
    case '@':
      return single(TokenKind::kAt, 1);
    case ':':
      return single(TokenKind::kColon, 1);
    case '=':
      if (c2 == '~') return single(TokenKind::kRegexMatch, 2);
      if (c2 == '=') return single(TokenKind::kEqlc, 2);
      return single(TokenKind::kAssign, 1);
    case '!':
      if (c2 == '~') return single(TokenKind::kRegexNoMatch, 2);
      if (c2 == '=') return single(TokenKind::kNotEqual, 2);
      return error(pos_, "unexpected character after '!': expected '=' or '~'");
    case '<':
      return c2 == '=' ? single(TokenKind::kLte, 2) : single(TokenKind::kLss, 1);
    case '>':
      return c2 == '=' ? single(TokenKind::kGte, 2) : single(TokenKind::kGtr, 1);
    case '"':
    case '\'':
    case '`':
      return lex_string(c);
    default:
      break;
  }
  if (is_digit(c) || (c == '.' && is_digit(c2))) return lex_number();
  if (is_alpha(c) || c == ':') {
    std::size_t end = pos_;
    while (end < in_.size() && (is_alpha(in_[end]) || is_digit(in_[end]) || in_[end] == ':')) {
      ++end;
    }
    t.text = in_.substr(pos_, end - pos_);
    pos_ = end;
    if (iequals(t.text, "inf") || iequals(t.text, "nan")) {
      t.kind = TokenKind::kNumber;
      t.number = iequals(t.text, "inf") ? std::numeric_limits<double>::infinity()
                                        : std::numeric_limits<double>::quiet_NaN();
      return t;
    }
    t.kind = TokenKind::kIdentifier;
    return t;
  }
  if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
    return error(pos_,
                 fmt::format("unexpected character: '\\x{:02x}'", static_cast<unsigned char>(c)));
  }
  return error(pos_, fmt::format("unexpected character: '{}'", c));
}

Result<Token> Lexer::lex_number() {
  Token t;
  t.pos = pos_;
  t.kind = TokenKind::kNumber;
  std::size_t end = pos_;
  if (in_[end] == '0' && end + 1 < in_.size() && (in_[end + 1] == 'x' || in_[end + 1] == 'X')) {
    end += 2;
    std::uint64_t v = 0;
    bool overflow = false;
    const std::size_t digits_start = end;
    while (end < in_.size() && is_hex(in_[end])) {
      if (v > (std::numeric_limits<std::uint64_t>::max() >> 4)) overflow = true;
      v = (v << 4) | static_cast<std::uint64_t>(hex_value(in_[end]));
      ++end;
    }
    if (end == digits_start) return error(pos_, "bad number: hex literal without digits");
    if (overflow) return error(pos_, "bad number: hex literal overflows 64 bits");
    t.number = static_cast<double>(v);
  } else {
    while (end < in_.size() && is_digit(in_[end])) ++end;
    if (end < in_.size() && in_[end] == '.') {
      ++end;
      while (end < in_.size() && is_digit(in_[end])) ++end;
    }
    if (end < in_.size() && (in_[end] == 'e' || in_[end] == 'E')) {
      std::size_t e = end + 1;
      if (e < in_.size() && (in_[e] == '+' || in_[e] == '-')) ++e;
      if (e < in_.size() && is_digit(in_[e])) {
        while (e < in_.size() && is_digit(in_[e])) ++e;
        end = e;
      }
    }
    const char* first = in_.data() + pos_;
    const char* last = in_.data() + end;
    auto [ptr, ec] = std::from_chars(first, last, t.number);
    if (ec == std::errc::result_out_of_range) {
      // from_chars reports overflow; PromQL (Go's ParseFloat) yields ±Inf or 0 then.
      t.number = std::strtod(std::string(first, last).c_str(), nullptr);
    } else if (ec != std::errc() || ptr != last) {
      return error(pos_, fmt::format("bad number: \"{}\"", std::string_view(first, end - pos_)));
    }
  }
  // A number directly followed by a letter ("5m" outside brackets, "1x") is not valid.
  if (end < in_.size() && (is_alpha(in_[end]) || in_[end] == ':')) {
    std::size_t e = end;
    while (e < in_.size() && (is_alpha(in_[e]) || is_digit(in_[e]))) ++e;
    return error(pos_,
                 fmt::format("bad number or duration syntax: \"{}\"", in_.substr(pos_, e - pos_)));
  }
  t.text = in_.substr(pos_, end - pos_);
  pos_ = end;
  return t;
}

Result<Token> Lexer::lex_string(char quote) {
  Token t;
  t.pos = pos_;
  t.kind = TokenKind::kString;
  std::size_t p = pos_ + 1;
  if (quote == '`') {
    const std::size_t close = in_.find('`', p);
    if (close == std::string_view::npos) return error(pos_, "unterminated raw string");
    t.value = std::string(in_.substr(p, close - p));
    pos_ = close + 1;
    t.text = in_.substr(t.pos, pos_ - t.pos);
    return t;
  }
  while (true) {
    if (p >= in_.size()) return error(pos_, "unterminated quoted string");
    const char c = in_[p];
    if (c == quote) {
      ++p;
      break;
    }
    if (c == '\n') return error(p, "unterminated quoted string (newline in string)");
    if (c != '\\') {
      t.value += c;
      ++p;
      continue;
    }
    if (++p >= in_.size()) return error(pos_, "unterminated quoted string");
    const char e = in_[p++];
    switch (e) {
      case 'a':
        t.value += '\a';
        break;
      case 'b':
        t.value += '\b';
        break;
      case 'f':
        t.value += '\f';
        break;
      case 'n':
        t.value += '\n';
        break;
      case 'r':
        t.value += '\r';
        break;
      case 't':
        t.value += '\t';
        break;
      case 'v':
        t.value += '\v';
        break;
      case '\\':
        t.value += '\\';
        break;
      case '"':
      case '\'':
        if (e != quote) return error(p - 2, fmt::format("unknown escape sequence \\{}", e));
        t.value += e;
        break;
      case 'x':
      case 'u':
      case 'U': {
        const int digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        if (p + static_cast<std::size_t>(digits) > in_.size()) {
          return error(p - 2, "escape sequence is too short");
        }
        std::uint32_t v = 0;
        for (int i = 0; i < digits; ++i) {
          if (!is_hex(in_[p])) return error(p, "invalid character in escape sequence");
          v = (v << 4) | static_cast<std::uint32_t>(hex_value(in_[p++]));
        }
        if (e == 'x') {
          t.value += static_cast<char>(v);
        } else {
          if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) {
            return error(p - static_cast<std::size_t>(digits) - 2,
                         "escape sequence is an invalid Unicode code point");
          }
          append_utf8(t.value, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (p + 2 > in_.size()) return error(p - 2, "escape sequence is too short");
          std::uint32_t v = static_cast<std::uint32_t>(e - '0');
          for (int i = 0; i < 2; ++i) {
            const char d = in_[p++];
            if (d < '0' || d > '7') return error(p - 1, "invalid character in escape sequence");
            v = v * 8 + static_cast<std::uint32_t>(d - '0');
          }
          if (v > 255) return error(p - 4, "octal escape value > 255");
          t.value += static_cast<char>(v);
          break;
        }
        return error(p - 2, fmt::format("unknown escape sequence \\{}", e));
    }
  }
  pos_ = p;
  t.text = in_.substr(t.pos, pos_ - t.pos);
  return t;
}

std::string_view Lexer::read_duration() {
  skip_space_and_comments();
  const std::size_t start = pos_;
  while (pos_ < in_.size() && (is_alpha(in_[pos_]) || is_digit(in_[pos_]))) ++pos_;
  return in_.substr(start, pos_ - start);
}

bool Lexer::consume(char c) {
  if (peek() != c) return false;
  ++pos_;
  return true;
}

char Lexer::peek() {
  skip_space_and_comments();
  return pos_ < in_.size() ? in_[pos_] : '\0';
}

}  // namespace edgesketch::query
