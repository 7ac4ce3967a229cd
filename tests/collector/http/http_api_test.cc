// Tests of the HTTP API on loopback with a real client (httplib::Client): exact Prometheus
// response bodies, errors and codes, auth and tenant isolation, limits, form POST, ops endpoints.
#include <gtest/gtest.h>

#include <httplib.h>
#include <zlib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "collector/query_test_data.h"
#include "edgesketch/http/http_server.h"
#include "edgesketch/http/prom_json.h"
#include "edgesketch/http/time_params.h"

namespace edgesketch::http {
namespace {

using query::testing::kT0;
using query::testing::kWindowMs;
using query::testing::kWindows;

class RecordingSink final : public IngestSink {
 public:
  Status ingest(std::string_view tenant, std::string_view gateway, ByteSpan body) override {
    std::lock_guard lock(mu);
    if (body.size() == 1 && body[0] == 'x') return Status::corruption("bad batch");
    if (body.size() == 1 && body[0] == 'u') return Status::unavailable("disk full");
    if (body.size() == 1 && body[0] == 'g') return Status::permission_denied("other gateway");
    tenants.emplace_back(tenant);
    gateways.emplace_back(gateway);
    bytes += body.size();
    return Status();
  }
  std::mutex mu;
  std::vector<std::string> tenants;
  std::vector<std::string> gateways;
  std::size_t bytes = 0;
};

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    query::testing::fill_fleet(source_);
    HttpServerOptions options;
    options.port = 0;
    options.tokens = {{"tok-acme", "acme"}, {"tok-other", "other"}, {"tok-busy", "busy"}};
    options.ingest_tokens = {{"tok-gw-1", IngestCredential{"other", "gw-1"}}};
    options.max_ingest_bytes = 1 << 20;
    options.tenant_limits["busy"].max_concurrent_queries = 0;
    options.worker_threads = 4;
    options.query_queue_timeout_ms = 50;
    server_ = std::make_unique<HttpServer>(options, engine_, clock_, &cache_, &sink_);
    ASSERT_TRUE(server_->start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override { server_->stop(); }

  httplib::Result get(const std::string& path, const std::string& token = "tok-acme") {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return client_->Get(path.c_str(), h);
  }
  static std::string enc(const std::string& s) { return httplib::detail::encode_query_param(s); }

  query::MemorySeriesSource source_;
  query::QueryEngine engine_{source_};
  FakeClock clock_{kT0 + 3600'000};
  query::RangeQueryCache cache_{query::RangeQueryCacheOptions{}, clock_};
  RecordingSink sink_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

const std::string kT0s = std::to_string(kT0 / 1000);

TEST_F(HttpApiTest, ScalarQueryHealthCheck) {
  auto r = get("/api/v1/query?query=1%2B1&time=" + kT0s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(r->body,
            R"({"status":"success","data":{"resultType":"scalar","result":[1699999980,"2"]}})");
  auto frac = get("/api/v1/query?query=1.5&time=1699999980.25");
  ASSERT_TRUE(frac);
  EXPECT_EQ(frac->body, R"({"status":"success","data":{"resultType":"scalar",)"
                        R"("result":[1699999980.250,"1.5"]}})");
  auto str = get("/api/v1/query?query=%22a%3Cb%22&time=2023-11-14T22:13:00Z");
  ASSERT_TRUE(str);
  EXPECT_EQ(str->body, R"({"status":"success","data":{"resultType":"string",)"
                       R"("result":[1699999980,"a\u003cb"]}})");
}

TEST_F(HttpApiTest, VectorQuery) {
  // At the end of the last window every window has ended within the lookback.
  const std::string t = std::to_string((kT0 + kWindows * kWindowMs) / 1000);
  auto r = get("/api/v1/query?time=" + t + "&query=" + enc("sum by (site) (vibration_count)"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                     R"({"metric":{"site":"s1"},"value":[1700000100,"240"]},)"
                     R"({"metric":{"site":"s2"},"value":[1700000100,"240"]}]}})");
  // 10 s earlier the last window (data up to t) is not in the point yet.
  const std::string before = std::to_string((kT0 + kWindows * kWindowMs) / 1000 - 10);
  auto b = get("/api/v1/query?time=" + before + "&query=" + enc("sum(vibration_count)"));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                     R"({"metric":{},"value":[1700000090,"440"]}]}})");
}

TEST_F(HttpApiTest, RangeQueryMatrixAndFormPost) {
  const std::string body = "query=" + enc("sum(vibration_count)") + "&start=" + kT0s +
                           "&end=" + std::to_string(kT0 / 1000 + 120) + "&step=1m";
  httplib::Headers h{{"Authorization", "Bearer tok-acme"}};
  auto r = client_->Post("/api/v1/query_range", h, body, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Point t merges the windows ending in (t − 1m, t]: none at kT0, windows 0..5 at kT0 + 60 s,
  // windows 6..11 at kT0 + 120 s.
  EXPECT_EQ(r->body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                     R"({"metric":{},"values":[[1700000040,"240"],[1700000100,"240"]]}]}})");
  // Same through GET (served from the cache now) with float-second step.
  auto g = get("/api/v1/query_range?query=" + enc("sum(vibration_count)") + "&start=" + kT0s +
               "&end=" + std::to_string(kT0 / 1000 + 120) + "&step=60");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, r->body);
  // The whole encoded response was kept: served without assembling extents.
  EXPECT_EQ(cache_.stats().rendered_hits, 1u);
  // A different range reuses the cached extents.
  auto shorter = get("/api/v1/query_range?query=" + enc("sum(vibration_count)") + "&start=" + kT0s +
                     "&end=" + std::to_string(kT0 / 1000 + 60) + "&step=60");
  ASSERT_TRUE(shorter);
  EXPECT_EQ(shorter->status, 200);
  EXPECT_GT(cache_.stats().hits, 0u);
  // New data for the range drops the stored response with the extents.
  server_->data_applied("acme", kT0, kT0 + 10'000);
  auto again = get("/api/v1/query_range?query=" + enc("sum(vibration_count)") + "&start=" + kT0s +
                   "&end=" + std::to_string(kT0 / 1000 + 120) + "&step=60");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, r->body);
  EXPECT_EQ(cache_.stats().rendered_hits, 1u);
}

std::string gunzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out;
  char buf[65536];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  EXPECT_EQ(rc, Z_STREAM_END);
  return out;
}

// Clients that accept gzip (as Grafana's) get large cached range responses compressed.
TEST_F(HttpApiTest, LargeRangeResponsesAreGzippedForClientsThatAcceptIt) {
  const std::string path = "/api/v1/query_range?query=" + enc("1+1") + "&start=0&end=10000&step=1";
  // The first answer is rendered for a gzip client, so the stored response has both forms.
  httplib::Headers h{{"Authorization", "Bearer tok-acme"}, {"Accept-Encoding", "gzip, deflate"}};
  httplib::Client raw("127.0.0.1", server_->port());
  raw.set_decompress(false);  // see the bytes on the wire
  auto first = raw.Get(path.c_str(), h);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  auto plain = get(path);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200);
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  EXPECT_GT(plain->body.size(), 100'000u);
  EXPECT_EQ(gunzip(first->body), plain->body);
  for (int i = 0; i < 2; ++i) {  // rendered, then the stored response
    auto z = raw.Get(path.c_str(), h);
    ASSERT_TRUE(z);
    ASSERT_EQ(z->status, 200);
    EXPECT_EQ(z->get_header_value("Content-Encoding"), "gzip");
    EXPECT_LT(z->body.size() * 3, plain->body.size());
    EXPECT_EQ(gunzip(z->body), plain->body);
  }
  // A client that decompresses sees the JSON.
  auto decoded = client_->Get(path.c_str(), h);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->body, plain->body);
}

TEST_F(HttpApiTest, ErrorsLikePrometheus) {
  auto parse = get("/api/v1/query?query=" + enc("sum(m{a=})"));
  ASSERT_TRUE(parse);
  EXPECT_EQ(parse->status, 400);
  EXPECT_EQ(parse->body, R"({"status":"error","errorType":"bad_data","error":"invalid parameter )"
                         R"(\"query\": 1:9: parse error: unexpected \"}\" in label matching, )"
                         R"(expected string"})");
  auto points = get("/api/v1/query_range?query=1&start=0&end=11001&step=1");
  ASSERT_TRUE(points);
  EXPECT_EQ(points->status, 400);
  EXPECT_EQ(points->body,
            R"J({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of )J"
            R"J(11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})J");
  auto ok11000 = get("/api/v1/query_range?query=1&start=0&end=11000&step=1");
  ASSERT_TRUE(ok11000);
  EXPECT_EQ(ok11000->status, 200);
  auto step = get("/api/v1/query_range?query=1&start=0&end=10&step=0");
  ASSERT_TRUE(step);
  EXPECT_EQ(step->status, 400);
  EXPECT_NE(step->body.find(R"(invalid parameter \"step\": zero or negative query resolution)"),
            std::string::npos)
      << step->body;
  auto order = get("/api/v1/query_range?query=1&start=10&end=0&step=1");
  ASSERT_TRUE(order);
  EXPECT_NE(order->body.find("end timestamp must not be before start time"), std::string::npos);
  auto time = get("/api/v1/query?query=1&time=yesterday");
  ASSERT_TRUE(time);
  EXPECT_EQ(time->status, 400);
  EXPECT_EQ(time->body, R"({"status":"error","errorType":"bad_data","error":"invalid parameter )"
                        R"(\"time\": Invalid time value for 'time': cannot parse \"yesterday\" )"
                        R"(to a valid timestamp"})");
  // Sketch series are native histograms; sketches without a histogram have nothing to return.
  const std::string at = "&time=" + std::to_string(kT0 / 1000 + 110);
  auto sketch = get("/api/v1/query?query=vibration" + at);
  ASSERT_TRUE(sketch);
  EXPECT_EQ(sketch->status, 200);
  EXPECT_NE(sketch->body.find(R"("histogram":[1700000090,{"count":")"), std::string::npos)
      << sketch->body;
  auto no_histogram = get("/api/v1/query?query=secret" + at, "tok-other");
  ASSERT_TRUE(no_histogram);
  EXPECT_EQ(no_histogram->status, 400);
  EXPECT_EQ(no_histogram->body,
            R"({"status":"error","errorType":"bad_data","error":"series {__name__=\"secret\", )"
            R"(site=\"s1\"} hold sketches without a histogram, which cannot be returned: select )"
            R"(secret_count, secret_sum, secret_min or secret_max, or use distinct_count(…) or )"
            R"J(topk_items(k, …)"})J");
  auto series = get("/api/v1/series");
  ASSERT_TRUE(series);
  EXPECT_EQ(series->body,
            R"({"status":"error","errorType":"bad_data","error":"no match[] parameter provided"})");
}

