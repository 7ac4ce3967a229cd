// The native-histogram JSON of sketch-valued query results against Prometheus' encoder
// (util/jsonutil MarshalHistogram over FloatHistogram.AllBucketIterator; web/api/v1's
// "histogram" / "histograms" keys). The expected texts are derived by hand from that code: bucket
// i of the sketch at scale s is Prometheus' bucket i + 1 of schema s, (2^(i/2^s), 2^((i+1)/2^s)]
// for positive values (boundary rule 0), its mirror image [-2^((i+1)/2^s), -2^(i/2^s)) for
// negative ones (rule 1), the zero bucket [-t, t] (rule 3) with t the largest subnormal; negative
// buckets first (most negative first), then zero, then positive ascending; empty buckets left out;
// numbers as Go's strconv.AppendFloat(v, 'f' or 'e' below 1e-6 and from 1e21, -1).
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "edgesketch/http/prom_json.h"
#include "edgesketch/query/native_histogram.h"
#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::http {
namespace {

sketch::ExpHistogram histogram(int scale, std::initializer_list<double> values) {
  sketch::ExpHistogram h(sketch::ExpHistogramOptions{scale, 2048});
  for (double v : values) h.add(v);
  EXPECT_EQ(h.scale(), scale);
  return h;
}

std::string json(const sketch::ExpHistogram& h) {
  std::string out;
  append_native_histogram(out, h);
  return out;
}

TEST(NativeHistogramJson, ZeroBucketNegativesAndPositives) {
  // Schema 0: 1 in (0.5, 1], 1.5 in (1, 2], 4 in (2, 4], -3 in [-4, -2); ±0 in the zero bucket.
  EXPECT_EQ(json(histogram(0, {-3, -0.0, 0, 1, 1.5, 4})),
            R"({"count":"6","sum":"3.5","buckets":[[1,"-4","-2","1"],)"
            R"([3,"-2.225073858507201e-308","2.225073858507201e-308","2"],)"
            R"([0,"0.5","1","1"],[0,"1","2","1"],[0,"2","4","1"]]})");
  // Negative buckets from the most negative; one value per bucket, counts add up.
  EXPECT_EQ(json(histogram(0, {-1, -10, -100, -100})),
            R"({"count":"4","sum":"-211","buckets":[[1,"-128","-64","2"],[1,"-16","-8","1"],)"
            R"([1,"-1","-0.5","1"]]})");
  // Subnormals are in the zero bucket; nothing else: no positive or negative bucket.
  const double tiny = std::numeric_limits<double>::denorm_min();
  EXPECT_EQ(json(histogram(3, {tiny, -tiny})),
            R"({"count":"2","sum":"0","buckets":[)"
            R"([3,"-2.225073858507201e-308","2.225073858507201e-308","2"]]})");
  // An empty histogram has no "buckets" key.
  EXPECT_EQ(json(histogram(6, {})), R"({"count":"0","sum":"0"})");
}

TEST(NativeHistogramJson, ExtremeSchemasAndBounds) {
  // Schema -4 (γ = 2^16): 1e10 in (2^32, 2^48]; 1e30 in (2^96, 2^112] (exponent notation from
  // 1e21); DBL_MAX in the last finite bucket, whose upper bound is DBL_MAX (getBound()); the
  // smallest normal in (2^-1024, 2^-1008], whose lower bound is raised to the zero threshold.
  const double max = std::numeric_limits<double>::max();
  const double min_normal = std::numeric_limits<double>::min();
  EXPECT_EQ(json(histogram(-4, {1e10, 1e30, max, min_normal})),
            R"({"count":"4","sum":"1.7976931348623157e+308","buckets":[)"
            R"([0,"2.225073858507201e-308","3.645561009778199e-304","1"],)"
            R"([0,"4294967296","281474976710656","1"],)"
            R"([0,"7.922816251426434e+28","5.192296858534828e+33","1"],)"
            R"([0,"2.7430620343968443e+303","1.7976931348623157e+308","1"]]})");
  // Schema 8: 1.037 in (2^(13/256), 2^(14/256)]; both bounds are the entries of Prometheus'
  // bound table (model/histogram/generic.go, exponentialBounds[8][13] and [14], times 2), so
  // these bytes are Prometheus' too.
  EXPECT_EQ(json(histogram(8, {1.037})), R"({"count":"1","sum":"1.037","buckets":[)"
                                         R"([0,"1.0358256936019572","1.0386341019613787","1"]]})");
  // 1 in (2^(-1/256), 1]: here the correctly rounded 2^(-1/256) is 0.9972960560854701, where
  // Prometheus' table holds 0.9972960560854698 (3 ulps below): the one kind of difference from
  // Prometheus' bytes (docs/query.md).
  EXPECT_EQ(json(histogram(8, {1})),
            R"({"count":"1","sum":"1","buckets":[[0,"0.9972960560854701","1","1"]]})");
}

TEST(NativeHistogramJson, BucketsFollowPrometheusIndexing) {
  // The sketch's bucket i is Prometheus' bucket i + 1: at every scale, 2^k (an exact power of
  // two) is the upper bound of its bucket, and the bucket below starts there.
  for (int scale = sketch::ExpHistogram::kMinScale; scale <= sketch::ExpHistogram::kMaxScale;
       ++scale) {
    const auto h = histogram(scale, {65536.0});
    const auto b = query::native_buckets(h);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].rule, query::BoundaryRule::kOpenLeft);
    EXPECT_EQ(b[0].upper, 65536.0) << scale;
    EXPECT_LT(b[0].lower, 65536.0) << scale;
    // 2^16 is in the sketch's bucket 2^(scale + 4) − 1, which starts at that index's bound.
    EXPECT_EQ(b[0].lower, query::exp_bucket_bound((std::int64_t{1} << (scale + 4)) - 1, scale))
        << scale;
  }
}

TEST(NativeHistogramJson, QueryResults) {
  query::QueryResult vec;
  vec.type = query::ResultType::kVector;
  vec.series.push_back(query::ResultSeries{
      {{"__name__", "vibration"}, {"device", "d1"}}, {}, {{1'700'000'000'500, histogram(0, {3})}}});
  EXPECT_EQ(encode_query_result(vec),
            R"({"status":"success","data":{"resultType":"vector","result":[)"
            R"({"metric":{"__name__":"vibration","device":"d1"},"histogram":[1700000000.500,)"
            R"({"count":"1","sum":"3","buckets":[[0,"2","4","1"]]}]}]}})");

  query::QueryResult matrix;
  matrix.type = query::ResultType::kMatrix;
  matrix.series.push_back(query::ResultSeries{
      {{"site", "s1"}},
      {},
      {{1'700'000'060'000, histogram(0, {-1})}, {1'700'000'120'000, histogram(0, {0})}}});
  matrix.series.push_back(query::ResultSeries{{{"site", "s2"}}, {{1'700'000'060'000, 2}}, {}});
  EXPECT_EQ(encode_query_result(matrix),
            R"({"status":"success","data":{"resultType":"matrix","result":[)"
            R"({"metric":{"site":"s1"},"histograms":[)"
            R"([1700000060,{"count":"1","sum":"-1","buckets":[[1,"-1","-0.5","1"]]}],)"
            R"([1700000120,{"count":"1","sum":"0","buckets":[)"
            R"([3,"-2.225073858507201e-308","2.225073858507201e-308","1"]]}]]},)"
            R"({"metric":{"site":"s2"},"values":[[1700000060,"2"]]}]}})");
}

}  // namespace
}  // namespace edgesketch::http
