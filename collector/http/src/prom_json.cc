// Prometheus-format JSON encoding.
#include "edgesketch/http/prom_json.h"

#include <charconv>
#include <cmath>

#include "edgesketch/common/json_string.h"

namespace edgesketch::http {

void append_timestamp(std::string& out, std::int64_t t_ms) {
  std::uint64_t t;
  if (t_ms < 0) {
    out += '-';
    t = static_cast<std::uint64_t>(-(t_ms + 1)) + 1;
  } else {
    t = static_cast<std::uint64_t>(t_ms);
  }
  out += std::to_string(t / 1000);
  const std::uint64_t fraction = t % 1000;
  if (fraction != 0) {
    out += '.';
    if (fraction < 100) out += '0';
    if (fraction < 10) out += '0';
    out += std::to_string(fraction);
  }
}

void append_sample_value(std::string& out, double v) {
  out += '"';
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    const double a = std::fabs(v);
    const auto format = (a != 0 && (a < 1e-6 || a >= 1e21)) ? std::chars_format::scientific
                                                            : std::chars_format::fixed;
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v, format);
    if (ec == std::errc()) {
      out.append(buf, ptr);
    } else {
      out += "NaN";
    }
  }
  out += '"';
}

void append_labels(std::string& out, const query::Labels& labels) {
  out += '{';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, labels[i].name);
    out += ':';
    append_json_string(out, labels[i].value);
  }
  out += '}';
}

namespace {
void append_point(std::string& out, const query::Sample& s) {
  out += '[';
  append_timestamp(out, s.t_ms);
  out += ',';
  append_sample_value(out, s.value);
  out += ']';
}
}  // namespace

std::string encode_query_result(const query::QueryResult& r) {
  std::string out = R"({"status":"success","data":{"resultType":")";
  out += query::result_type_name(r.type);
  out += R"(","result":)";
  switch (r.type) {
    case query::ResultType::kScalar:
      if (r.series.empty() || r.series[0].samples.empty()) {
        append_point(out, query::Sample{r.t_ms, std::nan("")});
      } else {
        append_point(out, r.series[0].samples[0]);
      }
      break;
    case query::ResultType::kString:
      out += '[';
      append_timestamp(out, r.t_ms);
      out += ',';
      append_json_string(out, r.string_value);
      out += ']';
      break;
    case query::ResultType::kVector:
    case query::ResultType::kMatrix: {
      const bool matrix = r.type == query::ResultType::kMatrix;
      out += '[';
      for (std::size_t i = 0; i < r.series.size(); ++i) {
        if (i) out += ',';
        out += R"({"metric":)";
        append_labels(out, r.series[i].labels);
        out += matrix ? R"(,"values":[)" : R"(,"value":)";
        for (std::size_t k = 0; k < r.series[i].samples.size(); ++k) {
          if (k) out += ',';
          append_point(out, r.series[i].samples[k]);
          if (!matrix) break;
        }
        if (matrix) out += ']';
        out += '}';
      }
      out += ']';
      break;
    }
  }
  out += "}}";
  return out;
}

std::string encode_series(const std::vector<query::Labels>& series) {
  std::string data = "[";
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (i) data += ',';
    append_labels(data, series[i]);
  }
  data += ']';
  return encode_success(data);
}

std::string encode_string_list(const std::vector<std::string>& values) {
  std::string data = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) data += ',';
    append_json_string(data, values[i]);
  }
  data += ']';
  return encode_success(data);
}

std::string encode_success(std::string_view data_json) {
  std::string out = R"({"status":"success","data":)";
  out += data_json;
  out += '}';
  return out;
}

std::string encode_error(std::string_view error_type, std::string_view message) {
  std::string out = R"({"status":"error","errorType":)";
  append_json_string(out, error_type);
  out += R"(,"error":)";
  append_json_string(out, message);
  out += '}';
  return out;
}

}  // namespace edgesketch::http
