// Tests of the live streams (GET /api/v1/stream) and the live page's auth on loopback: points as
// ingest reports applied data, resumption with Last-Event-ID (nothing lost, nothing repeated),
// a stalled client cut off at its buffer bound and counted, stream limits, keep-alives, the
// session cookie, and static files that carry no data.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "collector/query_test_data.h"
#include "edgesketch/http/http_server.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/sse_client.h"
#include "support/eventually.h"
#include "support/metrics_text.h"

namespace edgesketch::http {
namespace {

using query::testing::device_labels;
using query::testing::kT0;
using query::testing::kWindowMs;
using query::testing::kWindows;
using query::testing::make_window;
using std::chrono::milliseconds;
using testbed::SseClient;
using testbed::url_encode;

constexpr milliseconds kWait{10'000};

class HttpStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    query::testing::fill_fleet(source_);
    HttpServerOptions options;
    options.port = 0;
    options.tokens = {{"tok-acme", "acme"}, {"tok-other", "other"}};
    options.worker_threads = 4;
    options.max_streams = 4;
    options.max_streams_per_tenant = 2;
    options.stream_buffer_bytes = 16 << 10;
    options.stream_keepalive_ms = 100;
    options.stream_delay_ms = 0;
    server_ = std::make_unique<HttpServer>(options, engine_, clock_);
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override { server_->stop(); }

  // Adds window w of every device of tenant acme (fill_fleet has windows 0..kWindows-1).
  void add_window(int w) {
    for (int s = 1; s <= 2; ++s) {
      for (int l = 1; l <= 2; ++l) {
        for (int d = 1; d <= 2; ++d) {
          ASSERT_TRUE(source_
                          .add("acme", device_labels(s, l, d), kT0 + w * kWindowMs, kWindowMs,
                               make_window(s, l, d, w))
                          .ok());
        }
      }
    }
  }

  std::unique_ptr<SseClient> open(const std::string& query_string,
                                  SseClient::Headers headers = {
                                      {"Authorization", "Bearer tok-acme"}}) {
    return SseClient::open(server_->port(), "/api/v1/stream?" + query_string, headers, kWait);
  }

  double metric(const std::string& prefix) {
    return test_support::metric_sum(server_->metrics_text(), prefix);
  }

  query::MemorySeriesSource source_;
  query::QueryEngine engine_{source_};
  FakeClock clock_{kT0 + 120'000};
  std::unique_ptr<HttpServer> server_;
};

const std::string kStart = std::to_string(kT0 / 1000);

// Reads events until one with id `last_id`; adds every point of the first query's first series to
// `points` (time in ms -> value text) and counts how often each time came.
void read_until(SseClient& c, std::int64_t last_id, std::map<std::int64_t, std::string>& points,
                std::map<std::int64_t, int>& seen) {
  for (;;) {
    auto ev = c.next(kWait);
    ASSERT_TRUE(ev.has_value()) << "no event before id " << last_id;
    EXPECT_EQ(ev->event, "points");
    const auto data = nlohmann::json::parse(ev->data);
    const auto& result = data["results"][0];
    ASSERT_EQ(result["status"], "success") << ev->data;
    for (const auto& series : result["data"]["result"]) {
      for (const auto& v : series["values"]) {
        const auto t = static_cast<std::int64_t>(v[0].get<double>() * 1000);
        points[t] = v[1].get<std::string>();
        ++seen[t];
      }
    }
    EXPECT_EQ(data["end"].get<double>() * 1000, std::stod(ev->id));
    if (std::stoll(ev->id) >= last_id) {
      ASSERT_EQ(std::stoll(ev->id), last_id);
      return;
    }
  }
}

TEST_F(HttpStreamTest, ResumeWithLastEventIdLosesAndRepeatsNothing) {
  const std::string q = "query=" + url_encode("sum(vibration_count)") +
                        "&query=" + url_encode("sum by (site) (vibration_max)") +
                        "&step=10s&start=" + kStart;
  std::map<std::int64_t, std::string> points;
  std::map<std::int64_t, int> seen;
  auto first = open(q);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status(), 200) << first->head();
  // Nothing is sent before ingest reports data: the stream waits (keep-alive comments only).
  EXPECT_FALSE(first->next(milliseconds(300)).has_value());
  EXPECT_GT(first->comments(), 1u);
  server_->data_applied("acme", kT0, kT0 + 6 * kWindowMs);
  ASSERT_NO_FATAL_FAILURE(read_until(*first, kT0 + 6 * kWindowMs, points, seen));
  server_->data_applied("acme", kT0, kT0 + 8 * kWindowMs);
  ASSERT_NO_FATAL_FAILURE(read_until(*first, kT0 + 8 * kWindowMs, points, seen));
  first.reset();  // the browser lost its connection

  // Data arrives while it is away.
  for (int w = kWindows; w < kWindows + 6; ++w) add_window(w);
  server_->data_applied("acme", kT0, kT0 + (kWindows + 6) * kWindowMs);
  // It reconnects with the id of the last event it got.
  auto again = open(q, {{"Authorization", "Bearer tok-acme"},
                        {"Last-Event-ID", std::to_string(kT0 + 8 * kWindowMs)}});
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status(), 200) << again->head();
  ASSERT_NO_FATAL_FAILURE(read_until(*again, kT0 + (kWindows + 6) * kWindowMs, points, seen));

