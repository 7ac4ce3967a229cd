// Go's formatting of float64 where Prometheus' output depends on it: the value label of
// count_values() and the HTTP API's sample values (strconv.FormatFloat(v, 'f', -1, 64)), numbers
// in error messages (%v).
#pragma once

#include <string>

namespace edgesketch::query {

// strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that round-trip, in positional
// notation ("0.1", "1000000000000000000000", "-0"); "NaN", "+Inf", "-Inf".
std::string go_format_f(double v);

// fmt's %v of a float64: the shortest digits, in exponent form when the decimal exponent is
// below -4 or at least 6 ("1e+06", "123456", "0.0001", "1e-05"); "NaN", "+Inf", "-Inf".
std::string go_format_v(double v);

}  // namespace edgesketch::query
