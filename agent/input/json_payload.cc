// The JSON payload format (docs/agent.md, "JSON"): a small recursive-descent reader for exactly
// the shapes we accept. Unknown keys are skipped (any JSON value, nesting bounded), so devices
// may send more than we read.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "input/payload_parser.h"
#include "input/payload_text.h"

namespace edgesketch::agent {
namespace {

constexpr int kMaxDepth = 32;

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
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
    if (ec == std::errc::result_out_of_range) {
      out = tok.front() == '-' ? -HUGE_VAL : HUGE_VAL;  // non-finite: the aggregator counts it
      return Status();
    }
    if (ec != std::errc() || end != tok.data() + tok.size()) return error("bad number");
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
    if (depth > kMaxDepth) return error("nesting deeper than 32");
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

  bool null_literal() {
    ws();
    if (end_ - p_ >= 4 && std::string_view(p_, 4) == "null") {
      p_ += 4;
      return true;
    }
    return false;
  }

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

// What a reading object had.
struct ReadingFields {
  bool metric = false;
  bool ts = false;
  bool value = false;
  bool label = false;
};

// Reads {"k":"v",...} into tags (replacing them).
Status read_tags(JsonReader& j, std::vector<wire::Tag>& tags, std::size_t max_tags) {
  tags.clear();
  ES_RETURN_IF_ERROR(j.expect('{'));
  if (j.eat('}')) return Status();
  do {
    if (tags.size() >= max_tags * 2 + 2) {
      return text_error(wire::ErrorReason::kTooManyTags, "json: too many tags");
    }
    tags.emplace_back();
    ES_RETURN_IF_ERROR(j.string(tags.back().key));
    ES_RETURN_IF_ERROR(j.expect(':'));
    if (j.peek() != '"') return j.error("tag values must be strings");
    ES_RETURN_IF_ERROR(j.string(tags.back().value));
  } while (j.eat(','));
  return j.expect('}');
}

// Handles one key of a reading object. Returns false in *known when the key is not a reading
// field (the caller skips or handles it).
Status reading_key(JsonReader& j, const std::string& key, wire::Reading& r, ReadingFields& f,
                   std::size_t max_tags, bool& known) {
  known = true;
  if (key == "metric") {
    f.metric = true;
    return j.string(r.metric);
  }
  if (key == "ts_ms" || key == "ts" || key == "timestamp_ms") {
    f.ts = true;
    return j.integer(r.ts_ms);
  }
  if (key == "value") {
    if (j.null_literal()) return Status();
    f.value = true;
    return j.number(r.value);
  }
  if (key == "label") {
    if (j.null_literal()) return Status();
    f.label = true;
    r.is_label = true;
    return j.string(r.label);
  }
  if (key == "device_id" || key == "device") return j.string(r.device_id);
  if (key == "tags") return read_tags(j, r.tags, max_tags);
  known = false;
  return Status();
}

Status check_fields(JsonReader& j, const ReadingFields& f) {
  if (!f.metric)
    return text_error(wire::ErrorReason::kMissingField, "json: a reading has no \"metric\"");
  if (!f.ts)
    return text_error(wire::ErrorReason::kMissingField, "json: a reading has no \"ts_ms\"");
  if (f.value == f.label) {
    return text_error(wire::ErrorReason::kMissingField,
                      "json: a reading needs exactly one of \"value\" and \"label\"");
  }
  (void)j;
  return Status();
}

Status read_reading(JsonReader& j, ReadingBuffer& out, std::size_t max_readings,
                    std::size_t max_tags, std::string& key, std::size_t first) {
  if (out.size() - first >= max_readings) {
    return text_error(
        wire::ErrorReason::kTooManyReadings,
        "json: more than max_readings_per_batch " + std::to_string(max_readings) + " readings");
  }
  wire::Reading& r = out.append();
  ReadingFields f;
  ES_RETURN_IF_ERROR(j.expect('{'));
  if (!j.eat('}')) {
    do {
      ES_RETURN_IF_ERROR(j.string(key));
      ES_RETURN_IF_ERROR(j.expect(':'));
      bool known = false;
      ES_RETURN_IF_ERROR(reading_key(j, key, r, f, max_tags, known));
      if (!known) ES_RETURN_IF_ERROR(j.skip(1));
    } while (j.eat(','));
    ES_RETURN_IF_ERROR(j.expect('}'));
  }
  return check_fields(j, f);
}

}  // namespace

Status PayloadParser::parse_json(std::string_view payload, ReadingBuffer& out,
                                 std::string_view topic_device) {
  const wire::Limits& limits = options_.limits;
  if (payload.size() > limits.max_payload_bytes) {
    return text_error(wire::ErrorReason::kPayloadTooLarge,
                      "json: " + std::to_string(payload.size()) +
                          " bytes exceed max_payload_bytes " +
                          std::to_string(limits.max_payload_bytes));
  }
  const std::size_t first = out.size();
  batch_tags_.clear();
  batch_device_.clear();
  JsonReader j(payload);
  std::string key;
  auto body = [&]() -> Status {
    if (j.peek() == '[') {
      // An array of reading objects.
      j.eat('[');
      if (!j.eat(']')) {
        do {
          ES_RETURN_IF_ERROR(
              read_reading(j, out, limits.max_readings_per_batch, limits.max_tags, key, first));
        } while (j.eat(','));
        ES_RETURN_IF_ERROR(j.expect(']'));
      }
    } else {
      // A batch object, possibly itself a single reading (top-level "metric", "value", ...).
      ES_RETURN_IF_ERROR(j.expect('{'));
      constexpr std::size_t kNone = static_cast<std::size_t>(-1);
      std::size_t single = kNone;  // index, not pointer: "readings" may grow the buffer
      ReadingFields f;
      if (!j.eat('}')) {
        do {
          ES_RETURN_IF_ERROR(j.string(key));
          ES_RETURN_IF_ERROR(j.expect(':'));
          if (key == "device_id" || key == "device") {
            ES_RETURN_IF_ERROR(j.string(batch_device_));
          } else if (key == "tags") {
            ES_RETURN_IF_ERROR(read_tags(j, batch_tags_, limits.max_tags));
          } else if (key == "readings") {
            ES_RETURN_IF_ERROR(j.expect('['));
            if (!j.eat(']')) {
              do {
                ES_RETURN_IF_ERROR(read_reading(j, out, limits.max_readings_per_batch,
                                                limits.max_tags, key, first));
              } while (j.eat(','));
              ES_RETURN_IF_ERROR(j.expect(']'));
            }
            // The reading slots may have moved; the single reading is found again below.
          } else if (key == "metric" || key == "ts_ms" || key == "ts" || key == "timestamp_ms" ||
                     key == "value" || key == "label") {
            if (single == kNone) {
              if (out.size() - first >= limits.max_readings_per_batch) {
                return text_error(wire::ErrorReason::kTooManyReadings, "json: too many readings");
              }
              out.append();
              single = out.size() - 1;
            }
            bool known = false;
            ES_RETURN_IF_ERROR(reading_key(j, key, out[single], f, limits.max_tags, known));
          } else {
            ES_RETURN_IF_ERROR(j.skip(1));
          }
        } while (j.eat(','));
        ES_RETURN_IF_ERROR(j.expect('}'));
      }
      if (single != kNone) {
        if (out.size() - first != 1) {
          return j.error("an object is either one reading or a batch with \"readings\", not both");
        }
        ES_RETURN_IF_ERROR(check_fields(j, f));
      }
    }
    if (!j.at_end()) return j.error("trailing characters after the JSON value");
    return Status();
  };
  Status s = body();
  if (s.ok()) s = finish_readings(out, first, batch_device_, topic_device);
  if (!s.ok()) out.truncate(first);
  return s;
}

}  // namespace edgesketch::agent
