// Prometheus-format JSON encoding.
#include "edgesketch/http/prom_json.h"

#include <charconv>
#include <cmath>

#include "edgesketch/common/json_string.h"
#include "edgesketch/query/go_float_format.h"
#include "edgesketch/query/native_histogram.h"

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

namespace {

// Go's strconv.AppendFloat(v, fmt, -1, 64) between quotes: 'e' when `exponent`, else 'f'.
void append_quoted_float(std::string& out, double v, bool exponent) {
  out += '"';
  // Fixed notation below 2^53: at most 16 integer digits, or "0." with up to 323 zeros before
  // the shortest (at most 17) digits of a tiny value.
  char buf[400];
  if (exponent && std::isfinite(v)) {
    // The shortest digits with at least two exponent digits, as Go's 'e' writes them.
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    out.append(buf, ec == std::errc() ? ptr : buf);
  } else if (std::fabs(v) < 0x1p53) {
    // Below 2^53 the integer digits are exact and the fixed notation with the fewest characters
    // is Go's shortest digits laid out positionally (the common case, without allocating).
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
    out.append(buf, ec == std::errc() ? ptr : buf);
  } else {
    // Larger (or not finite): Go pads the shortest digits with zeros where to_chars would print
    // the exact integer ("123456789012345680000", not "…683968").
    out += query::go_format_f(v);
  }
  out += '"';
}

}  // namespace

void append_sample_value(std::string& out, double v) {
  const double a = std::fabs(v);
  append_quoted_float(out, v, a != 0 && (a < 1e-6 || a >= 1e21));
}

void append_scalar_value(std::string& out, double v) {
  append_quoted_float(out, v, /*exponent=*/false);
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

void append_native_histogram(std::string& out, const sketch::ExpHistogram& h) {
  out += R"({"count":)";
  append_sample_value(out, static_cast<double>(h.count()));
  out += R"(,"sum":)";
  append_sample_value(out, h.sum());
  const auto buckets = query::native_buckets(h);
  if (!buckets.empty()) {
    out += R"(,"buckets":[)";
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      const query::NativeBucket& b = buckets[i];
      if (i) out += ',';
      out += '[';
      out += static_cast<char>('0' + static_cast<int>(b.rule));
      out += ',';
      append_sample_value(out, b.lower);
      out += ',';
      append_sample_value(out, b.upper);
      out += ',';
      append_sample_value(out, static_cast<double>(b.count));
      out += ']';
    }
    out += ']';
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

void append_point(std::string& out, const query::HistogramSample& s) {
  out += '[';
  append_timestamp(out, s.t_ms);
  out += ',';
  append_native_histogram(out, s.histogram);
  out += ']';
}

// `"key":[p,p,...]`.
template <class Point>
void append_points(std::string& out, std::string_view key, const std::vector<Point>& points) {
  out += '"';
  out += key;
  out += R"(":[)";
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (k) out += ',';
    append_point(out, points[k]);
  }
  out += ']';
}

}  // namespace

std::string encode_query_result(const query::QueryResult& r) {
  std::string out = R"({"status":"success","data":{"resultType":")";
  out += query::result_type_name(r.type);
  out += R"(","result":)";
  switch (r.type) {
    case query::ResultType::kScalar: {
      const bool empty = r.series.empty() || r.series[0].samples.empty();
      const query::Sample s = empty ? query::Sample{r.t_ms, std::nan("")} : r.series[0].samples[0];
      out += '[';
      append_timestamp(out, s.t_ms);
      out += ',';
      append_scalar_value(out, s.value);
      out += ']';
      break;
    }
    case query::ResultType::kString:
      out += '[';
      append_timestamp(out, r.t_ms);
      out += ',';
      append_json_string(out, r.string_value);
      out += ']';
      break;
    case query::ResultType::kVector:
    case query::ResultType::kMatrix: {
      // As Prometheus: a vector element has "value" or "histogram", a matrix series "values"
      // and then "histograms".
      const bool matrix = r.type == query::ResultType::kMatrix;
      out += '[';
      for (std::size_t i = 0; i < r.series.size(); ++i) {
        const query::ResultSeries& s = r.series[i];
        const bool histograms = !s.histograms.empty();
        if (i) out += ',';
        out += R"({"metric":)";
        append_labels(out, s.labels);
        if (matrix) {
          if (!s.samples.empty() || !histograms) {
            out += ',';
            append_points(out, "values", s.samples);
          }
          if (histograms) {
            out += ',';
            append_points(out, "histograms", s.histograms);
          }
        } else if (histograms) {
          out += R"(,"histogram":)";
          append_point(out, s.histograms.front());
        } else {
          out += R"(,"value":)";
          if (!s.samples.empty()) append_point(out, s.samples.front());
        }
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
