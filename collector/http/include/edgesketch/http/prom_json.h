// JSON in the exact format of the Prometheus HTTP API: string sample values, float-second
// timestamps with at most millisecond digits, "NaN"/"+Inf"/"-Inf", sorted label maps, native
// histograms for sketch-valued results.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/query/query_engine.h"

namespace edgesketch::http {

// Milliseconds as Prometheus writes them: 1700000000 / 1700000000.5 is written "1700000000.500"
// (seconds, then three fraction digits when the fraction is not zero).
void append_timestamp(std::string& out, std::int64_t t_ms);
// A sample value (of a vector or a matrix) as a quoted string: shortest round-trip digits, fixed
// notation unless |v| < 1e-6 or |v| >= 1e21 (exponent then), "NaN", "+Inf", "-Inf".
void append_sample_value(std::string& out, double v);
// A scalar result's value as a quoted string: shortest round-trip digits in fixed notation
// whatever the magnitude ("0.0000001", "10000000000000000000000"), as Prometheus' Scalar
// encoder (strconv.FormatFloat(v, 'f', -1, 64)) writes it.
void append_scalar_value(std::string& out, double v);
// `{"name":"value",...}` in label order.
void append_labels(std::string& out, const query::Labels& labels);
// A histogram as Prometheus writes a native histogram of the same schema (its
// jsonutil.MarshalHistogram): `{"count":"<n>","sum":"<s>","buckets":[[rule,"lower","upper",
// "count"],...]}`, numbers as append_sample_value(), the non-empty buckets of
// query::native_buckets() (no "buckets" key when there is none).
void append_native_histogram(std::string& out, const sketch::ExpHistogram& h);

// {"status":"success","data":{"resultType":...,"result":...}}
std::string encode_query_result(const query::QueryResult& r);
// {"status":"success","data":[{...labels...},...]}
std::string encode_series(const std::vector<query::Labels>& series);
// {"status":"success","data":["a","b"]}
std::string encode_string_list(const std::vector<std::string>& values);
// {"status":"success","data":<data_json>}
std::string encode_success(std::string_view data_json);
// {"status":"error","errorType":"bad_data","error":"..."}
std::string encode_error(std::string_view error_type, std::string_view message);

}  // namespace edgesketch::http
