// HttpServer: routes, auth, limits, parameter parsing and Prometheus-format responses.
#include "edgesketch/http/http_server.h"

#include <httplib.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "deadline_server.h"
#include "edgesketch/common/json_string.h"
#include "edgesketch/common/version.h"
#include "edgesketch/http/prom_json.h"
#include "edgesketch/http/server_metrics.h"
#include "edgesketch/http/time_params.h"
#include "edgesketch/query/promql_parser.h"
#include "page_assets.h"
#include "session_store.h"
#include "stream_hub.h"
#include "stream_results.h"

namespace edgesketch::http {
namespace {

using query::QueryEngine;

// Responses below this size are not worth compressing.
constexpr std::size_t kGzipMinBytes = 4096;

bool accepts_gzip(const httplib::Request& req) {
  const std::string ae = req.get_header_value("Accept-Encoding");
  return ae.find("gzip") != std::string::npos;
}

// gzip (RFC 1952) of `in` at zlib's fastest level; "" when zlib fails.
std::string gzip_compress(const std::string& in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

// The Prometheus API version this server mimics, reported by buildinfo so that Grafana
// enables the features of a modern Prometheus.
constexpr std::string_view kCompatiblePrometheusVersion = "2.42.0";

struct ApiError {
  int code;
  std::string type;
  std::string message;
};

ApiError bad_data(std::string message) { return {400, "bad_data", std::move(message)}; }

// Seconds a client refused for load should wait before retrying (Retry-After).
constexpr const char* kRetryAfterSeconds = "1";

ApiError from_status(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kCorruption:
      return {400, "bad_data", s.message()};
    case StatusCode::kResourceExhausted:
    case StatusCode::kFailedPrecondition:
      return {422, "execution", s.message()};
    case StatusCode::kUnavailable:
    case StatusCode::kIoError:
      return {503, "unavailable", s.message()};
    case StatusCode::kNotFound:
      return {404, "not_found", s.message()};
    case StatusCode::kPermissionDenied:
      return {403, "forbidden", s.message()};
    default:
      return {500, "internal", s.message()};
  }
}

// Request parameters: URL query parameters plus, for form POSTs, the body's.
class Params {
 public:
  explicit Params(const httplib::Request& req) : req_(req) {
    const auto type = req.get_header_value("Content-Type");
    if (req.method == "POST" && type.rfind("application/x-www-form-urlencoded", 0) == 0 &&
        !req.body.empty()) {
      httplib::detail::parse_query_text(req.body, form_);
    }
  }
  std::optional<std::string> get(const std::string& name) const {
    if (auto it = form_.find(name); it != form_.end()) return it->second;
    if (req_.has_param(name.c_str())) return req_.get_param_value(name.c_str());
    return std::nullopt;
  }
  std::vector<std::string> all(const std::string& name) const {
    std::vector<std::string> out;
    auto [b, e] = form_.equal_range(name);
    for (auto it = b; it != e; ++it) out.push_back(it->second);
    const std::size_t n = req_.get_param_value_count(name.c_str());
    for (std::size_t i = 0; i < n; ++i) out.push_back(req_.get_param_value(name.c_str(), i));
    return out;
  }

