// Internal to the JSON payload parsers (json_payload.cc, json_fields_payload.cc): a small
// recursive-descent reader over one JSON text that reads exactly what its caller asks for and
// skips the rest (any value, nesting bounded). Errors are malformed_json with the byte offset.
#pragma once

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgesketch/common/status.h"
#include "input/number_text.h"
#include "input/payload_text.h"

namespace edgesketch::agent {

// Deepest nesting of objects and arrays accepted.
inline constexpr int kMaxJsonDepth = 32;

class JsonReader {
 public:
  explicit JsonReader(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  Status error(std::string_view what) const {
    return text_error(kMalformedJson,
                      "json: offset " + std::to_string(p_ - begin_) + ": " + std::string(what));
  }

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool at_end() {
    ws();
    return p_ == end_;
  }
  // Consumes c (after whitespace) when it is next.
  bool eat(char c) {
    ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  char peek() {
    ws();
    return p_ < end_ ? *p_ : '\0';
  }

  Status expect(char c) {
    if (eat(c)) return Status();
    return error(std::string("expected '") + c + "'");
  }

  // A string into *out (replacing it), escapes decoded.
  Status string(std::string& out) {
    ws();
    if (p_ == end_ || *p_ != '"') return error("expected a string");
    ++p_;
    out.clear();
    const char* run = p_;
    while (true) {
      if (p_ == end_) return error("unterminated string");
      const char c = *p_;
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in a string");
      if (c != '\\') {
        ++p_;
        continue;
      }
      out.append(run, p_);
      ++p_;
      if (p_ == end_) return error("unterminated escape");
      const char e = *p_++;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          std::uint32_t cp = 0;
          ES_RETURN_IF_ERROR(hex4(cp));
          if (cp >= 0xd800 && cp <= 0xdbff) {
            std::uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return error("lone surrogate");
            p_ += 2;
            ES_RETURN_IF_ERROR(hex4(lo));
            if (lo < 0xdc00 || lo > 0xdfff) return error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return error("lone surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return error("bad escape");
      }
      run = p_;
    }
    out.append(run, p_);
    ++p_;  // closing quote
    return Status();
  }

  // A number token as text (validated by the caller's conversion).
  Status number_token(std::string_view& out) {
    ws();
    const char* start = p_;
    while (p_ < end_ && (std::isdigit(static_cast<unsigned char>(*p_)) || *p_ == '-' ||
                         *p_ == '+' || *p_ == '.' || *p_ == 'e' || *p_ == 'E')) {
      ++p_;
    }
    if (p_ == start) return error("expected a number");
    out = std::string_view(start, static_cast<std::size_t>(p_ - start));
    return Status();
  }

  Status number(double& out) {
    std::string_view tok;
    ES_RETURN_IF_ERROR(number_token(tok));
    if (tok.front() == '+') return error("bad number");
    // Out of range: non-finite, the aggregator counts it.
    if (!parse_decimal(tok, out)) return error("bad number");
    return Status();
  }

  // An integer; a number with a fraction or exponent is accepted when it is integral.
  Status integer(std::int64_t& out) {
    std::string_view tok;
    ES_RETURN_IF_ERROR(number_token(tok));
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
    if (ec == std::errc() && end == tok.data() + tok.size()) return Status();
    double d = 0;
    auto [dend, dec] = std::from_chars(tok.data(), tok.data() + tok.size(), d);
    if (dec != std::errc() || dend != tok.data() + tok.size() || d != std::floor(d) ||
        std::fabs(d) > 9.0e15) {
      return text_error(kBadTimestamp, "json: offset " + std::to_string(p_ - begin_) +
                                           ": timestamp \"" + std::string(tok) +
                                           "\" is not an integer number of milliseconds");
    }
    out = static_cast<std::int64_t>(d);
    return Status();
  }

  // Skips any value.
  Status skip(int depth) {
    if (depth > kMaxJsonDepth) return error("nesting deeper than 32");
    const char c = peek();
    if (c == '"') return string(skip_scratch_);
    if (c == '{') {
      ++p_;
      if (eat('}')) return Status();
      do {
        ES_RETURN_IF_ERROR(string(skip_scratch_));
        ES_RETURN_IF_ERROR(expect(':'));
        ES_RETURN_IF_ERROR(skip(depth + 1));
      } while (eat(','));
      return expect('}');
    }
    if (c == '[') {
      ++p_;
      if (eat(']')) return Status();
      do {
        ES_RETURN_IF_ERROR(skip(depth + 1));
      } while (eat(','));
      return expect(']');
    }
    for (std::string_view lit : {"true", "false", "null"}) {
      if (static_cast<std::size_t>(end_ - p_) >= lit.size() &&
          std::string_view(p_, lit.size()) == lit) {
        p_ += lit.size();
        return Status();
      }
    }
    double d = 0;
    return number(d);
  }

  bool null_literal() { return literal("null"); }

  // Consumes `lit` (after whitespace) when it is next.
  bool literal(std::string_view lit) {
    ws();
    if (static_cast<std::size_t>(end_ - p_) >= lit.size() &&
        std::string_view(p_, lit.size()) == lit) {
      p_ += lit.size();
      return true;
    }
    return false;
  }

  // Bytes read so far.
  std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }

 private:
  Status hex4(std::uint32_t& out) {
    if (end_ - p_ < 4) return error("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return error("bad \\u escape");
      }
    }
    return Status();
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));  // \u0000 becomes NUL; check_reading rejects it
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  std::string skip_scratch_;
};

}  // namespace edgesketch::agent
