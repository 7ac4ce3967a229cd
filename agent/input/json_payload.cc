// The JSON payload format (docs/agent.md, "JSON"): a small recursive-descent reader for exactly
// the shapes we accept. Unknown keys are skipped (any JSON value, nesting bounded), so devices
// may send more than we read.
#include <cstdint>
#include <string>
#include <string_view>

#include "input/json_reader.h"
#include "input/payload_parser.h"
#include "input/payload_text.h"

namespace edgesketch::agent {
namespace {

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
                                 const TopicFields& topic) {
  const wire::Limits& limits = options_.limits;
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
  if (s.ok()) s = finish_readings(out, first, batch_device_, topic);
  if (!s.ok()) out.truncate(first);
  return s;
}

}  // namespace edgesketch::agent
