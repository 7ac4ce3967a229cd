// Independent payload decoders and a record-to-messages reader for the simulator's tests.
#include "decoded_message.h"

#include <pb_decode.h>

#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>

#include "edgesketch.pb.h"
#include "payload_format.h"
#include "record_reader.h"

namespace edgesketch::sim::test {
namespace {

Status bad(std::string what) { return Status::corruption(std::move(what)); }

// Splits at unescaped `sep` (line protocol escapes with a backslash).
std::vector<std::string> split_unescaped(std::string_view s, char sep) {
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      parts.back().push_back(s[++i]);
    } else if (s[i] == sep) {
      parts.emplace_back();
    } else {
      parts.back().push_back(s[i]);
    }
  }
  return parts;
}

// Like split_unescaped(' '), but keeps escapes in place for a second split of the parts, and
// never splits inside a double-quoted string field value.
std::vector<std::string> split_line_sections(std::string_view s) {
  std::vector<std::string> parts(1);
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      parts.back().push_back(c);
      parts.back().push_back(s[++i]);
    } else if (c == '"') {
      quoted = !quoted;
      parts.back().push_back(c);
    } else if (c == ' ' && !quoted) {
      parts.emplace_back();
    } else {
      parts.back().push_back(c);
    }
  }
  return parts;
}

}  // namespace

Result<DecodedMessage> decode_nanopb_payload(std::string_view payload) {
  auto msg = std::make_unique<edgesketch_v1_ReadingBatch>();
  *msg = edgesketch_v1_ReadingBatch_init_zero;
  pb_istream_t in =
      pb_istream_from_buffer(reinterpret_cast<const pb_byte_t*>(payload.data()), payload.size());
  if (!pb_decode(&in, edgesketch_v1_ReadingBatch_fields, msg.get())) {
    return bad(std::string("nanopb: ") + PB_GET_ERROR(&in));
  }
  DecodedMessage out;
  out.device_id = msg->device_id;
  out.batch_seq = msg->batch_seq;
  for (pb_size_t s = 0; s < msg->samples_count; ++s) {
    const edgesketch_v1_Samples& smp = msg->samples[s];
    const bool categorical = smp.labels_count > 0;
    const pb_size_t n = smp.ts_delta_ms_count;
    if ((categorical ? smp.labels_count : smp.values_count) != n ||
        (categorical && smp.values_count != 0)) {
      return bad("nanopb: Samples of " + std::string(smp.metric) +
                 " has mismatched column lengths");
    }
    std::int64_t ts = smp.base_ms;
    for (pb_size_t i = 0; i < n; ++i) {
      ts += smp.ts_delta_ms[i];
      DecodedReading r;
      r.metric = smp.metric;
      r.ts_ms = ts;
      r.categorical = categorical;
      if (categorical) {
        r.label = smp.labels[i];
      } else {
        r.value = smp.values[i];
      }
      out.readings.push_back(std::move(r));
    }
  }
  for (pb_size_t i = 0; i < msg->readings_count; ++i) {
    const edgesketch_v1_Reading& rd = msg->readings[i];
    DecodedReading r;
    r.metric = rd.metric;
    r.ts_ms = rd.ts_ms;
    r.categorical = rd.which_payload == edgesketch_v1_Reading_label_tag;
    if (r.categorical) {
      r.label = rd.payload.label;
    } else {
      r.value = rd.payload.value;
    }
    out.readings.push_back(std::move(r));
  }
  return out;
}

Result<DecodedMessage> decode_json_payload(std::string_view payload) {
  try {
    nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("json: not a JSON object");
    DecodedMessage out;
    if (!j.contains("device_id") || !j["device_id"].is_string() || !j.contains("readings") ||
        !j["readings"].is_array()) {
      return bad("json: missing device_id or readings");
    }
    out.device_id = j["device_id"].get<std::string>();
    if (j.contains("batch_seq")) out.batch_seq = j["batch_seq"].get<std::uint64_t>();
    for (const auto& jr : j["readings"]) {
      DecodedReading r;
      if (!jr.contains("metric") || !jr.contains("ts_ms")) return bad("json: reading lacks fields");
      r.metric = jr["metric"].get<std::string>();
      r.ts_ms = jr["ts_ms"].get<std::int64_t>();
      if (jr.contains("label")) {
        r.categorical = true;
        r.label = jr["label"].get<std::string>();
      } else if (jr.contains("value") && jr["value"].is_number()) {
        r.value = jr["value"].get<double>();
      } else {
        return bad("json: reading has neither value nor label");
      }
      out.readings.push_back(std::move(r));
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("json: ") + e.what());
  }
}