 private:
  const httplib::Request& req_;
  httplib::Params form_;
};

// Standard base64 (padding optional); nullopt when malformed or over 4 KiB.
std::optional<std::string> decode_base64(std::string_view in) {
  if (in.size() > 4096) return std::nullopt;
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The live page's session cookie.
constexpr std::string_view kSessionCookie = "es_session";

// The value of cookie `name` in a Cookie header ("a=1; b=2"), nullopt when absent.
std::optional<std::string> cookie_value(const std::string& header, std::string_view name) {
  std::string_view rest = header;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view item = rest.substr(0, semi);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=') {
      return std::string(item.substr(name.size() + 1));
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

std::int64_t floor_to(std::int64_t t, std::int64_t step) {
  const std::int64_t q = t / step;
  return (t % step != 0 && t < 0 ? q - 1 : q) * step;
}

void append_json_number(std::string& out, std::optional<double> v) {
  if (!v || !std::isfinite(*v)) {
    out += "null";
    return;
  }
  out += fmt::format("{}", *v);
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, QueryEngine& engine, const Clock& clock,
       query::RangeQueryCache* cache, IngestSink* ingest)
      : options_(std::move(options)),
        engine_(engine),
        clock_(clock),
        cache_(cache),
        ingest_(ingest),
        ingest_tokens_(options_.ingest_tokens),
        hub_(std::chrono::milliseconds(std::max<std::int64_t>(0, options_.stream_delay_ms))),
        sessions_(options_.max_sessions, options_.session_ttl_ms),
        stream_results_(std::chrono::seconds(1)) {
    const int workers = std::max(1, options_.worker_threads);
    query_worker_cap_ = static_cast<std::size_t>(
        std::max(1, workers - std::clamp(options_.reserved_workers, 0, workers - 1)));
    tenant_worker_cap_ =
        options_.max_query_workers_per_tenant > 0
            ? std::min(query_worker_cap_,
                       static_cast<std::size_t>(options_.max_query_workers_per_tenant))
            : std::max<std::size_t>(1, query_worker_cap_ / 2);
    install_routes();
  }

  Status start() {
    // Each live stream keeps its worker: the pool has one for each stream beyond those of the
    // other requests.
    server_.new_task_queue = [n = options_.worker_threads, streams = options_.max_streams] {
      return new httplib::ThreadPool(static_cast<std::size_t>(std::max(1, n)) + streams);
    };
    server_.set_payload_max_length(options_.max_body_bytes);
    server_.set_header_timeout(
        std::chrono::milliseconds(std::max<std::int64_t>(1, options_.header_timeout_ms)));
    // httplib's default sets SO_REUSEPORT, which would let a second collector bind the same port
    // and silently take half the requests; SO_REUSEADDR alone still allows a quick restart.
    // TCP_NODELAY (inherited by accepted connections): a response goes out in several writes,
    // and Nagle's algorithm against the client's delayed ACK would add 40 ms to each.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    });
    int port = options_.port;
    if (port == 0) {
      port = server_.bind_to_any_port(options_.bind_address);
      if (port < 0) port = 0;
    } else if (!server_.bind_to_port(options_.bind_address, port)) {
      port = 0;
    }
    if (port <= 0) {
      return Status::io_error(fmt::format("http: cannot bind {}:{} (in use or not permitted)",
                                          options_.bind_address, options_.port));
    }
    port_ = port;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() only reaches a running listener: wait (bounded) until it runs.
    for (int i = 0; i < 2000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ready_ = true;
    return Status();
  }

  void stop() {
    hub_.stop();  // the streams end their responses, so the workers can be joined
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  void set_ready(bool r) { ready_ = r; }

  std::string metrics_text() const {
    std::string text;
    if (cache_ != nullptr) {
      const auto stats = cache_->stats();
      text = metrics_.render(&stats, running_.load());
    } else {
      text = metrics_.render(nullptr, running_.load());
    }
    text += fmt::format(
        "# HELP edgesketch_http_queries_refused_total Queries refused with 503: no query worker "
        "left for the tenant (workers) or no concurrency slot within the queue timeout "
        "(queue_timeout).\n"
        "# TYPE edgesketch_http_queries_refused_total counter\n"
        "edgesketch_http_queries_refused_total{{reason=\"workers\"}} {}\n"
        "edgesketch_http_queries_refused_total{{reason=\"queue_timeout\"}} {}\n"
        "# HELP edgesketch_http_header_timeouts_total Connections closed because a request head "
        "did not arrive within the header timeout.\n"
        "# TYPE edgesketch_http_header_timeouts_total counter\n"
        "edgesketch_http_header_timeouts_total {}\n"
        "# HELP edgesketch_http_streams_open Live streams (/api/v1/stream) open.\n"
        "# TYPE edgesketch_http_streams_open gauge\n"
        "edgesketch_http_streams_open {}\n"
        "# HELP edgesketch_http_streams_opened_total Live streams opened.\n"
        "# TYPE edgesketch_http_streams_opened_total counter\n"
        "edgesketch_http_streams_opened_total {}\n"
        "# HELP edgesketch_http_streams_refused_total Live streams refused with 503: the tenant's "
        "or the server's stream limit was reached.\n"
        "# TYPE edgesketch_http_streams_refused_total counter\n"
        "edgesketch_http_streams_refused_total {}\n"
        "# HELP edgesketch_http_streams_closed_total Live streams ended: by the client (client), "
        "cut off for falling stream_buffer_bytes behind (slow), by the server's stop "
        "(shutdown).\n"
        "# TYPE edgesketch_http_streams_closed_total counter\n"
        "edgesketch_http_streams_closed_total{{reason=\"client\"}} {}\n"
        "edgesketch_http_streams_closed_total{{reason=\"slow\"}} {}\n"
        "edgesketch_http_streams_closed_total{{reason=\"shutdown\"}} {}\n"
        "# HELP edgesketch_http_stream_events_total Events with points sent on live streams.\n"
        "# TYPE edgesketch_http_stream_events_total counter\n"
        "edgesketch_http_stream_events_total {}\n",
        refused_workers_.load(), refused_timeout_.load(), server_.header_timeouts(),
        hub_.open_streams(), streams_opened_.load(), streams_refused_.load(),
        streams_closed_client_.load(), streams_closed_slow_.load(), streams_closed_shutdown_.load(),
        stream_events_.load());
    if (options_.extra_metrics) text += options_.extra_metrics();
    return text;
  }

  void set_ingest_tokens(std::map<std::string, IngestCredential> tokens) {
    std::lock_guard lock(ingest_tokens_mu_);
    ingest_tokens_ = std::move(tokens);
  }

  void data_applied(std::string_view tenant, std::int64_t start_ms, std::int64_t end_ms) {
    if (cache_ != nullptr) cache_->invalidate(tenant, start_ms, end_ms);
    hub_.applied(tenant, end_ms);
  }

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&,
                                     const std::string& tenant, const Params& params)>;

  // Serves `handler` with authentication, error mapping and metrics.
  httplib::Server::Handler api(std::string name, Handler handler, bool is_query) {
    return [this, name = std::move(name), handler = std::move(handler), is_query](
               const httplib::Request& req, httplib::Response& res) {
      const auto t0 = std::chrono::steady_clock::now();
      std::string tenant;
      auto finish = [&] {
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        metrics_.record(name, res.status, tenant, s);
      };
      auto auth = authenticate(req);
      if (!auth) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, {401, "unauthorized",
                         "missing or unknown bearer token: send 'Authorization: Bearer <token>' "
                         "with a token configured for your tenant"});
        finish();
        return;
      }
      tenant = *auth;
      std::optional<QuerySlot> slot;
      if (is_query) {
        slot.emplace(*this, tenant);
        if (slot->state() != QuerySlot::State::kRunning) {
          res.set_header("Retry-After", kRetryAfterSeconds);
          if (slot->state() == QuerySlot::State::kNoWorker) {
            ++refused_workers_;
            send_error(res, {503, "unavailable",
                             fmt::format("too many queries in progress: this tenant's may "
                                         "occupy {} of the server's {} query workers, running "
                                         "or waiting, and those it may take are busy; retry "
                                         "later",
                                         tenant_worker_cap_, query_worker_cap_)});
          } else {
            ++refused_timeout_;
            send_error(res, {503, "unavailable",
                             fmt::format("too many concurrent queries for this tenant (limit {}, "
                                         "none finished within {} ms); retry later",
                                         limits(tenant).max_concurrent_queries,
                                         options_.query_queue_timeout_ms)});
          }
          finish();
          return;
        }
      }
      const Params params(req);
      handler(req, res, tenant, params);
      finish();
    };
  }

  // A query's hold on a worker thread and on one of its tenant's concurrency slots. A query
  // first takes a worker of its tenant's share (kNoWorker at once when the tenant's queries, or
  // all queries, occupy every worker they may), then waits there for a slot up to the queue
  // timeout (as Prometheus queues queries beyond its max concurrency: a dashboard that loads 20
  // panels at once gets them all, a little later, instead of errors).
  class QuerySlot {
   public:
    enum class State { kRunning, kNoWorker, kTimedOut };

    QuerySlot(Impl& impl, const std::string& tenant) : impl_(impl), tenant_(tenant) {
      std::unique_lock lock(impl_.mu_);
      TenantLoad& load = impl_.load_[tenant_];
      if (load.workers >= impl_.tenant_worker_cap_ ||
          impl_.query_workers_ >= impl_.query_worker_cap_) {
        return;
      }
      ++load.workers;
      ++impl_.query_workers_;
      holds_worker_ = true;
      state_ = State::kTimedOut;
      const std::size_t limit = impl_.limits(tenant_).max_concurrent_queries;
      if (limit == 0) return;
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(impl_.options_.query_queue_timeout_ms);
      if (impl_.slot_freed_.wait_until(lock, deadline, [&] { return load.running < limit; })) {
        ++load.running;
        ++impl_.running_;
        state_ = State::kRunning;
      }
    }
    ~QuerySlot() {
      if (!holds_worker_) return;
      {
        std::lock_guard lock(impl_.mu_);
        TenantLoad& load = impl_.load_[tenant_];
        if (state_ == State::kRunning) {
          --load.running;
          --impl_.running_;
        }
        --load.workers;
        --impl_.query_workers_;
      }
      impl_.slot_freed_.notify_all();
    }
    QuerySlot(const QuerySlot&) = delete;
    QuerySlot& operator=(const QuerySlot&) = delete;
    State state() const { return state_; }

   private:
    Impl& impl_;
    std::string tenant_;
    bool holds_worker_ = false;
    State state_ = State::kNoWorker;
  };

  // The token a request presents: `Authorization: Bearer <token>`, or HTTP Basic auth whose
  // password is the token (for clients that only speak Basic auth, such as promtool with
  // http://user:token@host/ URLs); the user name is ignored.
  static std::optional<std::string> presented_token(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    auto has_prefix = [&](std::string_view prefix) {
      return header.size() > prefix.size() &&
             std::equal(prefix.begin(), prefix.end(), header.begin(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    };
    if (has_prefix("Bearer ")) return header.substr(7);
    if (has_prefix("Basic ")) {
      auto decoded = decode_base64(std::string_view(header).substr(6));
      if (!decoded) return std::nullopt;
      const auto colon = decoded->find(':');
      if (colon == std::string::npos) return std::nullopt;
      return decoded->substr(colon + 1);
    }
    return std::nullopt;
  }

  // The value of the entry of `table` whose key is `token`. Compares with every key in constant
  // time per key, so timing does not reveal prefixes.
  template <typename V>
  static const V* find_token(const std::map<std::string, V>& table, std::string_view token) {
    const V* found = nullptr;
    for (const auto& [t, v] : table) {
      if (t.size() != token.size() || t.empty()) continue;
      unsigned diff = 0;
      for (std::size_t i = 0; i < t.size(); ++i) {
        diff |= static_cast<unsigned char>(t[i]) ^ static_cast<unsigned char>(token[i]);
      }
      if (diff == 0) found = &v;
    }
    return found;
  }

  // The tenant of a verified read token.
  std::optional<std::string> tenant_of_token(std::string_view token) const {
    const std::string* tenant = find_token(options_.tokens, token);
    if (tenant == nullptr) return std::nullopt;
    return *tenant;
  }

  // The tenant of the request: of its token (Authorization), else of its live page session
  // (the es_session cookie of POST /api/v1/login).
  std::optional<std::string> authenticate(const httplib::Request& req) {
    if (const auto token = presented_token(req)) return tenant_of_token(*token);
    if (const auto id = cookie_value(req.get_header_value("Cookie"), kSessionCookie)) {
      return sessions_.tenant_of(*id, steady_ms());
    }
    return std::nullopt;
  }

  static std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  const TenantLimits& limits(const std::string& tenant) const {
    auto it = options_.tenant_limits.find(tenant);
    return it != options_.tenant_limits.end() ? it->second : options_.default_limits;
  }
  query::QueryLimits query_limits(const std::string& tenant) const {
    const auto& l = limits(tenant);
    return query::QueryLimits{l.max_series_per_query, l.max_points_per_query};
  }

  static void send_json(httplib::Response& res, int code, std::string body) {
    res.status = code;
    res.set_content(std::move(body), "application/json");
  }
  // send_json() for bodies that may be large (query results): clients that accept gzip get them
  // compressed at zlib's fastest level (httplib's own compression uses the default level, which
  // costs several times as much CPU for a few percent fewer bytes).
  static void send_json(const httplib::Request& req, httplib::Response& res, int code,
                        std::string body) {
    if (body.size() >= kGzipMinBytes && accepts_gzip(req)) {
      std::string gz = gzip_compress(body);
      if (!gz.empty()) {
        res.status = code;
        res.set_header("Content-Encoding", "gzip");
        // With the charset parameter httplib leaves the compressed bytes alone.
        res.set_content(std::move(gz), "application/json; charset=utf-8");
        return;
      }
    }
    send_json(res, code, std::move(body));
  }
  static void send_error(httplib::Response& res, const ApiError& e) {
    send_json(res, e.code, encode_error(e.type, e.message));
  }

  // Parses the optional parameter `name` as a timestamp; `fallback` when absent or empty. The
  // error reads as Prometheus' parseTimeParam().
  static Result<std::int64_t> time_param(const Params& p, const std::string& name,
                                         std::int64_t fallback) {
    auto v = p.get(name);
    if (!v || v->empty()) return fallback;
    auto t = parse_timestamp_ms(*v);
    if (!t.ok()) {
      return Status::invalid_argument(
          fmt::format("invalid parameter \"{}\": Invalid time value "
                      "for '{}': {}",
                      name, name, t.status().message()));
    }
    return t;
  }

  // The required timestamp parameter `name` (query_range's start and end): absent reads as "".
  static Result<std::int64_t> required_time_param(const Params& p, const std::string& name) {
    auto t = parse_timestamp_ms(p.get(name).value_or(""));
    if (!t.ok()) {
      return Status::invalid_argument(
          fmt::format("invalid parameter \"{}\": {}", name, t.status().message()));
    }
    return t;
  }

  // The parsed `query`. Prometheus 2.42 names the parameter in an instant query's parse errors
  // and not in a range query's (its query_range returns the parser's error as it is).
  static Result<query::ExprPtr> query_param(const Params& p, bool name_the_parameter) {
    auto q = p.get("query");
    auto e = query::parse_promql(q.value_or(""));
    if (!e.ok() && name_the_parameter) {
      return Status::invalid_argument(
          fmt::format("invalid parameter \"query\": {}", e.status().message()));
    }
    return e;
  }

  static Result<std::vector<query::VectorSelector>> match_params(const Params& p) {
    std::vector<query::VectorSelector> out;
    for (const auto& m : p.all("match[]")) {
      auto sel = query::parse_series_selector(m);
      if (!sel.ok()) {
        return Status::invalid_argument(
            fmt::format("invalid parameter \"match[]\": {}", sel.status().message()));
      }
      out.push_back(std::move(sel).value());
    }
    return out;
  }

  // The match[], start and end parameters of /series and the label endpoints, in that order
  // (the first bad one is the error). `require_match`: at least one match[] (/series).
  struct SeriesParams {
    std::vector<query::VectorSelector> selectors;
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
  };
  static Result<SeriesParams> series_params(const Params& p, bool require_match) {
    SeriesParams out;
    ES_ASSIGN_OR_RETURN(out.selectors, match_params(p));
    if (require_match && out.selectors.empty()) {
      return Status::invalid_argument("no match[] parameter provided");
    }
    ES_ASSIGN_OR_RETURN(out.start_ms, time_param(p, "start", query::kMinTimeMs));
    ES_ASSIGN_OR_RETURN(out.end_ms, time_param(p, "end", query::kMaxTimeMs));
    return out;
  }

  void install_routes() {
    auto both = [&](const std::string& path, httplib::Server::Handler h) {
      server_.Get(path, h);
      server_.Post(path, h);
    };
    both("/api/v1/query",
         api(
             "/api/v1/query",
             [this](auto&, auto& res, auto& t, auto& p) { handle_query(res, t, p); }, true));
    both("/api/v1/query_range",
         api(
             "/api/v1/query_range",
             [this](auto& req, auto& res, auto& t, auto& p) { handle_query_range(req, res, t, p); },
             true));
    both("/api/v1/series",
         api(
             "/api/v1/series",
             [this](auto&, auto& res, auto& t, auto& p) { handle_series(res, t, p); }, true));
    both("/api/v1/labels",
         api(
             "/api/v1/labels",
             [this](auto&, auto& res, auto& t, auto& p) { handle_labels(res, t, p); }, true));
    server_.Get(R"(/api/v1/label/([^/]+)/values)",
                api(
                    "/api/v1/label/:name/values",
                    [this](auto& req, auto& res, auto& t, auto& p) {
                      handle_label_values(req.matches[1].str(), res, t, p);
                    },
                    true));
    server_.Get(
        "/api/v1/metadata",
        api(
            "/api/v1/metadata",
            [this](auto&, auto& res, auto& t, auto& p) { handle_metadata(res, t, p); }, true));
    server_.Get("/api/v1/status/buildinfo",
                api(
                    "/api/v1/status/buildinfo",
                    [](auto&, auto& res, auto&, auto&) {
                      send_json(res, 200,
                                encode_success(fmt::format(
                                    R"({{"version":"{}","revision":"edgesketch-{}","branch":"",)"
                                    R"("buildUser":"","buildDate":"","goVersion":""}})",
                                    kCompatiblePrometheusVersion, kVersion)));
                    },
                    false));
    server_.Get(
        "/api/v1/sketch",
        api(
            "/api/v1/sketch",
            [this](auto&, auto& res, auto& t, auto& p) { handle_sketch(res, t, p); }, true));
    server_.Get("/api/v1/stream", api(
                                      "/api/v1/stream",
                                      [this](auto& req, auto& res, auto& t, auto& p) {
                                        handle_stream(req, res, t, p);
                                      },
                                      false));
    server_.Post("/api/v1/login", [this](const httplib::Request& req, httplib::Response& res) {
      handle_login(req, res);
    });
    server_.Post("/api/v1/logout", [this](const httplib::Request& req, httplib::Response& res) {
      if (const auto id = cookie_value(req.get_header_value("Cookie"), kSessionCookie)) {
        sessions_.remove(*id);
      }
      res.set_header("Set-Cookie", fmt::format("{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
                                               kSessionCookie));
      send_json(res, 200, R"({"status":"success"})");
      metrics_.record("/api/v1/logout", res.status, "", 0);
    });
    for (const PageAsset& asset : page_assets()) {
      server_.Get(
          std::string(asset.url), [this, &asset](const httplib::Request&, httplib::Response& res) {
            res.set_header("Cache-Control", "no-cache");
            res.set_header("X-Content-Type-Options", "nosniff");
            res.set_header("X-Frame-Options", "DENY");
            res.set_header("Content-Security-Policy",
                           "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; frame-ancestors 'none'");
            res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
            metrics_.record("/ui", res.status, "", 0);
          });
    }
    server_.Post("/api/v1/ingest",
                 [this](const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader& read) { handle_ingest(req, res, read); });
    server_.Get("/-/healthy", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("edgesketch is Healthy.\n", "text/plain; charset=utf-8");
      metrics_.record("/-/healthy", 200, "", 0);
    });
    server_.Get("/-/ready", [this](const httplib::Request&, httplib::Response& res) {
      if (ready_) {
        res.set_content("edgesketch is Ready.\n", "text/plain; charset=utf-8");
      } else {
        res.status = 503;
        res.set_content("edgesketch is not ready.\n", "text/plain; charset=utf-8");
      }
      metrics_.record("/-/ready", res.status, "", 0);
    });
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server_.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          send_error(res, {500, "internal", "internal error: " + what});
        });
  }

