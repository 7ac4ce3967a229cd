// Timestamp and duration parameters (float seconds or RFC 3339 / Prometheus durations).
#include "edgesketch/http/time_params.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "edgesketch/common/rfc3339.h"
#include "edgesketch/query/promql_parser.h"
#include "edgesketch/query/series_source.h"

namespace edgesketch::http {
namespace {

// Prometheus' renderings of its min and max times.
constexpr std::string_view kMinTimeText = "-292273086-05-16T16:47:06Z";
constexpr std::string_view kMaxTimeText = "292277025-08-18T07:12:54.999999999Z";

std::optional<double> parse_float(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double v;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

Result<std::int64_t> parse_timestamp_ms(std::string_view text) {
  if (auto v = parse_float(text)) {
    if (std::fabs(*v) >= 1e14) {
      return Status::invalid_argument(
          fmt::format("cannot parse \"{}\" to a valid timestamp", text));
    }
    return static_cast<std::int64_t>(std::llround(*v * 1000.0));
  }
  if (text == kMinTimeText) return query::kMinTimeMs;
  if (text == kMaxTimeText) return query::kMaxTimeMs;
  if (auto t = parse_rfc3339_ms(text)) return *t;
  return Status::invalid_argument(fmt::format("cannot parse \"{}\" to a valid timestamp", text));
}

Result<std::int64_t> parse_step_ms(std::string_view text) {
  if (auto v = parse_float(text)) {
    // Prometheus' parseDuration: seconds as nanoseconds in an int64; negative steps parse (the
    // query API rejects them next, with its own words).
    if (std::fabs(*v) * 1e9 >= 9.2233720368547758e18) {
      return Status::invalid_argument(
          fmt::format("cannot parse \"{}\" to a valid duration. It overflows int64", text));
    }
    return static_cast<std::int64_t>(std::llround(*v * 1000.0));
  }
  auto d = query::parse_duration_ms(text);
  if (!d.ok()) {
    return Status::invalid_argument(fmt::format("cannot parse \"{}\" to a valid duration", text));
  }
  return *d;
}

}  // namespace edgesketch::http
