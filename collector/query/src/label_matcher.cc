// Label matchers backed by RE2.
#include "edgesketch/query/label_matcher.h"

#include <re2/re2.h>

#include <fmt/format.h>

#include "edgesketch/common/utf8.h"

namespace edgesketch::query {

std::string_view match_op_string(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual:
      return "=";
    case MatchOp::kNotEqual:
      return "!=";
    case MatchOp::kRegexMatch:
      return "=~";
    case MatchOp::kRegexNoMatch:
      return "!~";
  }
  return "?";
}

namespace {

// Go's regexp/syntax error texts, which Prometheus reports: RE2 and Go's parser (a port of RE2's)
// fail on the same patterns with the same offending fragment (error_arg()).
std::string_view go_regexp_error(RE2::ErrorCode code) {
  switch (code) {
    case RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case RE2::ErrorBadCharClass:
      return "invalid character class";
    case RE2::ErrorBadCharRange:
      return "invalid character class range";
    case RE2::ErrorMissingBracket:
      return "missing closing ]";
    case RE2::ErrorMissingParen:
      return "missing closing )";
    case RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      return "regexp/syntax: internal error";
  }
}

}  // namespace

Result<LabelMatcher> LabelMatcher::make(std::string name, MatchOp op, std::string value) {
  LabelMatcher m;
  m.name_ = std::move(name);
  m.op_ = op;
  m.value_ = std::move(value);
  if (op == MatchOp::kRegexMatch || op == MatchOp::kRegexNoMatch) {
    if (m.value_.size() > kMaxRegexBytes) {
      return Status::invalid_argument(
          fmt::format("regex for label {} is {} bytes long; the limit is {}", m.name_,
                      m.value_.size(), kMaxRegexBytes));
    }
    RE2::Options options;
    options.set_log_errors(false);
    options.set_dot_nl(true);      // Prometheus anchors as ^(?s:re)$
    options.set_max_mem(8 << 20);  // bounded program size for hostile patterns
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", options);
    if (!re->ok()) {
      return Status::invalid_argument(fmt::format(
          "error parsing regexp: {}: `{}`", go_regexp_error(re->error_code()), re->error_arg()));
    }
    m.re_ = std::move(re);
  }
  return m;
}

bool LabelMatcher::matches(std::string_view value) const {
  switch (op_) {
    case MatchOp::kEqual:
      return value == value_;
    case MatchOp::kNotEqual:
      return value != value_;
    case MatchOp::kRegexMatch:
      return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
    case MatchOp::kRegexNoMatch:
      return !RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
  }
  return false;
}

std::string LabelMatcher::to_string() const {
  return name_ + std::string(match_op_string(op_)) + quote_promql_string(value_);
}

bool matches_all(const Labels& labels, std::span<const LabelMatcher> matchers) {
  for (const auto& m : matchers) {
    if (!m.matches(labels)) return false;
  }
  return true;
}

std::string quote_promql_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        out += fmt::format("\\x{:02x}", c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Non-ASCII: a valid UTF-8 sequence as it is, any other byte as \xNN (PromQL's lexer rejects
    // invalid UTF-8 in strings, and U+FFFD with it, so those are escaped too).
    const Utf8Rune r = decode_utf8(s, i);
    const std::size_t len = r.len;
    if (r.cp < 0) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else if (s.substr(i, len) == "\xef\xbf\xbd") {
      out += "\\ufffd";
      i += len;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  out += '"';
  return out;
}

}  // namespace edgesketch::query