  void handle_query(httplib::Response& res, const std::string& tenant, const Params& p) {
    auto t = time_param(p, "time", clock_.now_ms());
    if (!t.ok()) return send_error(res, from_status(t.status()));
    auto expr = query_param(p, /*name_the_parameter=*/true);
    if (!expr.ok()) return send_error(res, from_status(expr.status()));
    auto r = engine_.instant(tenant, **expr, *t, query_limits(tenant));
    if (!r.ok()) return send_error(res, from_status(r.status()));
    send_json(res, 200, encode_query_result(*r));
  }

  void handle_query_range(const httplib::Request& req, httplib::Response& res,
                          const std::string& tenant, const Params& p) {
    // Checked in Prometheus' order, with its texts (absent parameters read as "").
    auto start = required_time_param(p, "start");
    if (!start.ok()) return send_error(res, from_status(start.status()));
    auto end = required_time_param(p, "end");
    if (!end.ok()) return send_error(res, from_status(end.status()));
    if (*end < *start) {
      return send_error(res, bad_data("invalid parameter \"end\": end timestamp must not be "
                                      "before start time"));
    }
    auto step = parse_step_ms(p.get("step").value_or(""));
    if (!step.ok()) {
      return send_error(
          res, bad_data(fmt::format("invalid parameter \"step\": {}", step.status().message())));
    }
    if (*step <= 0) {
      return send_error(res, bad_data("invalid parameter \"step\": zero or negative query "
                                      "resolution step widths are not accepted. Try a positive "
                                      "integer"));
    }
    if ((*end - *start) / *step > static_cast<std::int64_t>(options_.max_points_per_series)) {
      return send_error(res, bad_data("exceeded maximum resolution of 11,000 points per "
                                      "timeseries. Try decreasing the query resolution "
                                      "(?step=XX)"));
    }
    auto expr = query_param(p, /*name_the_parameter=*/false);
    if (!expr.ok()) return send_error(res, from_status(expr.status()));
    if ((*expr)->type != query::ValueType::kScalar && (*expr)->type != query::ValueType::kVector) {
      return send_error(res, bad_data(fmt::format("invalid expression type \"{}\" for range query, "
                                                  "must be Scalar or instant Vector",
                                                  query::value_type_name((*expr)->type))));
    }
    const query::QueryLimits lim = query_limits(tenant);
    const query::Expr& e = **expr;
    auto evaluate = [&](std::int64_t s, std::int64_t en) {
      return engine_.range(tenant, e, s, en, *step, lim);
    };
    Result<query::QueryResult> r = Status::internal("unset");
    // A query with `@` ties points to fixed times (or to this query's start and end): it cannot
    // be cut into extents evaluated separately, so it skips the cache.
    const query::TimeSpan span =
        query::time_span(e, *step, engine_.options().default_subquery_step_ms);
    if (cache_ != nullptr && !span.pinned) {
      query::RangeQueryKey key;
      key.tenant = tenant;
      key.query = query::to_string(e);
      key.step_ms = *step;
      key.tier_ms = engine_.source().resolution_ms(*step);
      key.window_ms = std::max(*step, span.before_ms);
      key.lookahead_ms = span.after_ms;
      // Clients that accept gzip (Grafana's Go client always does) get the stored compressed
      // bytes: a 24 h panel of 10 series is ~360 KB of JSON and ~40 KB gzipped.
      const bool gzip = accepts_gzip(req);
      auto rendered =
          cache_->query_rendered(key, *start, *end, evaluate, [gzip](const query::QueryResult& qr) {
            query::RangeQueryCache::Rendered out;
            out.body = encode_query_result(qr);
            if (gzip && out.body.size() >= kGzipMinBytes) out.gzip_body = gzip_compress(out.body);
            return out;
          });
      if (!rendered.ok()) return send_error(res, from_status(rendered.status()));
      res.status = 200;
      if (gzip && !(*rendered)->gzip_body.empty()) {
        // httplib compresses "application/json" bodies itself for such clients; with the
        // charset parameter it leaves the already compressed bytes alone.
        res.set_header("Content-Encoding", "gzip");
        res.set_content((*rendered)->gzip_body, "application/json; charset=utf-8");
      } else {
        res.set_content((*rendered)->body, "application/json");
      }
      return;
    }
    r = evaluate(*start, *end);
    if (!r.ok()) return send_error(res, from_status(r.status()));
    send_json(req, res, 200, encode_query_result(*r));
  }

