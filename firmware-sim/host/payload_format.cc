// Payload encoders: nanopb through the device core; the text formats by hand (no allocation per
// reading once the buffers have grown, std::to_chars for numbers).
#include "payload_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "edgesketch/common/json_string.h"
#include "edgesketch/common/number_text.h"
#include "es_device/encode.h"

namespace edgesketch::sim {
namespace {

// Row j of a batch (see align_rows() in the header): fn(i, metric) for reading i of each group
// that reaches row j, in group order.
template <typename Fn>
void for_each_in_row(const es_batch& b, std::uint16_t j, Fn&& fn) {
  for (std::uint8_t g = 0; g < b.group_count; ++g) {
    const es_batch_group& grp = b.groups[g];
    if (j >= grp.count) continue;
    fn(static_cast<std::uint16_t>(grp.first + j), static_cast<es_metric>(grp.metric));
  }
}

// The time of row j: its first reading's.
std::int64_t row_time(const es_batch& b, std::uint16_t j) {
  for (std::uint8_t g = 0; g < b.group_count; ++g) {
    if (j < b.groups[g].count) return b.ts_ms[b.groups[g].first + j];
  }
  return 0;
}

// Line protocol escaping of measurement names, tag keys and tag values.
void append_line_token(std::string& out, std::string_view s) {
  const auto special = [](char c) { return c == ',' || c == ' ' || c == '=' || c == '\\'; };
  if (std::none_of(s.begin(), s.end(), special)) {
    out.append(s);  // the usual case: nothing to escape
    return;
  }
  for (char c : s) {
    if (special(c)) out.push_back('\\');
    out.push_back(c);
  }
}

// ",device=..,line=..,site=.." shared by every line of a batch.
void append_line_tags(std::string& out, const es_batch& b) {
  out.append(",device=");
  append_line_token(out, b.device_id);
  out.append(",line=");
  append_line_token(out, b.line);
  out.append(",site=");
  append_line_token(out, b.site);
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
  std::string tags;  // shared by every line
  append_line_tags(tags, b);
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

// Line protocol field keys escape ',', '=' and ' ' like tag keys.
void encode_line_fields(const es_batch& b, std::string& out) {
  char label[ES_NAME_MAX];
  const std::uint16_t rows = row_count(b);
  // "iot,device=..,line=..,site=..", the same at the start of every line: written once, copied.
  const std::size_t prefix_at = out.size();
  out.append(kLineFieldsMeasurement);
  append_line_tags(out, b);
  const std::size_t prefix_len = out.size() - prefix_at;
  for (std::uint16_t j = 0; j < rows; ++j) {
    if (j > 0) out.append(out, prefix_at, prefix_len);
    char sep = ' ';
    for_each_in_row(b, j, [&](std::uint16_t i, es_metric metric) {
      out.push_back(sep);
      sep = ',';
      append_line_token(out, es_metric_name(metric));
      out.push_back('=');
      if (es_metric_is_categorical(metric)) {
        es_format_event_label(b.codes[i], label, sizeof label);
        out.push_back('"');
        out.append(label);  // E000..E255: nothing to escape
        out.push_back('"');
      } else {
        append_double(out, b.values[i]);
      }
    });
    out.push_back(' ');
    append_int(out, row_time(b, j));
    out.push_back('\n');
  }
}

void encode_json_fields_row(const es_batch& b, std::uint16_t j, EncodedMessage& m) {
  char label[ES_NAME_MAX];
  std::string& out = m.payload;
  out.push_back('{');
  bool first = true;
  for_each_in_row(b, j, [&](std::uint16_t i, es_metric metric) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, es_metric_name(metric));
    out.push_back(':');
    if (es_metric_is_categorical(metric)) {
      es_format_event_label(b.codes[i], label, sizeof label);
      append_json_string(out, label);
    } else {
      append_double(out, b.values[i]);
    }
    m.readings.push_back(i);
  });
  out.append(",\"");
  out.append(kJsonFieldsTimeKey);
  out.append("\":");
  append_int(out, row_time(b, j));
  out.push_back('}');
}

}  // namespace

bool is_row_format(SimFormat format) {
  return format.payload == PayloadFormat::kJsonFields ||
         (format.payload == PayloadFormat::kLine && format.line_fields);
}