Result<DecodedMessage> decode_line_payload(std::string_view payload) {
  DecodedMessage out;
  if (payload.empty() || payload.back() != '\n') return bad("line: payload must end with \\n");
  std::size_t start = 0;
  while (start < payload.size()) {
    std::size_t nl = payload.find('\n', start);
    std::string_view line = payload.substr(start, nl - start);
    start = nl + 1;
    std::vector<std::string> sections = split_line_sections(line);
    if (sections.size() != 3) return bad("line: expected 'series fields timestamp'");
    std::vector<std::string> series = split_unescaped(sections[0], ',');
    DecodedReading r;
    r.metric = series[0];
    std::string device;
    for (std::size_t i = 1; i < series.size(); ++i) {
      auto eq = series[i].find('=');
      if (eq == std::string::npos) return bad("line: tag without '='");
      if (series[i].substr(0, eq) == "device") device = series[i].substr(eq + 1);
    }
    if (r.metric.empty() || device.empty()) return bad("line: no measurement or device tag");
    const std::string& field = sections[1];
    if (field.rfind("value=", 0) == 0) {
      std::string_view v = std::string_view(field).substr(6);
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), r.value);
      if (ec != std::errc() || end != v.data() + v.size()) return bad("line: bad float value");
    } else if (field.rfind("label=\"", 0) == 0 && field.size() >= 8 && field.back() == '"') {
      r.categorical = true;
      r.label = field.substr(7, field.size() - 8);
    } else {
      return bad("line: unknown field set '" + field + "'");
    }
    const std::string& ts = sections[2];
    auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), r.ts_ms);
    if (ec != std::errc() || end != ts.data() + ts.size()) return bad("line: bad timestamp");
    if (out.device_id.empty()) out.device_id = device;
    if (device != out.device_id) return bad("line: several devices in one payload");
    out.readings.push_back(std::move(r));
  }
  return out;
}

Result<DecodedMessage> decode_payload(PayloadFormat format, std::string_view payload) {
  switch (format) {
    case PayloadFormat::kNanopb:
      return decode_nanopb_payload(payload);
    case PayloadFormat::kJson:
      return decode_json_payload(payload);
    case PayloadFormat::kLine:
      return decode_line_payload(payload);
    case PayloadFormat::kJsonFields:
    case PayloadFormat::kValue:
      break;
  }
  return bad("decode_payload: a message per row or reading (decode_sim_message)");
}

namespace {

// One line-fields line: "iot,device=..,line=..,site=.. temperature=21.5,event=\"E001\" <ts>".
Status decode_fields_line(std::string_view line, DecodedReadings& out) {
  std::vector<std::string> sections = split_line_sections(line);
  if (sections.size() != 3) return bad("line-fields: expected 'series fields timestamp'");
  std::vector<std::string> series = split_unescaped(sections[0], ',');
  if (series[0] != kLineFieldsMeasurement) return bad("line-fields: unexpected measurement");
  std::string device;
  for (std::size_t i = 1; i < series.size(); ++i) {
    auto eq = series[i].find('=');
    if (eq == std::string::npos) return bad("line-fields: tag without '='");
    if (series[i].substr(0, eq) == "device") device = series[i].substr(eq + 1);
  }
  if (device.empty()) return bad("line-fields: no device tag");
  std::int64_t ts = 0;
  const std::string& t = sections[2];
  auto [tend, tec] = std::from_chars(t.data(), t.data() + t.size(), ts);
  if (tec != std::errc() || tend != t.data() + t.size()) return bad("line-fields: bad timestamp");
  std::vector<std::pair<std::string, DecodedReading>> readings;
  for (const std::string& field : split_unescaped(sections[1], ',')) {
    auto eq = field.find('=');
    if (eq == std::string::npos || eq == 0) return bad("line-fields: field without '='");
    DecodedReading r;
    r.metric = std::string(kLineFieldsMeasurement) + "_" + field.substr(0, eq);
    r.ts_ms = ts;
    const std::string_view v = std::string_view(field).substr(eq + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
      r.categorical = true;
      r.label = std::string(v.substr(1, v.size() - 2));
    } else {
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), r.value);
      if (ec != std::errc() || end != v.data() + v.size()) return bad("line-fields: bad value");
    }
    readings.emplace_back(device, std::move(r));
  }
  out.readings.insert(out.readings.end(), readings.begin(), readings.end());
  return Status();
}