  // Every point of the range, once each, equal to the range query's.
  const auto range = testbed::http_get(
      server_->port(),
      "/api/v1/query_range?query=" + url_encode("sum(vibration_count)") + "&start=" + kStart +
          "&end=" + std::to_string((kT0 + (kWindows + 6) * kWindowMs) / 1000) + "&step=10s",
      "tok-acme");
  ASSERT_EQ(range.status, 200) << range.body;
  std::map<std::int64_t, std::string> expected;
  const auto doc = nlohmann::json::parse(range.body);
  for (const auto& v : doc["data"]["result"][0]["values"]) {
    expected[static_cast<std::int64_t>(v[0].get<double>() * 1000)] = v[1].get<std::string>();
  }
  // The point at kT0 has no window (the first ends at kT0 + 10 s).
  EXPECT_EQ(expected.size(), static_cast<std::size_t>(kWindows + 6)) << range.body;
  EXPECT_EQ(points, expected);
  for (const auto& [t, n] : seen) EXPECT_EQ(n, 1) << "point " << t << " sent " << n << " times";
  EXPECT_GE(metric("edgesketch_http_stream_events_total"), 3);
}

TEST_F(HttpStreamTest, StalledClientIsCutOffAtItsBufferBoundAndCounted) {
  // Four queries over the eight series: each new window makes an event of about 2 KB.
  std::string q = "step=10s&start=" + kStart;
  for (const char* m : {"vibration_count", "vibration_sum", "vibration_min", "vibration_max"}) {
    q += "&query=" + url_encode(m);
  }
  auto stalled = SseClient::open(server_->port(), "/api/v1/stream?" + q,
                                 {{"Authorization", "Bearer tok-acme"}}, kWait,
                                 /*receive_buffer=*/4096);
  ASSERT_TRUE(stalled);
  ASSERT_EQ(stalled->status(), 200) << stalled->head();
  // A reader that keeps up, on the same data, is not affected.
  auto reader = open(q);
  ASSERT_TRUE(reader);
  ASSERT_EQ(reader->status(), 200);
  int w = kWindows;
  std::int64_t reader_id = 0;
  // The stalled client reads nothing: what the server sends piles up until it passes 16 KiB.
  while (metric("edgesketch_http_streams_closed_total{reason=\"slow\"}") == 0) {
    ASSERT_LT(w, kWindows + 2000) << "never cut off";
    add_window(w);
    ++w;
    server_->data_applied("acme", kT0, kT0 + w * kWindowMs);
    while (reader_id < kT0 + w * kWindowMs) {
      auto ev = reader->next(kWait);
      ASSERT_TRUE(ev.has_value());
      reader_id = std::stoll(ev->id);
    }
  }
  EXPECT_EQ(metric("edgesketch_http_streams_closed_total{reason=\"slow\"}"), 1);
  // The server closed it: after what was queued the stream ends.
  EXPECT_TRUE(stalled->wait_closed(kWait));
  EXPECT_TRUE(test_support::eventually([&] { return metric("edgesketch_http_streams_open ") == 1; },
                                       10'000));
  // The reader goes on.
  add_window(w);
  ++w;
  server_->data_applied("acme", kT0, kT0 + w * kWindowMs);
  auto ev = reader->next(kWait);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(std::stoll(ev->id), kT0 + w * kWindowMs);
}

TEST_F(HttpStreamTest, NoTokenIsRefusedAndStaticFilesCarryNoData) {
  const std::string q = "query=" + url_encode("sum(secret_count)") + "&start=" + kStart;
  auto none = open(q, {});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status(), 401) << none->head();
  auto forged = open(q, {{"Cookie", "es_session=0123456789abcdef"}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status(), 401);
  EXPECT_EQ(testbed::http_get(server_->port(), "/api/v1/query?query=1").status, 401);

  // The page and its files: the same bytes for anyone, with or without a token, and no data.
  for (const char* path : {"/", "/ui/app.js", "/ui/style.css", "/ui/chart.min.js"}) {
    const auto anonymous = testbed::http_get(server_->port(), path);
    ASSERT_EQ(anonymous.status, 200) << path;
    EXPECT_EQ(testbed::http_get(server_->port(), path, "tok-acme").body, anonymous.body) << path;
    EXPECT_EQ(testbed::http_get(server_->port(), path, "tok-other").body, anonymous.body) << path;
    EXPECT_EQ(anonymous.body.find("acme"), std::string::npos) << path;
    EXPECT_EQ(anonymous.body.find("secret"), std::string::npos) << path;
    EXPECT_EQ(anonymous.header("X-Content-Type-Options"), "nosniff");
  }
  EXPECT_NE(testbed::http_get(server_->port(), "/").body.find("edgesketch live"),
            std::string::npos);
  EXPECT_NE(testbed::http_get(server_->port(), "/ui/chart.min.js").body.find("Chart"),
            std::string::npos);
}

TEST_F(HttpStreamTest, LoginGivesAPageScopedCookieThatAuthenticatesEveryDataRequest) {
  const auto wrong = testbed::http_post(server_->port(), "/api/v1/login", "token=nope",
                                        "application/x-www-form-urlencoded");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.header("Set-Cookie"), "");
  const auto login = testbed::http_post(server_->port(), "/api/v1/login", "token=tok-other",
                                        "application/x-www-form-urlencoded");
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.body, R"({"status":"success","data":{"tenant":"other"}})");
  const std::string cookie = login.header("Set-Cookie");
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos) << cookie;
  ASSERT_EQ(cookie.rfind("es_session=", 0), 0u) << cookie;
  const std::string session = cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(session.size(), std::string("es_session=").size() + 64);

