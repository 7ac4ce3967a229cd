// promtool (Debian package `prometheus`) as a real client of the HTTP API: query instant,
// query range, query series and query labels succeed and print what the server holds; sketch
// selectors' native histograms parse.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "collector/query_test_data.h"
#include "edgesketch/http/http_server.h"
#include "edgesketch/testbed/daemon_process.h"

namespace edgesketch::http {
namespace {

using query::testing::kT0;

testbed::CommandResult run(const std::string& command) { return testbed::run_command(command); }

class PromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    query::testing::fill_fleet(source_);
    HttpServerOptions options;
    options.port = 0;
    options.tokens = {{"tok-acme", "acme"}};
    server_ = std::make_unique<HttpServer>(options, engine_, clock_);
    ASSERT_TRUE(server_->start().ok());
    url_ = "http://promtool:tok-acme@127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  std::string promtool() const { return ES_PROMTOOL; }

  query::MemorySeriesSource source_;
  query::QueryEngine engine_{source_};
  FakeClock clock_{kT0 + 120'000};
  std::unique_ptr<HttpServer> server_;
  std::string url_;
};

TEST_F(PromtoolTest, InstantQuery) {
  auto r = run(promtool() + " query instant --time=" + std::to_string(kT0 / 1000 + 120) + " " +
               url_ + " 'sum by (site) (vibration_count)'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("{site=\"s1\"} => 240 @["), std::string::npos) << r.output;
  auto one = run(promtool() + " query instant " + url_ + " '1+1'");
  EXPECT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find("scalar: 2 @["), std::string::npos) << one.output;
}

TEST_F(PromtoolTest, RangeQuery) {
  auto r = run(promtool() + " query range --start=" + std::to_string(kT0 / 1000) +
               " --end=" + std::to_string(kT0 / 1000 + 120) + " --step=1m " + url_ +
               " 'histogram_quantile(0.99, sum by (site) (vibration))'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("{site=\"s2\"} =>"), std::string::npos) << r.output;
  auto json = run(promtool() + " query range -o json --start=" + std::to_string(kT0 / 1000) +
                  " --end=" + std::to_string(kT0 / 1000 + 120) + " --step=60s " + url_ +
                  " 'sum(vibration_count)'");
  EXPECT_EQ(json.status, 0) << json.output;
  // Windows ending in (t − 60 s, t]: nothing at kT0, windows 0..5 and 6..11 after it.
  EXPECT_NE(json.output.find("\"values\":[[1700000040,\"240\"],[1700000100,\"240\"]]"),
            std::string::npos)
      << json.output;
}

// Comparisons, topk and subqueries through promtool: the issue's fleet questions.
TEST_F(PromtoolTest, ComparisonsTopkAndSubqueries) {
  const std::string at = " --time=" + std::to_string(kT0 / 1000 + 120) + " ";
  auto top = run(promtool() + " query instant" + at + url_ + " 'topk(1, vibration_max)'");
  EXPECT_EQ(top.status, 0) << top.output;
  EXPECT_NE(top.output.find("vibration_max{device=\"d2\", line=\"l2\", site=\"s2\"} => 3997 @["),
            std::string::npos)
      << top.output;
  auto count = run(promtool() + " query range -o json --start=" + std::to_string(kT0 / 1000) +
                   " --end=" + std::to_string(kT0 / 1000 + 120) + " --step=60s " + url_ +
                   " 'count(vibration_max > 1000)'");
  EXPECT_EQ(count.status, 0) << count.output;
  EXPECT_NE(count.output.find("\"values\":[[1700000040,\"7\"],[1700000100,\"8\"]]"),
            std::string::npos)
      << count.output;
  auto sub = run(promtool() + " query instant" + at + url_ +
                 " 'max_over_time(sum by (site) (vibration_count)[1m:30s]) > bool 100'");
  EXPECT_EQ(sub.status, 0) << sub.output;
  EXPECT_NE(sub.output.find("{site=\"s1\"} => 0 @["), std::string::npos) << sub.output;
  EXPECT_NE(sub.output.find("{site=\"s2\"} => 0 @["), std::string::npos) << sub.output;
  auto err = run(promtool() + " query instant" + at + url_ +
                 " 'sum by (site) (vibration_count) * on (site) vibration_count'");
  EXPECT_NE(err.status, 0) << err.output;
  EXPECT_NE(err.output.find("many-to-many matching not allowed"), std::string::npos) << err.output;
}

TEST_F(PromtoolTest, SeriesAndLabels) {
  const std::string range = " --start=" + std::to_string(kT0 / 1000 - 60) +
                            " --end=" + std::to_string(kT0 / 1000 + 600) + " ";
  auto s = run(promtool() + " query series" + range +
               "--match='vibration_count{site=\"s1\",line=\"l1\"}' " + url_);
  EXPECT_EQ(s.status, 0) << s.output;
  EXPECT_NE(s.output.find("vibration_count"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("device=\"d2\""), std::string::npos) << s.output;
  auto l = run(promtool() + " query labels" + range + url_ + " site");
  EXPECT_EQ(l.status, 0) << l.output;
  EXPECT_NE(l.output.find("s1\ns2"), std::string::npos) << l.output;
  auto bad = run(promtool() + " query instant http://127.0.0.1:" + std::to_string(server_->port()) +
                 " '1+1'");
  EXPECT_NE(bad.status, 0) << bad.output;  // no token: 401
}

// Sketch-valued results are native histograms, which promtool 2.42 accepts: it parses the
// responses and lists the series. (Its client library predates native histograms in the query
// API's JSON, so it prints no bucket: a histogram shows as "0 @[0]" and a matrix series as empty.
// The histograms themselves are checked in http_promql_test and native_histogram_json_test.)
TEST_F(PromtoolTest, SketchSelectorsAreNativeHistograms) {
  auto one = run(promtool() + " query instant --time=" + std::to_string(kT0 / 1000 + 120) + " " +
                 url_ + R"( 'vibration{site="s1", line="l1"}')");
  EXPECT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find(R"(vibration{device="d1", line="l1", site="s1"} =>)"),
            std::string::npos)
      << one.output;
  EXPECT_NE(one.output.find(R"(vibration{device="d2", line="l1", site="s1"} =>)"),
            std::string::npos)
      << one.output;
  auto range = run(promtool() + " query range -o json --start=" + std::to_string(kT0 / 1000) +
                   " --end=" + std::to_string(kT0 / 1000 + 120) + " --step=60s " + url_ +
                   " 'sum by (site) (vibration)'");
  EXPECT_EQ(range.status, 0) << range.output;
  EXPECT_NE(range.output.find(R"({"metric":{"site":"s1"})"), std::string::npos) << range.output;
  EXPECT_NE(range.output.find(R"({"metric":{"site":"s2"})"), std::string::npos) << range.output;
}

}  // namespace
}  // namespace edgesketch::http
