// HttpUplink: one reused libcurl easy handle; the response body is kept (bounded) for errors.
#include "forward/http_uplink.h"

#include <curl/curl.h>

#include <mutex>

namespace edgesketch::agent {
namespace {

constexpr std::size_t kMaxResponseBytes = 4096;

std::size_t collect_body(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  std::size_t n = size * nmemb;
  if (out->size() < kMaxResponseBytes)
    out->append(data, std::min(n, kMaxResponseBytes - out->size()));
  return n;
}

}  // namespace

std::string with_default_ingest_path(const std::string& url) {
  std::size_t scheme = url.find("://");
  std::size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  std::size_t path = url.find('/', host_start);
  if (path == std::string::npos) return url + "/api/v1/ingest";
  if (path == url.size() - 1) return url.substr(0, path) + "/api/v1/ingest";
  return url;
}

Result<std::unique_ptr<HttpUplink>> HttpUplink::create(HttpUplinkOptions options) {
  if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
    return Status::invalid_argument("http uplink: url '" + options.url +
                                    "' is not http://HOST:PORT[/path] or https://...");
  }
  // curl_global_init is not thread-safe; do it once for the process.
  static std::once_flag once;
  static CURLcode init_rc = CURLE_OK;
  std::call_once(once, [] { init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_rc != CURLE_OK) {
    return Status::internal(std::string("http uplink: curl_global_init: ") +
                            curl_easy_strerror(init_rc));
  }
  std::string url = with_default_ingest_path(options.url);
  std::unique_ptr<HttpUplink> up(new HttpUplink(std::move(options), std::move(url)));
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::internal("http uplink: curl_easy_init failed");
  up->curl_ = curl;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/x-protobuf");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  if (!up->options_.bearer_token.empty()) {
    headers =
        curl_slist_append(headers, ("Authorization: Bearer " + up->options_.bearer_token).c_str());
  }
  up->headers_ = headers;
  curl_easy_setopt(curl, CURLOPT_URL, up->url_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(up->options_.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(up->options_.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &up->response_);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  return up;
}

HttpUplink::HttpUplink(HttpUplinkOptions options, std::string url)
    : options_(std::move(options)), url_(std::move(url)) {}

HttpUplink::~HttpUplink() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
  if (headers_ != nullptr) curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

Status HttpUplink::post(ByteSpan window_batch) {
  CURL* curl = static_cast<CURL*>(curl_);
  response_.clear();
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, window_batch.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(window_batch.size()));
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    return Status::unavailable("http uplink: POST " + url_ + ": " + curl_easy_strerror(rc));
  }
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code == 200) return Status();
  std::string msg = "http uplink: POST " + url_ + " answered " + std::to_string(code);
  if (!response_.empty()) msg += ": " + response_.substr(0, 200);
  if (code >= 500 || code == 429) return Status::unavailable(msg);
  // The collector refuses this batch for good (undecodable, too large): like an Ack rejection.
  if (code == 400 || code == 413 || code == 422) return Status::invalid_argument(msg);
  // 401/403/404…: the agent's token or URL is wrong; retried, the operator fixes the config.
  return Status::failed_precondition(msg);
}

}  // namespace edgesketch::agent