  void handle_series(httplib::Response& res, const std::string& tenant, const Params& p) {
    auto q = series_params(p, /*require_match=*/true);
    if (!q.ok()) return send_error(res, from_status(q.status()));
    auto r =
        engine_.series(tenant, q->selectors, q->start_ms, q->end_ms, options_.max_series_listed);
    if (!r.ok()) return send_error(res, from_status(r.status()));
    send_json(res, 200, encode_series(*r));
  }

  void handle_labels(httplib::Response& res, const std::string& tenant, const Params& p) {
    auto q = series_params(p, /*require_match=*/false);
    if (!q.ok()) return send_error(res, from_status(q.status()));
    auto r = engine_.label_names(tenant, q->selectors, q->start_ms, q->end_ms);
    if (!r.ok()) return send_error(res, from_status(r.status()));
    send_json(res, 200, encode_string_list(*r));
  }

  void handle_label_values(const std::string& name, httplib::Response& res,
                           const std::string& tenant, const Params& p) {
    if (!query::is_valid_label_name(name)) {
      return send_error(res, bad_data(fmt::format("invalid label name: \"{}\"", name)));
    }
    auto q = series_params(p, /*require_match=*/false);
    if (!q.ok()) return send_error(res, from_status(q.status()));
    auto r = engine_.label_values(tenant, name, q->selectors, q->start_ms, q->end_ms);
    if (!r.ok()) return send_error(res, from_status(r.status()));
    send_json(res, 200, encode_string_list(*r));
  }