std::string first_level(std::string_view topic) {
  return std::string(topic.substr(0, topic.find('/')));
}

}  // namespace

Result<DecodedReadings> decode_sim_message(SimFormat format, std::string_view topic,
                                           std::string_view payload) {
  DecodedReadings out;
  if (format.line_fields) {
    if (topic != kLineFieldsTopic) return bad("line-fields: unexpected topic");
    if (payload.empty() || payload.back() != '\n') return bad("line-fields: must end with \\n");
    std::size_t start = 0;
    while (start < payload.size()) {
      const std::size_t nl = payload.find('\n', start);
      if (!decode_fields_line(payload.substr(start, nl - start), out).ok()) ++out.bad_lines;
      start = nl + 1;
    }
    return out;
  }
  switch (format.payload) {
    case PayloadFormat::kJsonFields: {
      if (topic.find('/') != std::string_view::npos) return bad("json-fields: topic is <device>");
      // Keys in the order sent (the record's row order).
      nlohmann::ordered_json j =
          nlohmann::ordered_json::parse(payload, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) return bad("json-fields: not a JSON object");
      auto seen = j.find(kJsonFieldsTimeKey);
      if (seen == j.end() || !seen->is_number_integer()) return bad("json-fields: no last_seen");
      for (const auto& [key, v] : j.items()) {
        if (key == kJsonFieldsTimeKey) continue;
        DecodedReading r;
        r.metric = key;
        r.ts_ms = seen->get<std::int64_t>();
        if (v.is_string()) {
          r.categorical = true;
          r.label = v.get<std::string>();
        } else if (v.is_number()) {
          r.value = v.get<double>();
        } else {
          return bad("json-fields: a leaf neither number nor string");
        }
        out.readings.emplace_back(std::string(topic), std::move(r));
      }
      return out;
    }
    case PayloadFormat::kValue: {
      const std::size_t slash = topic.find('/');
      if (slash == std::string_view::npos || topic.find('/', slash + 1) != std::string_view::npos) {
        return bad("value: topic is <device>/<metric>");
      }
      DecodedReading r;
      r.metric = std::string(topic.substr(slash + 1));
      if (payload.empty()) return bad("value: empty");
      auto [end, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), r.value);
      if (ec != std::errc() || end != payload.data() + payload.size()) {
        for (char c : payload) {
          if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            return bad("value: neither a number nor a printable label");
          }
        }
        r.value = 0;
        r.categorical = true;
        r.label = std::string(payload);
      }
      out.readings.emplace_back(std::string(topic.substr(0, slash)), std::move(r));
      return out;
    }
    default:
      break;
  }
  ES_ASSIGN_OR_RETURN(DecodedMessage m, decode_payload(format.payload, payload));
  if (m.device_id != first_level(topic) || topic != m.device_id + "/readings") {
    return bad("topic " + std::string(topic) + " does not name device " + m.device_id);
  }
  for (DecodedReading& r : m.readings) out.readings.emplace_back(m.device_id, std::move(r));
  return out;
}

Result<std::vector<DecodedMessage>> read_record_messages(const std::string& path,
                                                         bool with_batch_seq) {
  ES_ASSIGN_OR_RETURN(auto reader, RecordReader::open(path));
  std::vector<DecodedMessage> out;
  RecordMessage m;
  for (;;) {
    ES_ASSIGN_OR_RETURN(bool more, reader->next(m));
    if (!more) break;
    DecodedMessage d;
    d.device_id = reader->devices()[m.header.device_id].name;
    if (with_batch_seq) d.batch_seq = m.header.batch_seq;
    d.record_flags = m.header.flags;
    for (const RecordedReading& rr : m.readings) {
      const RecordMetric& metric = reader->metrics()[rr.metric_id];
      DecodedReading r;
      r.metric = metric.name;
      r.ts_ms = rr.ts_ms;
      r.categorical = metric.categorical;
      if (metric.categorical) {
        r.label = reader->labels()[rr.label_id];
      } else {
        r.value = rr.value;
      }
      d.readings.push_back(std::move(r));
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::string describe(const DecodedMessage& m) {
  std::string s = m.device_id + " seq=" + (m.batch_seq ? std::to_string(*m.batch_seq) : "-") +
                  " readings=" + std::to_string(m.readings.size());
  if (!m.readings.empty()) {
    s += " first=" + m.readings[0].metric + "@" + std::to_string(m.readings[0].ts_ms);
  }
  return s;
}

}  // namespace edgesketch::sim::test
