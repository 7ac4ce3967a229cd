// Go-compatible float formatting from the shortest round-trip digits of std::to_chars.
#include "edgesketch/query/go_float_format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace edgesketch::query {
namespace {

// v = ±0.d₁d₂…dₙ × 10^dp with the shortest digits that round-trip (Go's decimal form); zero has
// no digits.
struct Decimal {
  bool negative = false;
  std::string digits;
  int dp = 0;
};

Decimal shortest(double v) {
  Decimal d;
  d.negative = std::signbit(v);
  if (v == 0) return d;
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  const std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));  // "d.ddde±XX"
  const std::size_t e = s.find('e');
  for (std::size_t i = 0; i < e; ++i) {
    if (s[i] != '.') d.digits += s[i];
  }
  d.dp = std::atoi(std::string(s.substr(e + 1)).c_str()) + 1;
  return d;
}

std::string special(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

std::string positional(const Decimal& d) {
  std::string out = d.negative ? "-" : "";
  const int nd = static_cast<int>(d.digits.size());
  if (d.dp > 0) {
    int m = std::min(nd, d.dp);
    out.append(d.digits, 0, static_cast<std::size_t>(m));
    for (; m < d.dp; ++m) out += '0';
  } else {
    out += '0';
  }
  const int prec = std::max(nd - d.dp, 0);
  if (prec > 0) {
    out += '.';
    for (int i = 1; i <= prec; ++i) {
      const int j = d.dp + i - 1;
      out += (0 <= j && j < nd) ? d.digits[static_cast<std::size_t>(j)] : '0';
    }
  }
  return out;
}

}  // namespace

std::string go_format_f(double v) {
  if (!std::isfinite(v)) return special(v);
  return positional(shortest(v));
}

std::string go_format_v(double v) {
  if (!std::isfinite(v)) return special(v);
  const Decimal d = shortest(v);
  const int exp = d.digits.empty() ? -1 : d.dp - 1;  // Go: zero has dp 0
  // strconv's shortest 'g' (fmt's %v) switches to exponent form below 1e-4 and from 1e6.
  if (exp < -4 || exp >= 6) {
    std::string out = d.negative ? "-" : "";
    out += d.digits[0];
    if (d.digits.size() > 1) {
      out += '.';
      out.append(d.digits, 1, std::string::npos);
    }
    out += 'e';
    out += exp < 0 ? '-' : '+';
    const int a = std::abs(exp);
    if (a < 10) out += '0';
    out += std::to_string(a);
    return out;
  }
  return positional(d);
}

}  // namespace edgesketch::query
