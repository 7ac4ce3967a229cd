// HttpUplink: the forwarder's fallback path to the collector, `POST <url>` with an encoded
// WindowBatch as the body and a bearer token (net::HttpClient, libcurl). A 200 answer is the
// collector's durable ack for that batch; anything else (another status, a timeout, a refused
// connection) is not.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/http_client.h"

namespace edgesketch::agent {

struct HttpUplinkOptions {
  // "http://HOST:PORT" (the path defaults to /api/v1/ingest) or a full URL with its path.
  std::string url;
  // Sent as "Authorization: Bearer <token>"; empty: no header.
  std::string bearer_token;
  // Bound on one POST, connect included.
  int timeout_ms = 10'000;
};

// Not thread-safe: one thread (the forwarder's) posts.
class HttpUplink {
 public:
  // kInvalidArgument for a URL that is not http:// or https://.
  static Result<std::unique_ptr<HttpUplink>> create(HttpUplinkOptions options);
  ~HttpUplink();
  HttpUplink(const HttpUplink&) = delete;
  HttpUplink& operator=(const HttpUplink&) = delete;

  // POSTs one encoded WindowBatch. OK only on HTTP 200. kUnavailable for transport errors and
  // 5xx/429 (retry later), kFailedPrecondition for other statuses (the message carries the
  // status and the start of the response body).
  Status post(ByteSpan window_batch);

  // The URL actually posted to (default path applied).
  const std::string& url() const { return url_; }

 private:
  HttpUplink(std::string url, std::unique_ptr<net::HttpClient> client);

  std::string url_;
  std::unique_ptr<net::HttpClient> client_;
};

// "http://h:p" -> "http://h:p/api/v1/ingest"; a URL that has a path is kept as it is.
std::string with_default_ingest_path(const std::string& url);

}  // namespace edgesketch::agent
