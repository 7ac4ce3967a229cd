// The PromQL language over the HTTP API: result types and their encoding (an ordered topk, a
// subquery's matrix, sketch-valued results as native histograms), errors and their codes (parse and
// type errors 400 bad_data, evaluation errors 422 execution), and the range query cache with
// offsets and @.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "collector/query_test_data.h"
#include "edgesketch/http/http_server.h"
#include "edgesketch/http/prom_json.h"
#include "edgesketch/testbed/daemon_process.h"

namespace edgesketch::http {
namespace {

using query::testing::kT0;
using testbed::http_get;
using testbed::url_encode;

class HttpPromqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    query::testing::fill_fleet(source_);
    HttpServerOptions options;
    options.port = 0;
    options.tokens = {{"tok-acme", "acme"}};
    server_ = std::make_unique<HttpServer>(options, engine_, clock_, &cache_);
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override { server_->stop(); }

  testbed::HttpReply instant(std::string_view q, std::int64_t t_s) {
    return http_get(server_->port(),
                    fmt::format("/api/v1/query?time={}&query={}", t_s, url_encode(q)), "tok-acme");
  }
  testbed::HttpReply range(std::string_view q, std::int64_t start_s, std::int64_t end_s,
                           std::int64_t step_s) {
    return http_get(server_->port(),
                    fmt::format("/api/v1/query_range?start={}&end={}&step={}&query={}", start_s,
                                end_s, step_s, url_encode(q)),
                    "tok-acme");
  }

  query::MemorySeriesSource source_;
  query::QueryEngine engine_{source_};
  FakeClock clock_{kT0 + 3600'000};
  query::RangeQueryCache cache_{query::RangeQueryCacheOptions{}, clock_};
  std::unique_ptr<HttpServer> server_;
};

const std::int64_t kT0s = kT0 / 1000;
// The end of the last window of the fleet: every window is in the lookback.
const std::int64_t kLast = kT0s + 120;

TEST_F(HttpPromqlTest, TopkKeepsItsOrderInTheVector) {
  // vibration_max of device (s, l, d) is (100 s + 10 l + d) · 12 · 1.5 + 1 over all windows.
  auto r = instant("topk(2, vibration_max)", kLast);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"status":"success","data":{"resultType":"vector","result":[)"
            R"({"metric":{"__name__":"vibration_max","device":"d2","line":"l2","site":"s2"},)"
            R"("value":[1700000100,"3997"]},)"
            R"({"metric":{"__name__":"vibration_max","device":"d1","line":"l2","site":"s2"},)"
            R"("value":[1700000100,"3979"]}]}})");
  auto b = instant("bottomk(1, vibration_max > bool 2000)", kLast);
  EXPECT_EQ(b.status, 200);
  EXPECT_NE(b.body.find(R"("value":[1700000100,"0"])"), std::string::npos) << b.body;
}

TEST_F(HttpPromqlTest, SubqueryAtTheTopOfAnInstantQueryIsAMatrix) {
  auto r = instant("sum(vibration_count)[1m:30s]", kLast);
  EXPECT_EQ(r.status, 200);
  // Inner points at kT0 + 90 s and + 120 s, each summing the windows of its 30 s.
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                    R"({"metric":{},"values":[[1700000070,"120"],[1700000100,"120"]]}]}})");
  auto bad = range("sum(vibration_count)[1m:30s]", kT0s, kLast, 60);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body,
            R"({"status":"error","errorType":"bad_data","error":"invalid expression type )"
            R"(\"range vector\" for range query, must be Scalar or instant Vector"})");
}

TEST_F(HttpPromqlTest, EvaluationErrorsAreExecutionErrors) {
  auto r = instant("sum by (site) (vibration_count) * on (site) vibration_count", kLast);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find(R"("errorType":"execution","error":"found duplicate series for the )"
                        R"(match group {site=\"s1\"} on the right hand-side)"),
            std::string::npos)
      << r.body;
  auto parse = instant("vibration_count == 1 == 2 and bool 1", kLast);
  EXPECT_EQ(parse.status, 400);
  EXPECT_NE(parse.body.find("bool modifier can only be used on comparison operators"),
            std::string::npos)
      << parse.body;
  auto type = instant("vibration > 1", kLast);
  EXPECT_EQ(type.status, 400);
  EXPECT_NE(type.body.find(R"("errorType":"bad_data")"), std::string::npos) << type.body;
}

TEST_F(HttpPromqlTest, DevicesAboveAThresholdPerMinute) {
  // Per minute, the devices whose largest reading passed 1000: all but (s1, l1, d1) in the first
  // minute (its maximum is exactly 1000), all eight in the second.
  auto r = range("count(vibration_max > 1000)", kT0s + 60, kT0s + 120, 60);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                    R"({"metric":{},"values":[[1700000040,"7"],[1700000100,"8"]]}]}})");
}