TEST_F(HttpApiTest, AuthAndTenantIsolation) {
  auto none = get("/api/v1/query?query=1", "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body.rfind(R"({"status":"error","errorType":"unauthorized","error":")", 0), 0u);
  auto wrong = get("/api/v1/labels", "tok-nope");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto mine = get("/api/v1/label/__name__/values");
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->body, R"({"status":"success","data":["vibration","vibration_count",)"
                        R"("vibration_max","vibration_min","vibration_sum"]})");
  auto theirs = get("/api/v1/label/__name__/values", "tok-other");
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->body, R"({"status":"success","data":["secret","secret_count","secret_max",)"
                          R"("secret_min","secret_sum"]})");
  auto peek = get("/api/v1/series?match[]=secret_count", "tok-acme");
  ASSERT_TRUE(peek);
  EXPECT_EQ(peek->body, R"({"status":"success","data":[]})");
  // A header naming a tenant changes nothing.
  httplib::Headers h{{"Authorization", "Bearer tok-acme"}, {"X-Scope-OrgID", "other"}};
  auto spoof = client_->Get("/api/v1/series?match[]=secret_count", h);
  ASSERT_TRUE(spoof);
  EXPECT_EQ(spoof->body, R"({"status":"success","data":[]})");
}

TEST_F(HttpApiTest, SeriesLabelsMetadataBuildinfo) {
  auto s = get("/api/v1/series?match[]=" + enc("vibration_max{site=\"s1\",line=\"l2\"}"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->body, R"({"status":"success","data":[)"
                     R"({"__name__":"vibration_max","device":"d1","line":"l2","site":"s1"},)"
                     R"({"__name__":"vibration_max","device":"d2","line":"l2","site":"s1"}]})");
  auto l = get("/api/v1/labels");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->body, R"({"status":"success","data":["__name__","device","line","site"]})");
  auto v = get("/api/v1/label/site/values?match[]=" + enc("vibration{line=\"l1\"}"));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->body, R"({"status":"success","data":["s1","s2"]})");
  auto bad = get("/api/v1/label/bad-name/values");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto m = get("/api/v1/metadata?metric=vibration_count");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, R"({"status":"success","data":{"vibration_count":[{"type":"gauge",)"
                     R"("help":"Readings per step (merged windows) of the stored metric.",)"
                     R"("unit":""}]}})");
  auto b = get("/api/v1/status/buildinfo");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(b->body.rfind(R"({"status":"success","data":{"version":"2.42.0","revision":)", 0), 0u);
}