  // The cookie is the tenant's token for the query API and the streams: its data only.
  const testbed::HttpHeaders with_cookie{{"Cookie", "theme=dark; " + session}};
  const auto q =
      testbed::http_request(server_->port(), "GET",
                            "/api/v1/query?query=" + url_encode("count({__name__=~\".+_count\"})") +
                                "&time=" + std::to_string((kT0 + 60'000) / 1000),
                            with_cookie);
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_NE(q.body.find(R"("value":[1700000040,"1"])"), std::string::npos) << q.body;
  auto stream =
      open("query=" + url_encode("sum(secret_count)") + "&start=" + kStart, {{"Cookie", session}});
  ASSERT_TRUE(stream);
  ASSERT_EQ(stream->status(), 200) << stream->head();
  server_->data_applied("other", kT0, kT0 + 2 * kWindowMs);
  auto ev = stream->next(kWait);
  ASSERT_TRUE(ev.has_value());
  EXPECT_NE(ev->data.find(R"("values":[[1699999990,"1"],[1700000000,"1"]])"), std::string::npos)
      << ev->data;
  stream.reset();

  // Logged out, the cookie opens nothing.
  const auto logout = testbed::http_request(server_->port(), "POST", "/api/v1/logout", with_cookie,
                                            "", "application/x-www-form-urlencoded");
  EXPECT_EQ(logout.status, 200);
  EXPECT_NE(logout.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(
      testbed::http_request(server_->port(), "GET", "/api/v1/query?query=1", with_cookie).status,
      401);
}

TEST_F(HttpStreamTest, PerTenantStreamLimit) {
  const std::string q = "query=" + url_encode("sum(vibration_count)");
  auto a = open(q);
  auto b = open(q);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->status(), 200);
  EXPECT_EQ(b->status(), 200);
  auto c = open(q);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status(), 503) << c->head();
  EXPECT_NE(c->head().find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(metric("edgesketch_http_streams_refused_total"), 1);
  // Another tenant has its own share.
  auto other = open(q, {{"Authorization", "Bearer tok-other"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status(), 200);
  // A closed stream frees its slot once the server notices (at the next keep-alive).
  a.reset();
  EXPECT_TRUE(test_support::eventually(
      [&] { return metric("edgesketch_http_streams_closed_total{reason=\"client\"}") == 1; },
      10'000));
  auto d = open(q);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status(), 200);
  EXPECT_EQ(metric("edgesketch_http_streams_open "), 3);
}

TEST_F(HttpStreamTest, BadRequestsAreRefusedBeforeStreaming) {
  auto missing = open("step=10s");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status(), 400);
  EXPECT_NE(missing->head().find(R"("errorType":"bad_data")"), std::string::npos);
  auto parse = open("query=" + url_encode("sum(("));
  ASSERT_TRUE(parse);
  EXPECT_EQ(parse->status(), 400);
  auto matrix = open("query=" + url_encode("vibration_count[1m:10s]"));
  ASSERT_TRUE(matrix);
  EXPECT_EQ(matrix->status(), 400);
  EXPECT_NE(matrix->head().find("must be Scalar or instant Vector"), std::string::npos);
  auto step = open("query=1&step=0");
  ASSERT_TRUE(step);
  EXPECT_EQ(step->status(), 400);
  auto id = open("query=1", {{"Authorization", "Bearer tok-acme"}, {"Last-Event-ID", "x"}});
  ASSERT_TRUE(id);
  EXPECT_EQ(id->status(), 400);
  EXPECT_EQ(metric("edgesketch_http_streams_opened_total"), 0);
}

TEST_F(HttpStreamTest, StopEndsOpenStreams) {
  auto s = open("query=1");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status(), 200);
  server_->stop();
  EXPECT_TRUE(s->wait_closed(kWait));
  EXPECT_EQ(metric("edgesketch_http_streams_closed_total{reason=\"shutdown\"}"), 1);
}

}  // namespace
}  // namespace edgesketch::http
