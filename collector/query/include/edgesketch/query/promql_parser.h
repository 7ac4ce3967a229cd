// Parser of edgesketch's PromQL subset: hand-written lexer and recursive descent.
#pragma once

#include <cstdint>
#include <string_view>

#include "edgesketch/common/status.h"
#include "edgesketch/query/promql_ast.h"

namespace edgesketch::query {

// Bounds on hostile queries.
inline constexpr std::size_t kMaxQueryBytes = 64 * 1024;
inline constexpr int kMaxParseDepth = 128;

// Parses `query`. On error: kInvalidArgument whose message is Prometheus-style,
// "<line>:<column>: parse error: <what>" (1-based, columns in bytes), e.g.
// `1:9: parse error: unexpected "}" in label matching, expected string`. Never crashes;
// recursion depth and input size are bounded. Thread-safe (no shared state).
Result<ExprPtr> parse_promql(std::string_view query);

// Parses a series selector as used by `match[]` (a vector selector, no range).
Result<VectorSelector> parse_series_selector(std::string_view selector);

// Prometheus durations: "1h30m", "5m", "250ms", "2d", "1w", "1y" (units in decreasing order,
// y = 365 d), to milliseconds. kInvalidArgument when malformed, zero-length or overflowing.
Result<std::int64_t> parse_duration_ms(std::string_view text);

// The shortest duration text for `ms` ("5m", "1h30m", "250ms"; "0s" for 0).
std::string format_duration_ms(std::int64_t ms);

}  // namespace edgesketch::query