TEST_F(HttpApiTest, SketchTable) {
  auto r = get("/api/v1/sketch?query=" + enc("vibration{site=\"s1\"}") +
               "&start=" + std::to_string(kT0 / 1000) + "&end=" + std::to_string(kT0 / 1000 + 110) +
               "&by=site,line&k=2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(
      r->body.rfind(R"({"status":"success","data":[{"site":"s1","line":"l1","count":110,)", 0), 0u)
      << r->body;
  EXPECT_NE(r->body.find(R"("p99":)"), std::string::npos);
  EXPECT_NE(r->body.find(R"("top_items":"E)"), std::string::npos);
}

TEST_F(HttpApiTest, ConcurrencyLimitAndIngestHook) {
  auto busy = get("/api/v1/query?query=1", "tok-busy");
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 503);
  EXPECT_NE(busy->body.find(R"("errorType":"unavailable")"), std::string::npos);
  httplib::Headers h{{"Authorization", "Bearer tok-gw-1"}};
  auto ok = client_->Post("/api/v1/ingest", h, "batch", "application/octet-stream");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(sink_.tenants, (std::vector<std::string>{"other"}));
  EXPECT_EQ(sink_.gateways, (std::vector<std::string>{"gw-1"}));
  auto bad = client_->Post("/api/v1/ingest", h, "x", "application/octet-stream");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

// Read tokens (a Grafana data source's) cannot ingest; a gateway's token ingests only as that
// gateway; a temporary fault is 503 with Retry-After, never a rejection.
TEST_F(HttpApiTest, IngestNeedsAGatewayTokenAndTheSinkDecidesTheRest) {
  for (const char* token : {"tok-acme", "tok-other"}) {
    httplib::Headers h{{"Authorization", std::string("Bearer ") + token}};
    auto r = client_->Post("/api/v1/ingest", h, "batch", "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << token;
    EXPECT_NE(r->body.find(R"("errorType":"forbidden")"), std::string::npos) << r->body;
  }
  httplib::Headers none;
  auto anon = client_->Post("/api/v1/ingest", none, "batch", "application/octet-stream");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  httplib::Headers unknown{{"Authorization", "Bearer tok-gw-unknown"}};
  auto u = client_->Post("/api/v1/ingest", unknown, "batch", "application/octet-stream");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->status, 401);
  EXPECT_TRUE(sink_.tenants.empty());

  httplib::Headers gw{{"Authorization", "Bearer tok-gw-1"}};
  auto other = client_->Post("/api/v1/ingest", gw, "g", "application/octet-stream");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  auto full = client_->Post("/api/v1/ingest", gw, "u", "application/octet-stream");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 503);
  EXPECT_EQ(full->get_header_value("Retry-After"), "1");
  EXPECT_TRUE(sink_.tenants.empty());
}