  void handle_metadata(httplib::Response& res, const std::string& tenant, const Params& p) {
    auto names = engine_.label_values(tenant, query::kMetricNameLabel, {}, query::kMinTimeMs,
                                      query::kMaxTimeMs);
    if (!names.ok()) return send_error(res, from_status(names.status()));
    const auto only = p.get("metric");
    std::size_t limit = std::numeric_limits<std::size_t>::max();
    if (auto l = p.get("limit"); l && !l->empty()) {
      char* endp = nullptr;
      const long long v = std::strtoll(l->c_str(), &endp, 10);
      if (endp == l->c_str() || *endp != '\0') {
        return send_error(res, bad_data("invalid parameter \"limit\": not a number"));
      }
      if (v >= 0) limit = static_cast<std::size_t>(v);
    }
    std::string data = "{";
    std::size_t n = 0;
    for (const auto& name : *names) {
      if (only && !only->empty() && name != *only) continue;
      if (n >= limit) break;
      std::string help;
      std::string type = "gauge";
      auto ends = [&](std::string_view s) { return name.size() > s.size() && name.ends_with(s); };
      if (ends("_count")) {
        help = "Readings per step (merged windows) of the stored metric.";
      } else if (ends("_sum")) {
        help = "Sum of the numeric readings per step of the stored metric.";
      } else if (ends("_min")) {
        help = "Smallest numeric reading per step of the stored metric.";
      } else if (ends("_max")) {
        help = "Largest numeric reading per step of the stored metric.";
      } else {
        type = "unknown";
        help =
            "edgesketch sketches (histogram, distinct, top-K): query with histogram_quantile, "
            "distinct_count or topk_items.";
      }
      if (n++) data += ',';
      append_json_string(data, name);
      data += ":[{\"type\":";
      append_json_string(data, type);
      data += ",\"help\":";
      append_json_string(data, help);
      data += ",\"unit\":\"\"}]";
    }
    data += '}';
    send_json(res, 200, encode_success(data));
  }