std::uint16_t row_count(const es_batch& b) {
  std::uint16_t rows = 0;
  for (std::uint8_t g = 0; g < b.group_count; ++g) rows = std::max(rows, b.groups[g].count);
  return rows;
}

void align_rows(es_batch& b) {
  const std::uint16_t rows = row_count(b);
  for (std::uint16_t j = 0; j < rows; ++j) {
    const std::int64_t ts = row_time(b, j);
    for_each_in_row(b, j, [&](std::uint16_t i, es_metric) { b.ts_ms[i] = ts; });
  }
}

bool sends_sensor_resolution(SimFormat format) {
  return is_row_format(format) || format.payload == PayloadFormat::kValue;
}

void round_to_sensor_resolution(es_batch& b) {
  for (std::uint8_t g = 0; g < b.group_count; ++g) {
    const es_batch_group& grp = b.groups[g];
    const auto metric = static_cast<es_metric>(grp.metric);
    if (es_metric_is_categorical(metric)) continue;
    const double steps = metric == ES_METRIC_VIBRATION ? 1000.0 : 100.0;
    for (std::uint16_t i = grp.first; i < grp.first + grp.count; ++i) {
      // Both operands exact: the quotient is the double nearest the decimal ("22.13").
      b.values[i] = std::round(b.values[i] * steps) / steps;
    }
  }
}

EncodedMessage& EncodedBatch::add() {
  if (size_ == items_.size()) items_.emplace_back();
  EncodedMessage& m = items_[size_++];
  m.topic.clear();
  m.payload.clear();
  m.readings.clear();
  return m;
}

Status encode_payload(const es_batch& batch, SimFormat format, std::string& out) {
  out.clear();
  switch (format.payload) {
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
      if (format.line_fields) {
        encode_line_fields(batch, out);
      } else {
        encode_line(batch, out);
      }
      return Status();
    case PayloadFormat::kJsonFields:
    case PayloadFormat::kValue:
      break;
  }
  return Status::invalid_argument("payload: " + std::string(sim_format_name(format)) +
                                  " sends a message per row or reading (encode_batch)");
}

Status encode_batch(const es_batch& b, SimFormat format, EncodedBatch& out) {
  out.clear();
  if (format.payload == PayloadFormat::kJsonFields) {
    const std::uint16_t rows = row_count(b);
    for (std::uint16_t j = 0; j < rows; ++j) {
      EncodedMessage& m = out.add();
      m.topic.assign(b.device_id);
      encode_json_fields_row(b, j, m);
    }
    return Status();
  }
  if (format.payload == PayloadFormat::kValue) {
    char label[ES_NAME_MAX];
    for (std::uint8_t g = 0; g < b.group_count; ++g) {
      const es_batch_group& grp = b.groups[g];
      const auto metric = static_cast<es_metric>(grp.metric);
      for (std::uint16_t i = grp.first; i < grp.first + grp.count; ++i) {
        EncodedMessage& m = out.add();
        m.topic.assign(b.device_id);
        m.topic.push_back('/');
        m.topic.append(es_metric_name(metric));
        if (es_metric_is_categorical(metric)) {
          es_format_event_label(b.codes[i], label, sizeof label);
          m.payload.append(label);
        } else {
          append_double(m.payload, b.values[i]);
        }
        m.readings.push_back(i);
      }
    }
    return Status();
  }
  EncodedMessage& m = out.add();
  ES_RETURN_IF_ERROR(encode_payload(b, format, m.payload));
  if (format.line_fields) {
    m.topic.assign(kLineFieldsTopic);
  } else {
    m.topic.assign(b.device_id);
    m.topic.append("/readings");
  }
  // Canonical order for the single-message formats; row by row for line-fields.
  if (format.line_fields) {
    const std::uint16_t rows = row_count(b);
    for (std::uint16_t j = 0; j < rows; ++j) {
      for (std::uint8_t g = 0; g < b.group_count; ++g) {
        if (j < b.groups[g].count) m.readings.push_back(b.groups[g].first + j);
      }
    }
  } else {
    for (std::uint16_t i = 0; i < b.count; ++i) m.readings.push_back(i);
  }
  return Status();
}

}  // namespace edgesketch::sim