// curl --data-binary sends application/x-www-form-urlencoded: the body is still the batch's
// bytes, up to max_ingest_bytes; past it a JSON 413.
TEST_F(HttpApiTest, IngestTakesTheBodyAsBytesWhateverItsContentType) {
  httplib::Headers gw{{"Authorization", "Bearer tok-gw-1"}};
  std::string body(300'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 % 251);
  for (const char* type : {"application/x-www-form-urlencoded", "application/octet-stream",
                           "application/x-protobuf", "text/plain"}) {
    auto r = client_->Post("/api/v1/ingest", gw, body, type);
    ASSERT_TRUE(r) << type;
    EXPECT_EQ(r->status, 200) << type << ": " << r->body;
  }
  EXPECT_EQ(sink_.bytes, 4 * body.size());
  auto big = client_->Post("/api/v1/ingest", gw, std::string((1 << 20) + 1, 'a'),
                           "application/x-www-form-urlencoded");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find(R"("errorType":"bad_data")"), std::string::npos) << big->body;
  EXPECT_EQ(sink_.bytes, 4 * body.size());
}

// Request bodies larger than the server's read buffer arrive whole, over keep-alive too.
TEST_F(HttpApiTest, LargeBodiesArriveWhole) {
  httplib::Headers h{{"Authorization", "Bearer tok-gw-1"}};
  client_->set_keep_alive(true);
  std::string body(900'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  for (int i = 0; i < 2; ++i) {
    auto r = client_->Post("/api/v1/ingest", h, body, "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  std::lock_guard lock(sink_.mu);
  EXPECT_EQ(sink_.bytes, 2 * body.size());
}

TEST_F(HttpApiTest, OpsEndpoints) {
  auto h = get("/-/healthy", "");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto rd = get("/-/ready", "");
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->status, 200);
  server_->set_ready(false);
  auto nr = get("/-/ready", "");
  ASSERT_TRUE(nr);
  EXPECT_EQ(nr->status, 503);
  ASSERT_TRUE(get("/api/v1/query?query=1"));
  auto m = get("/metrics", "");
  ASSERT_TRUE(m);
  EXPECT_NE(
      m->body.find("edgesketch_http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 1"),
      std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("edgesketch_http_request_duration_seconds_bucket{handler=\"/api/v1/"
                         "query\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(m->body.find("edgesketch_query_cache_hits_total"), std::string::npos);
}

TEST(HttpJson, NumbersAndStrings) {
  std::string out;
  append_sample_value(out, 1.23);
  append_sample_value(out, 1e21);
  append_sample_value(out, 1e-7);
  append_sample_value(out, 123456789.0);
  append_sample_value(out, -0.5);
  append_sample_value(out, std::nan(""));
  append_sample_value(out, INFINITY);
  append_sample_value(out, -INFINITY);
  append_sample_value(out, 123456789012345678901.0);
  append_sample_value(out, 0x1p53 + 2);
  append_sample_value(out, 0.1 + 0.2);
  EXPECT_EQ(out, R"("1.23""1e+21""1e-07""123456789""-0.5""NaN""+Inf""-Inf")"
                 R"("123456789012345680000""9007199254740994""0.30000000000000004")");
  // A scalar result is always in fixed notation (Prometheus' Scalar encoder).
  out.clear();
  append_scalar_value(out, 1e-7);
  append_scalar_value(out, 1e22);
  append_scalar_value(out, -0.0);
  append_scalar_value(out, 1.2345678901234568e+29);
  append_scalar_value(out, std::nan(""));
  EXPECT_EQ(out,
            R"("0.0000001""10000000000000000000000""-0""123456789012345680000000000000""NaN")");
  out.clear();
  append_scalar_value(out, 5e-324);
  EXPECT_EQ(out, "\"0." + std::string(323, '0') + "5\"");
  out.clear();
  append_scalar_value(out, -1.7976931348623157e308);
  EXPECT_EQ(out.size(), 2 + 1 + 309u);
  EXPECT_EQ(out.substr(0, 20), "\"-179769313486231570");
  out.clear();
  append_timestamp(out, 1'700'000'000'005);
  append_timestamp(out, -1'500);
  append_timestamp(out, 0);
  EXPECT_EQ(out, "1700000000.005-1.5000");
}

TEST(HttpJson, TimeParameters) {
  EXPECT_EQ(*parse_timestamp_ms("1700000000.5"), 1'700'000'000'500);
  EXPECT_EQ(*parse_timestamp_ms("2023-11-14T22:13:20Z"), 1'700'000'000'000);
  EXPECT_EQ(*parse_timestamp_ms("2023-11-14T23:13:20.25+01:00"), 1'700'000'000'250);
  EXPECT_FALSE(parse_timestamp_ms("2023-02-30T00:00:00Z").ok());
  EXPECT_FALSE(parse_timestamp_ms("nan").ok());
  EXPECT_FALSE(parse_timestamp_ms("1e300").ok());
  EXPECT_EQ(*parse_step_ms("15"), 15'000);
  EXPECT_EQ(*parse_step_ms("0.5"), 500);
  EXPECT_EQ(*parse_step_ms("1m30s"), 90'000);
  EXPECT_EQ(*parse_step_ms("-1"), -1'000);
  EXPECT_EQ(parse_step_ms("1e10").status().message(),
            "cannot parse \"1e10\" to a valid duration. It overflows int64");
  EXPECT_FALSE(parse_step_ms("fast").ok());
}

// A source whose scans (of one tenant, or of all when `tenant` is empty) wait until the test
// opens the gate.
class GatedSource final : public query::SeriesSource {
 public:
  explicit GatedSource(query::SeriesSource& inner, std::string tenant = "")
      : inner_(inner), tenant_(std::move(tenant)) {}
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Blocks until a scan is waiting at the gate.
  void wait_for_scan() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return waiting_ > 0; });
  }
  Result<std::vector<query::SeriesRows>> scan(std::string_view tenant,
                                              const query::ScanRequest& req) override {
    if (tenant_.empty() || tenant == tenant_) {
      std::unique_lock lock(mu_);
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
    }
    return inner_.scan(tenant, req);
  }
  Result<std::vector<query::Labels>> series(std::string_view tenant,
                                            std::span<const query::LabelMatcher> m,
                                            std::int64_t start, std::int64_t end,
                                            std::size_t limit) override {
    return inner_.series(tenant, m, start, end, limit);
  }
  Result<std::vector<std::string>> label_values(std::string_view tenant, std::string_view name,
                                                std::span<const query::LabelMatcher> m,
                                                std::int64_t start, std::int64_t end) override {
    return inner_.label_values(tenant, name, m, start, end);
  }
  Result<std::vector<std::string>> label_names(std::string_view tenant,
                                               std::span<const query::LabelMatcher> m,
                                               std::int64_t start, std::int64_t end) override {
    return inner_.label_names(tenant, m, start, end);
  }

 private:
  query::SeriesSource& inner_;
  const std::string tenant_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

// Queries beyond the tenant's concurrency limit wait for a slot; 503 only after the queue
// timeout.
TEST(HttpConcurrencyTest, QueriesOverTheLimitQueueThenRunOrTimeOut) {
  query::MemorySeriesSource memory;
  query::testing::fill_fleet(memory);
  GatedSource gated(memory);
  query::QueryEngine engine(gated);
  FakeClock clock(kT0 + kWindows * kWindowMs);
  HttpServerOptions options;
  options.port = 0;
  options.tokens = {{"tok", "acme"}};
  options.default_limits.max_concurrent_queries = 1;
  options.query_queue_timeout_ms = 200;
  HttpServer server(options, engine, clock);
  ASSERT_TRUE(server.start().ok());
  const std::string path = "/api/v1/query?query=sum(vibration_count)&time=" +
                           std::to_string((kT0 + kWindows * kWindowMs) / 1000);
  auto query = [&] {
    httplib::Client c("127.0.0.1", server.port());
    return c.Get(path, httplib::Headers{{"Authorization", "Bearer tok"}});
  };
  // The first query holds the only slot, blocked in its scan.
  std::thread first([&] {
    auto r = query();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  });
  gated.wait_for_scan();
  // A second one waits 200 ms for the slot, then gets 503.
  auto timed_out = query();
  ASSERT_TRUE(timed_out);
  EXPECT_EQ(timed_out->status, 503);
  EXPECT_NE(timed_out->body.find("none finished within 200 ms"), std::string::npos);
  // A third one waits, and runs once the first finishes.
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gated.open();
  });
  auto queued = query();
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->status, 200) << queued->body;
  opener.join();
  first.join();
  server.stop();
}

// Counts finished requests; waits for a number of them.
class Outcomes {
 public:
  void add(int status, bool retry_after) {
    {
      std::lock_guard lock(mu_);
      ++by_status_[status];
      if (retry_after) ++retry_after_;
      ++done_;
    }
    cv_.notify_all();
  }
  void wait_for(int status, int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return by_status_[status] >= n; });
  }
  int count(int status) {
    std::lock_guard lock(mu_);
    return by_status_[status];
  }
  int done() {
    std::lock_guard lock(mu_);
    return done_;
  }
  int retry_after() {
    std::lock_guard lock(mu_);
    return retry_after_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, int> by_status_;
  int done_ = 0;
  int retry_after_ = 0;
};

// One tenant flooding the server with slow queries occupies at most its share of the workers:
// its queries beyond the share are refused at once (503, Retry-After), while another tenant's
// query, /-/healthy and /metrics are answered before any of the flood's queries finishes.
TEST(HttpFairnessTest, OneTenantsQueriesLeaveWorkersForTheOthers) {
  query::MemorySeriesSource memory;
  query::testing::fill_fleet(memory);
  GatedSource gated(memory, "acme");
  query::QueryEngine engine(gated);
  FakeClock clock(kT0 + kWindows * kWindowMs);
  HttpServerOptions options;
  options.port = 0;
  options.tokens = {{"tok-acme", "acme"}, {"tok-other", "other"}};
  options.default_limits.max_concurrent_queries = 1;
  options.worker_threads = 6;
  options.reserved_workers = 2;  // 4 query workers, 2 per tenant
  options.query_queue_timeout_ms = 120'000;
  HttpServer server(options, engine, clock);
  ASSERT_TRUE(server.start().ok());
  const std::string t = std::to_string((kT0 + kWindows * kWindowMs) / 1000);
  auto query = [&](const std::string& token, const std::string& q) {
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(120, 0);
    return c.Get("/api/v1/query?query=" + q + "&time=" + t,
                 httplib::Headers{{"Authorization", "Bearer " + token}});
  };

  constexpr int kFlood = 8;
  Outcomes flood;
  std::vector<std::thread> threads;
  for (int i = 0; i < kFlood; ++i) {
    threads.emplace_back([&] {
      auto r = query("tok-acme", "sum(vibration_count)");
      if (!r) {
        flood.add(0, false);
        return;
      }
      flood.add(r->status, r->has_header("Retry-After"));
    });
  }
  // Two of acme's queries hold its two workers (one running at the gate, one waiting for the
  // slot); the other six are refused without waiting.
  flood.wait_for(503, kFlood - 2);
  gated.wait_for_scan();

  auto other = query("tok-other", "secret_count");
  httplib::Client ops("127.0.0.1", server.port());
  ops.set_read_timeout(120, 0);
  auto healthy = ops.Get("/-/healthy");
  auto metrics = ops.Get("/metrics");
  // All three were answered while acme's two queries were still held at the gate.
  EXPECT_EQ(flood.done(), kFlood - 2);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200) << other->body;
  EXPECT_NE(other->body.find(R"("__name__":"secret_count")"), std::string::npos) << other->body;
  ASSERT_TRUE(healthy);
  EXPECT_EQ(healthy->status, 200);
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("edgesketch_http_queries_refused_total{reason=\"workers\"} 6"),
            std::string::npos)
      << metrics->body;

  gated.open();
  for (auto& th : threads) th.join();
  EXPECT_EQ(flood.count(200), 2);
  EXPECT_EQ(flood.count(503), kFlood - 2);
  EXPECT_EQ(flood.retry_after(), kFlood - 2);
  server.stop();
}

