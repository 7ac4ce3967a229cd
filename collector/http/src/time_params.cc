// Timestamp and duration parameters (float seconds or RFC 3339 / Prometheus durations).
#include "edgesketch/http/time_params.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

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

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      day > kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0) || hour > 23 || minute > 59 ||
      second > 59) {
    return std::nullopt;
  }
  std::size_t p = 19;
  double fraction = 0;
  if (p < s.size() && s[p] == '.') {
    const std::size_t start = ++p;
    double scale = 0.1;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      fraction += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == start || p - start > 9) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!digits(s, p + 1, 2, oh) || p + 3 >= s.size() || s[p + 3] != ':' ||
        !digits(s, p + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[p] == '+' ? 1 : -1);
    p += 6;
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  const std::int64_t secs =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_s;
  return secs * 1000 + static_cast<std::int64_t>(std::llround(fraction * 1000));
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
  if (auto t = parse_rfc3339(text)) return *t;
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