  void handle_sketch(httplib::Response& res, const std::string& tenant, const Params& p) {
    auto q = p.get("query");
    if (!q || q->empty()) return send_error(res, bad_data("invalid parameter \"query\": missing"));
    auto sel = query::parse_series_selector(*q);
    if (!sel.ok()) {
      return send_error(
          res, bad_data(fmt::format("invalid parameter \"query\": {}", sel.status().message())));
    }
    const std::int64_t now = clock_.now_ms();
    auto end = time_param(p, "end", now);
    if (!end.ok()) return send_error(res, from_status(end.status()));
    auto start = time_param(p, "start", *end - 3600 * 1000);
    if (!start.ok()) return send_error(res, from_status(start.status()));
    if (*end <= *start) {
      return send_error(res, bad_data("invalid parameter \"end\": end timestamp must be after "
                                      "start time"));
    }
    std::vector<std::string> by;
    if (auto b = p.get("by"); b && !b->empty()) {
      std::string_view rest = *b;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view name = rest.substr(0, comma);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        if (!query::is_valid_label_name(name)) {
          return send_error(res, bad_data(fmt::format("invalid parameter \"by\": invalid label "
                                                      "name \"{}\"",
                                                      name)));
        }
        by.emplace_back(name);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    std::size_t k = options_.sketch_default_top_k;
    if (auto kt = p.get("k"); kt && !kt->empty()) {
      char* endp = nullptr;
      const long long v = std::strtoll(kt->c_str(), &endp, 10);
      if (endp == kt->c_str() || *endp != '\0' || v < 0) {
        return send_error(res,
                          bad_data("invalid parameter \"k\": expected a non-negative integer"));
      }
      k = static_cast<std::size_t>(v);
    }
    auto rows = engine_.sketch_table(tenant, *sel, *start, *end, by, k, query_limits(tenant));
    if (!rows.ok()) return send_error(res, from_status(rows.status()));
    std::string data = "[";
    for (std::size_t i = 0; i < rows->size(); ++i) {
      const auto& r = (*rows)[i];
      if (i) data += ',';
      data += '{';
      for (const auto& name : by) {
        append_json_string(data, name);
        data += ':';
        append_json_string(data, query::label_value(r.group, name));
        data += ',';
      }
      data += fmt::format("\"count\":{},\"sum\":", r.count);
      append_json_number(data, r.sum);
      const std::pair<const char*, const std::optional<double>*> cols[] = {
          {"min", &r.min}, {"max", &r.max},   {"p50", &r.p50},          {"p90", &r.p90},
          {"p99", &r.p99}, {"p999", &r.p999}, {"distinct", &r.distinct}};
      for (const auto& [name, v] : cols) {
        data += fmt::format(",\"{}\":", name);
        append_json_number(data, *v);
      }
      std::string top;
      for (std::size_t t = 0; t < r.top.size(); ++t) {
        if (t) top += ", ";
        top += fmt::format("{}={}", r.top[t].key, r.top[t].count);
      }
      data += ",\"top_items\":";
      append_json_string(data, top);
      data += '}';
    }
    data += ']';
    send_json(res, 200, encode_success(data));
  }

  // POST /api/v1/login: a read token (form field `token`, or the Authorization header) for a
  // session cookie of the live page.
  void handle_login(const httplib::Request& req, httplib::Response& res) {
    const Params p(req);
    std::optional<std::string> tenant;
    if (const auto token = p.get("token"); token && !token->empty()) {
      tenant = tenant_of_token(*token);
    } else if (const auto presented = presented_token(req)) {
      tenant = tenant_of_token(*presented);
    }
    if (!tenant) {
      send_error(res, {401, "unauthorized", "unknown token: log in with a read token of a tenant"});
      metrics_.record("/api/v1/login", res.status, "", 0);
      return;
    }
    const auto id = sessions_.create(*tenant, steady_ms());
    if (!id) {
      send_error(res, {500, "internal", "no randomness for a session id"});
    } else {
      res.set_header("Set-Cookie",
                     fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                                 kSessionCookie, *id, options_.session_ttl_ms / 1000));
      std::string data = "{\"tenant\":";
      append_json_string(data, *tenant);
      data += '}';
      send_json(res, 200, encode_success(data));
    }
    metrics_.record("/api/v1/login", res.status, *tenant, 0);
  }

  // One open live stream: its queries and where it stands. Used by its own worker only.
  struct LiveStream {
    std::string tenant;
    std::vector<query::ExprPtr> queries;
    std::int64_t step_ms = 0;
    std::int64_t next_ms = 0;  // the time of the next point to send
    socket_t socket = INVALID_SOCKET;
    bool greeted = false;
    enum class End { kClient, kSlow, kShutdown } end = End::kClient;
  };

