// net::HttpClient against a real HTTP server on loopback (cpp-httplib): what it sends, what it
// returns for any status, the bound on a kept body, keep-alive reuse, and which failures are
// temporary.
#include "edgesketch/net/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "edgesketch/testbed/daemon_process.h"

namespace edgesketch::net {
namespace {

class HttpServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/echo", [&](const httplib::Request& req, httplib::Response& res) {
      remote_ports_.insert(req.remote_port);
      res.set_content(req.get_header_value("X-Test") + "|" + req.get_header_value("Authorization") +
                          "|" + req.body,
                      "text/plain");
    });
    server_.Get("/status/(\\d+)", [&](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      if (res.status != 204) res.set_content("status body", "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(100'000, 'x'), "text/plain");
    });
    server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("late", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  static ByteSpan bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::set<int> remote_ports_;  // written by the server's thread, read after the requests
};

TEST_F(HttpServerFixture, PostsTheBodyWithTheHeadersAndBasicAuth) {
  auto client = HttpClient::create({.headers = {"X-Test: one"}, .user = "u", .password = "p"});
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  const std::string body("binary\0body", 11);
  auto r = (*client)->post(url("/echo"), bytes(body));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "one|Basic dTpw|" + body);  // base64("u:p")
  EXPECT_FALSE(r->truncated);

  auto extra = (*client)->post(url("/echo"), bytes("x"), {"X-Test: two"});
  ASSERT_TRUE(extra.ok());
  // Both lines are sent; the server joins nothing and reports the first.
  EXPECT_EQ(extra->body.substr(0, 4), "one|");
}

TEST_F(HttpServerFixture, AnyStatusIsAnAnswerWithItsBody) {
  auto client = HttpClient::create({});
  ASSERT_TRUE(client.ok());
  for (int status : {200, 204, 400, 404, 429, 500, 503}) {
    auto r = (*client)->get(url("/status/" + std::to_string(status)));
    ASSERT_TRUE(r.ok()) << status << ": " << r.status().to_string();
    EXPECT_EQ(r->status, status);
    if (status != 204) {
      EXPECT_EQ(r->body, "status body") << status;
    }
  }
}

TEST_F(HttpServerFixture, KeepsAtMostMaxResponseBytesAndSaysSo) {
  auto client = HttpClient::create({.max_response_bytes = 1000});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->get(url("/big"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string(1000, 'x'));
  EXPECT_TRUE(r->truncated);

  auto whole = HttpClient::create({.max_response_bytes = 1 << 20});
  ASSERT_TRUE(whole.ok());
  auto w = (*whole)->get(url("/big"));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->body.size(), 100'000u);
  EXPECT_FALSE(w->truncated);
}

TEST_F(HttpServerFixture, ConsecutiveRequestsShareOneConnection) {
  auto client = HttpClient::create({});
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 5; ++i) {
    auto r = (*client)->post(url("/echo"), bytes("hello"));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_EQ(remote_ports_.size(), 1u);
}

TEST_F(HttpServerFixture, TransportFailuresAreTemporary) {
  const int refused_port = testbed::free_port();  // nothing listens there
  ASSERT_GT(refused_port, 0);
  auto client = HttpClient::create({.timeout_ms = 500});
  ASSERT_TRUE(client.ok());
  auto refused = (*client)->get("http://127.0.0.1:" + std::to_string(refused_port) + "/status/200");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);

  auto slow = (*client)->get(url("/slow"));
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kUnavailable);

  // The same client works again once the server answers.
  auto after = (*client)->get(url("/status/200"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
}

TEST(HttpClientTest, RefusesBadOptionsAndUrls) {
  auto half_tls = HttpClient::create({.tls_cert_file = "/tmp/cert.pem"});
  ASSERT_FALSE(half_tls.ok());
  EXPECT_EQ(half_tls.status().code(), StatusCode::kInvalidArgument);
  auto client = HttpClient::create({});
  ASSERT_TRUE(client.ok());
  auto bad = (*client)->get("ftp://127.0.0.1/");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(is_http_url("https://x"));
  EXPECT_FALSE(is_http_url("tcp://x"));
}

}  // namespace
}  // namespace edgesketch::net