TEST_F(HttpPromqlTest, AtStartAndEndFollowEachQueryNotTheCachedExtents) {
  // @ start() is the same query text over different ranges: each answer uses its own start.
  auto a = range("sum(vibration_count @ start())", kT0s + 60, kT0s + 120, 60);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                    R"({"metric":{},"values":[[1700000040,"240"],[1700000100,"240"]]}]}})");
  auto b = range("sum(vibration_count @ start())", kT0s, kT0s + 120, 60);
  EXPECT_EQ(b.status, 200);
  // No window ends in the minute before kT0: nothing at any step.
  EXPECT_EQ(b.body, R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
}

TEST_F(HttpPromqlTest, NegativeOffsetsSeeDataThatArrivesLater) {
  // Points at the end of a cached extent read data ahead of them; when that data arrives, the
  // extent must be dropped.
  const std::int64_t step = 60;
  const std::int64_t extent_s = 120 * step;
  const std::int64_t last = (kT0s / extent_s) * extent_s + extent_s - step;
  const std::string q = "sum(vibration_count offset -1h)";
  auto before = range(q, last - step, last, step);
  EXPECT_EQ(before.status, 200);
  EXPECT_EQ(before.body, R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  // A window ending at last + 1 h arrives.
  const std::int64_t end_ms = (last + 3600) * 1000;
  ASSERT_TRUE(source_
                  .add("acme", query::testing::device_labels(1, 1, 1), end_ms - 10'000, 10'000,
                       query::testing::make_window(1, 1, 1, 0))
                  .ok());
  server_->data_applied("acme", end_ms - 10'000, end_ms);
  auto after = range(q, last - step, last, step);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, fmt::format(R"({{"status":"success","data":{{"resultType":"matrix",)"
                                    R"("result":[{{"metric":{{}},"values":[[{},"5"]]}}]}}}})",
                                    last));
}

// The native histogram of the windows w0..w1 of the devices `pick` accepts, as the API writes it.
template <typename Pick>
std::string histogram_json(Pick pick, int w0, int w1) {
  sketch::WindowAggregate acc(query::testing::full_spec());
  for (int s = 1; s <= 2; ++s)
    for (int l = 1; l <= 2; ++l)
      for (int d = 1; d <= 2; ++d)
        for (int w = w0; w <= w1; ++w)
          if (pick(s, l, d)) {
            EXPECT_TRUE(acc.merge(query::testing::make_window(s, l, d, w)).ok());
          }
  std::string out;
  append_native_histogram(out, *acc.histogram());
  return out;
}

// Sketch-valued results are native histograms: "histogram" in a vector, "histograms" in a matrix,
// from the cache as from a fresh evaluation.
TEST_F(HttpPromqlTest, SketchResultsAreNativeHistograms) {
  auto one = instant(R"(vibration{site="s1", line="l1", device="d1"})", kLast);
  EXPECT_EQ(one.status, 200);
  const std::string h111 = histogram_json([](int s, int l, int d) { return s + l + d == 3; }, 0,
                                          query::testing::kWindows - 1);
  // 60 readings (111 · (w + 1) · 1.5 + i / 4 for 12 windows and i = 0..4) adding up to 64965.
  EXPECT_EQ(h111.rfind(R"({"count":"60","sum":"64965","buckets":[[0,")", 0), 0u) << h111;
  EXPECT_EQ(one.body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                      R"({"metric":{"__name__":"vibration","device":"d1","line":"l1","site":"s1"},)"
                      R"("histogram":[1700000100,)" +
                          h111 + "]}]}}");

  auto site = [](int n) { return [n](int s, int, int) { return s == n; }; };
  const std::string expected =
      R"({"status":"success","data":{"resultType":"matrix","result":[)"
      R"({"metric":{"site":"s1"},"histograms":[[1700000040,)" +
      histogram_json(site(1), 0, 5) + "],[1700000100," + histogram_json(site(1), 6, 11) +
      R"(]]},{"metric":{"site":"s2"},"histograms":[[1700000040,)" + histogram_json(site(2), 0, 5) +
      "],[1700000100," + histogram_json(site(2), 6, 11) + "]]}]}}";
  auto fresh = range("sum by (site) (vibration)", kT0s, kLast, 60);
  EXPECT_EQ(fresh.status, 200);
  EXPECT_EQ(fresh.body, expected);
  const auto before = cache_.stats();
  auto cached = range("sum by (site) (vibration)", kT0s, kLast, 60);
  EXPECT_EQ(cached.body, expected);
  EXPECT_EQ(cache_.stats().rendered_hits, before.rendered_hits + 1);
  // Another range over the same extents: assembled from them.
  auto part = range("sum by (site) (vibration)", kT0s + 60, kLast, 60);
  EXPECT_EQ(cache_.stats().misses, before.misses);
  EXPECT_EQ(part.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                       R"({"metric":{"site":"s1"},"histograms":[[1700000040,)" +
                           histogram_json(site(1), 0, 5) + "],[1700000100," +
                           histogram_json(site(1), 6, 11) +
                           R"(]]},{"metric":{"site":"s2"},"histograms":[[1700000040,)" +
                           histogram_json(site(2), 0, 5) + "],[1700000100," +
                           histogram_json(site(2), 6, 11) + "]]}]}}");
}

}  // namespace
}  // namespace edgesketch::http