  // GET /api/v1/stream: `query` (one or more range-query expressions), `step` (default 10s),
  // `start` (first point to send, default the next one after now), or the Last-Event-ID header
  // of a reconnecting client (the last point it got). See docs/query.md "Live streams".
  void handle_stream(const httplib::Request& req, httplib::Response& res, const std::string& tenant,
                     const Params& p) {
    auto stream = std::make_shared<LiveStream>();
    stream->tenant = tenant;
    const auto texts = p.all("query");
    if (texts.empty()) return send_error(res, bad_data("invalid parameter \"query\": missing"));
    if (texts.size() > options_.max_stream_queries) {
      return send_error(res, bad_data(fmt::format("invalid parameter \"query\": at most {} "
                                                  "queries per stream",
                                                  options_.max_stream_queries)));
    }
    for (const auto& text : texts) {
      auto e = query::parse_promql(text);
      if (!e.ok()) {
        return send_error(
            res, bad_data(fmt::format("invalid parameter \"query\": {}", e.status().message())));
      }
      if ((*e)->type != query::ValueType::kScalar && (*e)->type != query::ValueType::kVector) {
        return send_error(res, bad_data(fmt::format("invalid expression type \"{}\" for a stream, "
                                                    "must be Scalar or instant Vector",
                                                    query::value_type_name((*e)->type))));
      }
      stream->queries.push_back(std::move(e).value());
    }
    auto step = parse_step_ms(p.get("step").value_or("10s"));
    if (!step.ok() || *step <= 0) {
      return send_error(res, bad_data("invalid parameter \"step\": a positive duration such as "
                                      "10s or 1m"));
    }
    stream->step_ms = *step;
    const std::int64_t now = clock_.now_ms();
    if (const std::string last = req.get_header_value("Last-Event-ID"); !last.empty()) {
      char* endp = nullptr;
      const long long id = std::strtoll(last.c_str(), &endp, 10);
      if (endp == last.c_str() || *endp != '\0') {
        return send_error(res, bad_data("invalid Last-Event-ID: expected the id of an event of "
                                        "this stream (a point's time in milliseconds)"));
      }
      stream->next_ms = floor_to(id, *step) + *step;
    } else {
      auto start = time_param(p, "start", now + 1);
      if (!start.ok()) return send_error(res, from_status(start.status()));
      stream->next_ms = floor_to(*start - 1, *step) + *step;  // the first multiple of step >= start
    }
    if ((now - stream->next_ms) / *step >
        static_cast<std::int64_t>(options_.max_points_per_series)) {
      return send_error(res, bad_data("exceeded maximum resolution of 11,000 points per "
                                      "timeseries. Try a later start or a larger step"));
    }
    if (!hub_.acquire(tenant, options_.max_streams_per_tenant, options_.max_streams)) {
      ++streams_refused_;
      res.set_header("Retry-After", kRetryAfterSeconds);
      return send_error(res, {503, "unavailable",
                              fmt::format("too many live streams: {} per tenant, {} in all",
                                          options_.max_streams_per_tenant, options_.max_streams)});
    }
    ++streams_opened_;
    stream->socket = DeadlineServer::current_socket();
    if (stream->socket != INVALID_SOCKET) {
      // Room in the kernel for what the stream may queue and the kernel's overhead per segment, so
      // that the bound below, not a blocked write, is what cuts a slow client off.
      const int bytes =
          static_cast<int>(2 * std::max<std::size_t>(4096, options_.stream_buffer_bytes));
      setsockopt(stream->socket, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, stream](std::size_t, httplib::DataSink& sink) { return stream_next(*stream, sink); },
        [this, stream](bool) {
          // httplib stops calling the provider once the server stops.
          if (hub_.stopped()) stream->end = LiveStream::End::kShutdown;
          switch (stream->end) {
            case LiveStream::End::kClient:
              ++streams_closed_client_;
              break;
            case LiveStream::End::kSlow:
              ++streams_closed_slow_;
              break;
            case LiveStream::End::kShutdown:
              ++streams_closed_shutdown_;
              break;
          }
          hub_.release(stream->tenant);
        });
  }

  // Writes the stream's next piece: the greeting, an event with the points that have arrived, or
  // a keep-alive comment; false ends the stream.
  bool stream_next(LiveStream& s, httplib::DataSink& sink) {
    std::string out;
    if (!s.greeted) {
      s.greeted = true;
      out = "retry: 2000\n: edgesketch live stream\n\n";
    } else {
      const auto until =
          std::chrono::steady_clock::now() +
          std::chrono::milliseconds(std::max<std::int64_t>(1, options_.stream_keepalive_ms));
      const std::int64_t reached = hub_.wait_ready(s.tenant, s.next_ms, until);
      if (hub_.stopped()) {
        s.end = LiveStream::End::kShutdown;
        return false;
      }
      if (reached >= s.next_ms) {
        const std::int64_t cap =
            static_cast<std::int64_t>(std::max<std::size_t>(1, options_.max_points_per_series));
        const std::int64_t last =
            std::min(floor_to(reached, s.step_ms), s.next_ms + (cap - 1) * s.step_ms);
        out = stream_event(s, s.next_ms, last);
        s.next_ms = last + s.step_ms;
        ++stream_events_;
      } else {
        out = ": keep-alive\n\n";
      }
    }
    // The bytes still queued towards the client bound what it may fall behind.
    int queued = 0;
    if (s.socket != INVALID_SOCKET && ::ioctl(s.socket, SIOCOUTQ, &queued) == 0 && queued > 0 &&
        static_cast<std::size_t>(queued) + out.size() > options_.stream_buffer_bytes) {
      s.end = LiveStream::End::kSlow;
      return false;
    }
    if (!sink.write(out.data(), out.size())) {
      s.end = LiveStream::End::kClient;
      return false;
    }
    return true;
  }

