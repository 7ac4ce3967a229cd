// HttpClient: HTTP(S) requests over one reused libcurl easy handle, so consecutive requests to
// the same server share a keep-alive connection (and TLS session). What the agent's HTTP uplink
// and the collector's ClickHouse store send their requests with.
//
// Transport failures (refused, reset, timed out, TLS handshake) are kUnavailable: temporary,
// for the caller to retry. Any HTTP status is an answer, returned with (the start of) its body;
// what a status means is the caller's business.
//
// Not thread-safe: one thread uses a client.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::net {

struct HttpClientOptions {
  // Bound on one request, connect included.
  int timeout_ms = 10'000;
  // Bound on the connect alone; 0: timeout_ms.
  int connect_timeout_ms = 0;
  // https:// only: a CA bundle instead of the system's; a client certificate and key (PEM) for
  // mutual TLS, both or neither.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // "Name: value" lines sent with every request.
  std::vector<std::string> headers;
  // HTTP basic authentication when user is not empty.
  std::string user;
  std::string password;
  // Response bytes kept; the rest is read and dropped (HttpResponse::truncated).
  std::size_t max_response_bytes = 4096;
  // Ask for a compressed response (libcurl decodes it): e.g. "gzip"; empty: identity.
  std::string accept_encoding;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  bool truncated = false;  // more than max_response_bytes came
};

class HttpClient {
 public:
  // kInvalidArgument for a cert without a key or the reverse; kInternal if libcurl cannot start.
  static Result<std::unique_ptr<HttpClient>> create(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to `url` (http:// or https://) with the options' headers plus `extra_headers`.
  Result<HttpResponse> post(const std::string& url, ByteSpan body,
                            const std::vector<std::string>& extra_headers = {});
  Result<HttpResponse> get(const std::string& url);

 private:
  explicit HttpClient(HttpClientOptions options);
  Result<HttpResponse> perform(const std::string& url, const ByteSpan* body,
                               const std::vector<std::string>& extra_headers);

  HttpClientOptions options_;
  void* curl_ = nullptr;  // CURL*
};

// True for "http://..." and "https://...".
bool is_http_url(std::string_view url);

}  // namespace edgesketch::net