// A client that sends its request head byte by byte and never finishes it is cut off once the
// header timeout has passed since its first byte, so it cannot keep a worker: with both workers
// taken by such clients, a normal request is still answered.
TEST(HttpHeaderTimeoutTest, SlowHeadersAreCutOffAndOthersServed) {
  query::MemorySeriesSource memory;
  query::QueryEngine engine(memory);
  FakeClock clock(kT0);
  HttpServerOptions options;
  options.port = 0;
  options.worker_threads = 2;
  options.reserved_workers = 1;
  options.header_timeout_ms = 300;
  HttpServer server(options, engine, clock);
  ASSERT_TRUE(server.start().ok());

  // Returns the milliseconds until the server closed the connection (or answered), or -1 when
  // it still had not after 60 s of dribbling.
  auto slow_client = [&]() -> std::int64_t {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -2;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -2;
    }
    const std::string head = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n";
    const auto t0 = std::chrono::steady_clock::now();
    std::int64_t result = -1;
    for (std::size_t i = 0; i < 3000; ++i) {
      const char c = i < head.size() ? head[i] : "X-Slow: a\r\n"[(i - head.size()) % 11];
      if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
        result = 0;
        break;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {  // an answer (400) or the close
        char buf[512];
        while (::recv(fd, buf, sizeof buf, 0) > 0) {
        }
        result = 0;
        break;
      }
    }
    if (result == 0) {
      result = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
    }
    ::close(fd);
    return result;
  };
  std::int64_t cut[2] = {-1, -1};
  std::thread a([&] { cut[0] = slow_client(); });
  std::thread b([&] { cut[1] = slow_client(); });
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);
  auto r = c.Get("/-/healthy");
  a.join();
  b.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (std::int64_t ms : cut) {
    EXPECT_GE(ms, 300) << "cut off before the header timeout, or never (-1)";
  }
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("edgesketch_http_header_timeouts_total 2"), std::string::npos) << m->body;
  server.stop();
}

}  // namespace
}  // namespace edgesketch::http
