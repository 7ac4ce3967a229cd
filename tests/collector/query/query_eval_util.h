// Helpers of the query language tests: a small source of hand-chosen window values, and results
// printed as Prometheus prints them, so expectations read like the query's answer.
#pragma once

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/query/memory_series_source.h"
#include "edgesketch/query/promql_parser.h"
#include "edgesketch/query/query_engine.h"

namespace edgesketch::query::testing {

// Windows of 10 s ending at multiples of 10 s; a window's aggregate holds the given readings.
inline void add_window(MemorySeriesSource& src, Labels labels, std::int64_t end_ms,
                       std::initializer_list<double> readings, std::string_view tenant = "acme") {
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  sketch::WindowAggregate agg(spec);
  for (double r : readings) agg.add_value(r);
  ASSERT_TRUE(src.add(tenant, std::move(labels), end_ms - 10'000, 10'000, agg).ok());
}

// The value as Prometheus prints it: shortest digits, "NaN", "+Inf", "-Inf".
inline std::string value_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// `{a="b", c="d"} => 1.5` per series of an instant result, in result order; "scalar => 2" for a
// scalar; a matrix prints each sample as `{…} => v @ t` (t in seconds).
inline std::vector<std::string> lines(const QueryResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.series) {
    for (const auto& p : s.samples) {
      std::string line = r.type == ResultType::kScalar ? "scalar" : labels_to_string(s.labels);
      line += " => " + value_text(p.value);
      if (r.type == ResultType::kMatrix) line += fmt::format(" @ {}", p.t_ms / 1000.0);
      out.push_back(std::move(line));
    }
  }
  return out;
}

// Evaluates queries with an engine over `src`, failing the test on parse errors.
class Queries {
 public:
  explicit Queries(MemorySeriesSource& src, EngineOptions options = {}) : engine_(src, options) {}

  Result<QueryResult> instant(std::string_view q, std::int64_t t_ms,
                              const QueryLimits& limits = {}) const {
    auto e = parse_promql(q);
    EXPECT_TRUE(e.ok()) << q << ": " << e.status().message();
    if (!e.ok()) return e.status();
    return engine_.instant("acme", **e, t_ms, limits);
  }
  Result<QueryResult> range(std::string_view q, std::int64_t start_ms, std::int64_t end_ms,
                            std::int64_t step_ms) const {
    auto e = parse_promql(q);
    EXPECT_TRUE(e.ok()) << q << ": " << e.status().message();
    if (!e.ok()) return e.status();
    return engine_.range("acme", **e, start_ms, end_ms, step_ms, QueryLimits{});
  }
  // lines() of an instant query that must succeed.
  std::vector<std::string> at(std::string_view q, std::int64_t t_ms) const {
    auto r = instant(q, t_ms);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
    if (!r.ok()) return {"<error: " + r.status().message() + ">"};
    return lines(*r);
  }
  // lines() of a range query that must succeed.
  std::vector<std::string> over(std::string_view q, std::int64_t start_ms, std::int64_t end_ms,
                                std::int64_t step_ms) const {
    auto r = range(q, start_ms, end_ms, step_ms);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
    if (!r.ok()) return {"<error: " + r.status().message() + ">"};
    return lines(*r);
  }
  // The error of an instant query that must fail.
  Status error(std::string_view q, std::int64_t t_ms) const {
    auto r = instant(q, t_ms);
    EXPECT_FALSE(r.ok()) << q << " gave " << (r.ok() ? ::testing::PrintToString(lines(*r)) : "");
    return r.ok() ? Status() : r.status();
  }

  const QueryEngine& engine() const { return engine_; }

 private:
  QueryEngine engine_;
};

using Lines = std::vector<std::string>;

}  // namespace edgesketch::query::testing
