// HttpUplink: one net::HttpClient (a reused libcurl handle); the start of an error's body goes
// into the status.
#include "forward/http_uplink.h"

namespace edgesketch::agent {

std::string with_default_ingest_path(const std::string& url) {
  std::size_t scheme = url.find("://");
  std::size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  std::size_t path = url.find('/', host_start);
  if (path == std::string::npos) return url + "/api/v1/ingest";
  if (path == url.size() - 1) return url.substr(0, path) + "/api/v1/ingest";
  return url;
}

Result<std::unique_ptr<HttpUplink>> HttpUplink::create(HttpUplinkOptions options) {
  if (!net::is_http_url(options.url)) {
    return Status::invalid_argument("http uplink: url '" + options.url +
                                    "' is not http://HOST:PORT[/path] or https://...");
  }
  net::HttpClientOptions o;
  o.timeout_ms = options.timeout_ms;
  o.headers.push_back("Content-Type: application/x-protobuf");
  if (!options.bearer_token.empty()) {
    o.headers.push_back("Authorization: Bearer " + options.bearer_token);
  }
  auto client = net::HttpClient::create(std::move(o));
  if (!client.ok()) return Status::internal("http uplink: " + client.status().message());
  return std::unique_ptr<HttpUplink>(
      new HttpUplink(with_default_ingest_path(options.url), std::move(client).value()));
}

HttpUplink::HttpUplink(std::string url, std::unique_ptr<net::HttpClient> client)
    : url_(std::move(url)), client_(std::move(client)) {}

HttpUplink::~HttpUplink() = default;

Status HttpUplink::post(ByteSpan window_batch) {
  auto response = client_->post(url_, window_batch);
  if (!response.ok()) return Status::unavailable("http uplink: " + response.status().message());
  const long code = response->status;
  if (code == 200) return Status();
  std::string msg = "http uplink: POST " + url_ + " answered " + std::to_string(code);
  if (!response->body.empty()) msg += ": " + response->body.substr(0, 200);
  if (code >= 500 || code == 429) return Status::unavailable(msg);
  // The collector refuses this batch for good (undecodable, too large): like an Ack rejection.
  if (code == 400 || code == 413 || code == 422) return Status::invalid_argument(msg);
  // 401/403/404…: the agent's token or URL is wrong; retried, the operator fixes the config.
  return Status::failed_precondition(msg);
}

}  // namespace edgesketch::agent
