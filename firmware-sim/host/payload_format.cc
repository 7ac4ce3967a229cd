// Payload encoders: nanopb through the device core; JSON and line protocol by hand (no
// allocation per reading, std::to_chars for numbers).
#include "payload_format.h"

#include <charconv>

#include "edgesketch/common/json_string.h"
#include "es_device/encode.h"

namespace edgesketch::sim {
namespace {

void append_double(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Line protocol escaping of measurement names, tag keys and tag values.
void append_line_token(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '=' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
}

void encode_json(const es_batch& b, std::string& out) {
  char label[ES_NAME_MAX];
  out.append("{\"device_id\":");
  append_json_string(out, b.device_id);
  out.append(",\"tags\":{\"site\":");
  append_json_string(out, b.site);
  out.append(",\"line\":");
  append_json_string(out, b.line);
  out.append("},\"batch_seq\":");
  append_int(out, static_cast<std::int64_t>(b.batch_seq));
  out.append(",\"readings\":[");
  bool first = true;
  for (std::uint8_t g = 0; g < b.group_count; ++g) {
    const es_batch_group& grp = b.groups[g];
    auto metric = static_cast<es_metric>(grp.metric);
    bool categorical = es_metric_is_categorical(metric);
    for (std::uint16_t i = grp.first; i < grp.first + grp.count; ++i) {
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"metric\":");
      append_json_string(out, es_metric_name(metric));
      out.append(",\"ts_ms\":");
      append_int(out, b.ts_ms[i]);
      if (categorical) {
        es_format_event_label(b.codes[i], label, sizeof label);
        out.append(",\"label\":");
        append_json_string(out, label);
      } else {
        out.append(",\"value\":");
        append_double(out, b.values[i]);
      }
      out.push_back('}');
    }
  }
  out.append("]}");
}

void encode_line(const es_batch& b, std::string& out) {
  char label[ES_NAME_MAX];
  std::string tags;  // ",device=..,line=..,site=.." shared by every line
  tags.append(",device=");
  append_line_token(tags, b.device_id);
  tags.append(",line=");
  append_line_token(tags, b.line);
  tags.append(",site=");
  append_line_token(tags, b.site);
  for (std::uint8_t g = 0; g < b.group_count; ++g) {
    const es_batch_group& grp = b.groups[g];
    auto metric = static_cast<es_metric>(grp.metric);
    bool categorical = es_metric_is_categorical(metric);
    for (std::uint16_t i = grp.first; i < grp.first + grp.count; ++i) {
      append_line_token(out, es_metric_name(metric));
      out.append(tags);
      if (categorical) {
        es_format_event_label(b.codes[i], label, sizeof label);
        out.append(" label=\"");
        out.append(label);  // E000..E255: nothing to escape
        out.push_back('"');
      } else {
        out.append(" value=");
        append_double(out, b.values[i]);
      }
      out.push_back(' ');
      append_int(out, b.ts_ms[i]);
      out.push_back('\n');
    }
  }
}

}  // namespace

Status encode_payload(const es_batch& batch, PayloadFormat format, std::string& out) {
  out.clear();
  switch (format) {
    case PayloadFormat::kNanopb: {
      std::size_t size = es_encoded_size(&batch);
      if (size == 0) {
        return Status::invalid_argument("payload: batch " + std::to_string(batch.batch_seq) +
                                        " of " + batch.device_id + " breaks a wire limit");
      }
      out.resize(size);
      std::size_t len = 0;
      if (es_encode_batch(&batch, reinterpret_cast<std::uint8_t*>(out.data()), out.size(), &len) !=
          ES_ENCODE_OK) {
        return Status::internal("payload: es_encode_batch disagreed with es_encoded_size");
      }
      out.resize(len);
      return Status();
    }
    case PayloadFormat::kJson:
      encode_json(batch, out);
      return Status();
    case PayloadFormat::kLine:
      encode_line(batch, out);
      return Status();
  }
  return Status::invalid_argument("payload: unknown format");
}

}  // namespace edgesketch::sim