  // The event of the points from..to (multiples of the step): each query's range result in
  // the query API's JSON (or its error), the last point's time as the id. Streams asking the
  // same at about the same time share one evaluation.
  std::string stream_event(const LiveStream& s, std::int64_t from_ms, std::int64_t to_ms) {
    std::string key = fmt::format("{}\n{}\n{}\n{}", s.tenant, s.step_ms, from_ms, to_ms);
    for (const auto& q : s.queries) {
      key += '\n';
      key += query::to_string(*q);
    }
    return stream_results_.get(key, [&] { return evaluate_event(s, from_ms, to_ms); });
  }

  std::string evaluate_event(const LiveStream& s, std::int64_t from_ms, std::int64_t to_ms) {
    std::string data = fmt::format(R"({{"start":{},"end":{},"step":{},"results":[)",
                                   from_ms / 1000.0, to_ms / 1000.0, s.step_ms / 1000.0);
    const query::QueryLimits lim = query_limits(s.tenant);
    for (std::size_t i = 0; i < s.queries.size(); ++i) {
      if (i) data += ',';
      auto r = engine_.range(s.tenant, *s.queries[i], from_ms, to_ms, s.step_ms, lim);
      if (r.ok()) {
        data += encode_query_result(*r);
      } else {
        const ApiError e = from_status(r.status());
        data += encode_error(e.type, e.message);
      }
    }
    data += "]}";
    return fmt::format("id: {}\nevent: points\ndata: {}\n\n", to_ms, data);
  }

  // POST /api/v1/ingest: a gateway's token only (read tokens are refused before the body is
  // read); the body is taken as bytes whatever its Content-Type, up to max_ingest_bytes.
  void handle_ingest(const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& read) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string tenant;
    auto finish = [&] {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      metrics_.record("/api/v1/ingest", res.status, tenant, s);
    };
    const auto token = presented_token(req);
    std::optional<IngestCredential> who;
    if (token) {
      std::lock_guard lock(ingest_tokens_mu_);
      if (const IngestCredential* c = find_token(ingest_tokens_, *token)) who = *c;
    }
    if (!who) {
      if (token && find_token(options_.tokens, *token) != nullptr) {
        send_error(res, {403, "forbidden",
                         "this is a read token (query API only); ingest needs the token of a "
                         "[[gateway]]"});
      } else {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, {401, "unauthorized",
                         "missing or unknown gateway token: send 'Authorization: Bearer "
                         "<token>' with the token of a configured [[gateway]]"});
      }
      return finish();
    }
    tenant = who->tenant;
    if (ingest_ == nullptr) {
      send_error(res, {503, "unavailable", "ingest is not enabled on this server"});
      return finish();
    }
    const std::size_t limit =
        options_.max_ingest_bytes > 0 ? options_.max_ingest_bytes : options_.max_body_bytes;
    std::string body;
    bool too_large = false;
    const bool complete = read([&](const char* data, std::size_t n) {
      if (body.size() + n > limit) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (too_large) {
      send_error(res,
                 {413, "bad_data",
                  fmt::format("the batch exceeds the largest accepted payload ({} bytes)", limit)});
      return finish();
    }
    if (!complete) {
      send_error(res, {400, "bad_data", "the request body could not be read"});
      return finish();
    }
    const ByteSpan bytes(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
    const Status s = ingest_->ingest(who->tenant, who->gateway_id, bytes);
    if (!s.ok()) {
      ApiError e = from_status(s);
      if (s.code() == StatusCode::kResourceExhausted) e = {422, "execution", s.message()};
      if (s.code() == StatusCode::kPermissionDenied) e = {403, "forbidden", s.message()};
      if (e.code == 503) res.set_header("Retry-After", "1");
      send_error(res, e);
      return finish();
    }
    send_json(res, 200, R"({"status":"success"})");
    finish();
  }

  const HttpServerOptions options_;
  QueryEngine& engine_;
  const Clock& clock_;
  query::RangeQueryCache* cache_;
  IngestSink* ingest_;
  std::mutex ingest_tokens_mu_;  // guards ingest_tokens_ (replaced by set_ingest_tokens())
  std::map<std::string, IngestCredential> ingest_tokens_;

  DeadlineServer server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> ready_{false};
  ServerMetrics metrics_;

  // Workers the queries may occupy, all tenants together and one tenant's (from the options).
  std::size_t query_worker_cap_ = 1;
  std::size_t tenant_worker_cap_ = 1;
  struct TenantLoad {
    std::size_t workers = 0;  // the tenant's queries on a worker, running or waiting
    std::size_t running = 0;  // of those, the running ones
  };
  std::mutex mu_;
  std::condition_variable slot_freed_;
  std::map<std::string, TenantLoad, std::less<>> load_;  // guarded by mu_
  std::size_t query_workers_ = 0;                        // guarded by mu_
  std::atomic<std::size_t> running_{0};
  std::atomic<std::uint64_t> refused_workers_{0};
  std::atomic<std::uint64_t> refused_timeout_{0};

  StreamHub hub_;
  SessionStore sessions_;
  StreamResults stream_results_;
  std::atomic<std::uint64_t> streams_opened_{0};
  std::atomic<std::uint64_t> streams_refused_{0};
  std::atomic<std::uint64_t> streams_closed_client_{0};
  std::atomic<std::uint64_t> streams_closed_slow_{0};
  std::atomic<std::uint64_t> streams_closed_shutdown_{0};
  std::atomic<std::uint64_t> stream_events_{0};
};

HttpServer::HttpServer(HttpServerOptions options, QueryEngine& engine, const Clock& clock,
                       query::RangeQueryCache* cache, IngestSink* ingest)
    : impl_(std::make_unique<Impl>(std::move(options), engine, clock, cache, ingest)) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() { return impl_->start(); }
void HttpServer::stop() { impl_->stop(); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::set_ready(bool ready) { impl_->set_ready(ready); }
std::string HttpServer::metrics_text() const { return impl_->metrics_text(); }
void HttpServer::set_ingest_tokens(std::map<std::string, IngestCredential> tokens) {
  impl_->set_ingest_tokens(std::move(tokens));
}

void HttpServer::data_applied(std::string_view tenant, std::int64_t start_ms, std::int64_t end_ms) {
  impl_->data_applied(tenant, start_ms, end_ms);
}

}  // namespace edgesketch::http
