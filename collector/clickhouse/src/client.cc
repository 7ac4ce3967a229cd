// Client: POST <url>/?database=<db>[&enable_http_compression=1] with the statement as the body
// or, for an insert, the statement as `query=` and the rows as the body; gzipped past
// compress_min_bytes. ClickHouse answers
// 200 with the result, or an error status with "Code: N, e.displayText() = ..." as the body.
#include "edgesketch/clickhouse/client.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <thread>

#include "edgesketch/common/url_encode.h"
#include "edgesketch/net/http_client.h"

namespace edgesketch::clickhouse {
namespace {

// gzip of `in` (RFC 1952, as Content-Encoding: gzip expects).
Result<std::string> gzip(ByteSpan in) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::internal("clickhouse: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::internal("clickhouse: deflate failed");
  return out;
}

std::string first_line(std::string_view body) {
  std::string_view line = body.substr(0, body.find('\n'));
  return std::string(line.substr(0, 300));
}

}  // namespace

int exception_code(std::string_view body) {
  constexpr std::string_view kPrefix = "Code: ";
  const std::size_t at = body.find(kPrefix);
  if (at == std::string_view::npos) return -1;
  const char* begin = body.data() + at + kPrefix.size();
  int code = -1;
  auto [end, ec] = std::from_chars(begin, body.data() + body.size(), code);
  return ec == std::errc() && end != begin ? code : -1;
}

bool is_temporary_code(int code) {
  switch (code) {
    case 74:   // CANNOT_READ_FROM_FILE_DESCRIPTOR (I/O error)
    case 75:   // CANNOT_WRITE_TO_FILE_DESCRIPTOR (I/O error, full disk)
    case 159:  // TIMEOUT_EXCEEDED
    case 160:  // TOO_SLOW
    case 202:  // TOO_MANY_SIMULTANEOUS_QUERIES
    case 203:  // NO_FREE_CONNECTION
    case 209:  // SOCKET_TIMEOUT
    case 210:  // NETWORK_ERROR
    case 241:  // MEMORY_LIMIT_EXCEEDED
    case 242:  // TABLE_IS_READ_ONLY
    case 243:  // NOT_ENOUGH_SPACE
    case 252:  // TOO_MANY_PARTS
    case 285:  // TOO_FEW_LIVE_REPLICAS
    case 319:  // UNKNOWN_STATUS_OF_INSERT
    case 425:  // SYSTEM_ERROR
      return true;
    default:
      return false;
  }
}

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  if (!net::is_http_url(options.url)) {
    return Status::invalid_argument("clickhouse: url '" + options.url +
                                    "' is not http://HOST:PORT or https://HOST:PORT");
  }
  net::HttpClientOptions h;
  h.timeout_ms = options.request_timeout_ms;
  h.connect_timeout_ms = options.connect_timeout_ms;
  h.tls_ca_file = options.tls_ca_file;
  h.tls_cert_file = options.tls_cert_file;
  h.tls_key_file = options.tls_key_file;
  h.user = options.user;
  h.password = options.password;
  h.max_response_bytes = options.max_response_bytes;
  h.headers = {"Content-Type: text/plain; charset=UTF-8"};
  if (options.compress_min_bytes > 0) h.accept_encoding = "gzip";
  auto http = net::HttpClient::create(std::move(h));
  if (!http.ok()) return Status::invalid_argument("clickhouse: " + http.status().message());
  std::unique_ptr<Client> c(new Client(std::move(options)));
  c->http_ = std::move(http).value();
  std::string base = c->options_.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  c->endpoint_ = base + "/?";
  if (!c->options_.database.empty()) {
    c->endpoint_ += "database=" + url_encode(c->options_.database) + "&";
  }
  if (c->options_.compress_min_bytes > 0) c->endpoint_ += "enable_http_compression=1&";
  if (!c->options_.sleep) {
    c->options_.sleep = [](std::int64_t ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    };
  }
  return c;
}

Client::Client(ClientOptions options) : options_(std::move(options)), backoff_(options_.backoff) {}

Client::~Client() = default;

Status Client::execute(std::string_view sql) { return send(sql, {}).status(); }

Result<std::string> Client::query(std::string_view sql) { return send(sql, {}); }

Status Client::insert(std::string_view insert, ByteSpan data) {
  return send(insert, data).status();
}

Result<std::string> Client::send(std::string_view statement, ByteSpan data) {
  // A query goes in the body. An insert's statement goes in the URL and its rows, as they are,
  // in the body: after a statement in the body ClickHouse would skip whitespace before the
  // data, and binary rows may begin with such bytes.
  Bytes body;
  std::string url = endpoint_;  // ends with '?' or '&'
  if (data.empty()) {
    body.assign(statement.begin(), statement.end());
    url.pop_back();
  } else {
    url += "query=" + url_encode(statement);
    body.assign(data.begin(), data.end());
  }
  std::string compressed;
  std::vector<std::string> headers;
  ByteSpan payload(body.data(), body.size());
  if (options_.compress_min_bytes > 0 && body.size() >= options_.compress_min_bytes) {
    ES_ASSIGN_OR_RETURN(compressed, gzip(payload));
    payload = ByteSpan(reinterpret_cast<const std::uint8_t*>(compressed.data()), compressed.size());
    headers.push_back("Content-Encoding: gzip");
  }
  Status last;
  for (int attempt = 0; attempt < std::max(1, options_.max_attempts); ++attempt) {
    if (attempt > 0) {
      ++stats_.retries;
      options_.sleep(backoff_.next_delay_ms());
    }
    ++stats_.requests;
    stats_.body_bytes += body.size();
    stats_.sent_bytes += payload.size();
    auto response = http_->post(url, payload, headers);
    if (!response.ok()) {
      // The transport's own words, without the URL (its query string is the whole statement).
      const std::string m = response.status().message();
      const std::size_t colon = m.rfind(": ");
      last = Status::unavailable("clickhouse at " + options_.url + ": " +
                                 (colon == std::string::npos ? m : m.substr(colon + 2)));
      continue;
    }
    if (response->status == 200) {
      if (response->truncated) {
        ++stats_.refused;
        return Status::failed_precondition(
            "clickhouse: the answer is larger than max_response_bytes (" +
            std::to_string(options_.max_response_bytes) + ")");
      }
      backoff_.reset();
      return std::move(response->body);
    }
    const int code = exception_code(response->body);
    std::string what = "clickhouse answered HTTP " + std::to_string(response->status) + ": " +
                       first_line(response->body);
    if (response->status == 503 || is_temporary_code(code)) {
      last = Status::unavailable(std::move(what));
      continue;
    }
    ++stats_.refused;
    return Status::failed_precondition(std::move(what));
  }
  ++stats_.temporary_failures;
  return last;
}

}  // namespace edgesketch::clickhouse
