#include "edgesketch/net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

namespace edgesketch::net {
namespace {

struct BodySink {
  HttpResponse* response;
  std::size_t max_bytes;
};

std::size_t collect_body(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const std::size_t n = size * nmemb;
  std::string& body = sink->response->body;
  const std::size_t room = sink->max_bytes - std::min(sink->max_bytes, body.size());
  body.append(data, std::min(n, room));
  if (n > room) sink->response->truncated = true;
  return n;
}

// curl_global_init is not thread-safe; done once for the process.
Status global_init() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) {
    return Status::internal(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  return Status();
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

}  // namespace

bool is_http_url(std::string_view url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(HttpClientOptions options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::invalid_argument(
        "http client: a TLS client certificate needs its key, and a key its certificate");
  }
  ES_RETURN_IF_ERROR(global_init());
  std::unique_ptr<HttpClient> c(new HttpClient(std::move(options)));
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::internal("http client: curl_easy_init failed");
  c->curl_ = curl;
  const HttpClientOptions& o = c->options_;
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout_ms));
  curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(o.connect_timeout_ms > 0 ? o.connect_timeout_ms : o.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect_body);
  if (!o.tls_ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.tls_ca_file.c_str());
  if (!o.tls_cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, o.tls_cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, o.tls_key_file.c_str());
  }
  if (!o.user.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, o.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, o.password.c_str());
  }
  if (!o.accept_encoding.empty()) {
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, o.accept_encoding.c_str());
  }
  return c;
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResponse> HttpClient::post(const std::string& url, ByteSpan body,
                                      const std::vector<std::string>& extra_headers) {
  return perform(url, &body, extra_headers);
}

Result<HttpResponse> HttpClient::get(const std::string& url) { return perform(url, nullptr, {}); }

Result<HttpResponse> HttpClient::perform(const std::string& url, const ByteSpan* body,
                                         const std::vector<std::string>& extra_headers) {
  if (!is_http_url(url)) {
    return Status::invalid_argument("http client: '" + url + "' is not an http(s):// URL");
  }
  CURL* curl = static_cast<CURL*>(curl_);
  HeaderList headers;
  headers.add("Expect:");  // no 100-continue round trip before a body
  for (const std::string& h : options_.headers) headers.add(h);
  for (const std::string& h : extra_headers) headers.add(h);
  HttpResponse response;
  BodySink sink{&response, options_.max_response_bytes};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);  // the list dies with this call
  if (rc != CURLE_OK) {
    return Status::unavailable((body != nullptr ? "POST " : "GET ") + url + ": " +
                               curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace edgesketch::net
