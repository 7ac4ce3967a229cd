// HttpServer: the collector's HTTP API on cpp-httplib (see docs/query.md):
//  - Prometheus-compatible: /api/v1/query, /api/v1/query_range (GET and form POST),
//    /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values, /api/v1/metadata,
//    /api/v1/status/buildinfo, with Prometheus' JSON and error formats;
//  - native: GET /api/v1/sketch (merged sketches as a table), POST /api/v1/ingest (through an
//    IngestSink supplied by the collector app);
//  - live: GET /api/v1/stream (Server-Sent Events: new points of range queries as ingest brings
//    the windows that make them), GET / (the live page, static files compiled into the binary),
//    POST /api/v1/login and /api/v1/logout (a read token exchanged for a session cookie);
//  - ops: /-/healthy, /-/ready, /metrics (no auth).
// Every /api/v1 endpoint needs `Authorization: Bearer <token>` (or the session cookie of a
// login); the tenant is the one the token maps to in the options, never taken from the request
// otherwise. The page's static files carry no data and need no auth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/query/query_engine.h"
#include "edgesketch/query/range_query_cache.h"

namespace edgesketch::http {

struct TenantLimits {
  // Series one query may select (all selectors together); over it: 422 "execution".
  std::size_t max_series_per_query = 10'000;
  // Samples one query may load or produce; over it: 422 "execution".
  std::size_t max_points_per_query = 20'000'000;
  // Queries of the tenant running at once; more wait for a slot (up to
  // HttpServerOptions::query_queue_timeout_ms, then 503 "unavailable").
  std::size_t max_concurrent_queries = 8;
};

// Who an ingest token belongs to.
struct IngestCredential {
  std::string tenant;
  std::string gateway_id;
};

struct HttpServerOptions {
  // Address to bind; loopback by default (put a TLS proxy in front for remote access).
  std::string bind_address = "127.0.0.1";
  // TCP port; 0 binds any free port (see HttpServer::port()).
  int port = 9780;
  // Read token -> tenant: the query API. POST /api/v1/ingest with one is 403 "forbidden".
  std::map<std::string, std::string> tokens;
  // Gateway token -> its gateway: POST /api/v1/ingest only, for batches of that gateway.
  std::map<std::string, IngestCredential> ingest_tokens;
  // Limits of tenants not listed in tenant_limits.
  TenantLimits default_limits;
  std::map<std::string, TenantLimits> tenant_limits;
  // Worker threads serving connections (httplib serves a connection on one worker, keep-alive
  // included).
  int worker_threads = 16;
  // Workers that queries, running or waiting for a slot, never occupy: they stay free for
  // /-/healthy, /-/ready, /metrics and the other requests whatever the query load. At most
  // worker_threads - 1.
  int reserved_workers = 2;
  // Workers one tenant's queries may occupy, running or waiting for a slot (the query workers
  // are worker_threads - reserved_workers). A query that would take more, or find every query
  // worker taken, is refused at once: 503 "unavailable" with Retry-After. 0: half of the query
  // workers (at least 1), so one tenant's load leaves room for the others'.
  int max_query_workers_per_tenant = 0;
  // How long a query over its tenant's concurrency limit waits for a slot before 503.
  std::int64_t query_queue_timeout_ms = 10'000;
  // The time a client has, from the first byte of a request, to send the request line and
  // headers; a slower connection is closed, freeing its worker.
  std::int64_t header_timeout_ms = 10'000;
  // Largest request body (form POST queries, ingest batches).
  std::size_t max_body_bytes = 16u << 20;
  // Largest ingest body (the collector's max_payload_bytes); 0: max_body_bytes.
  std::size_t max_ingest_bytes = 0;
  // Points per series of a range query ((end - start) / step), as Prometheus.
  std::size_t max_points_per_series = 11'000;
  // Most series /api/v1/series returns.
  std::size_t max_series_listed = 100'000;
  // Default and largest k of the sketch table's top items.
  std::size_t sketch_default_top_k = 10;
  // Live streams (GET /api/v1/stream): open at once, all tenants together and per tenant (more
  // are refused with 503). Each holds a worker thread of its own, beyond worker_threads.
  std::size_t max_streams = 64;
  std::size_t max_streams_per_tenant = 16;
  // Queries one stream may carry.
  std::size_t max_stream_queries = 16;
  // Bytes a stream may have queued towards its client (sent but not yet taken); a client that
  // falls this far behind is disconnected (edgesketch_http_streams_closed_total{reason="slow"}).
  std::size_t stream_buffer_bytes = 1u << 20;
  // A comment line is sent after this long without an event, so proxies and browsers keep the
  // connection and a gone client is noticed.
  std::int64_t stream_keepalive_ms = 15'000;
  // How long after the first window ending at or after a point's time is applied the point is
  // sent: the windows of that time still on their way (other rules' and gateways' windows, closed
  // up to the agents' allowed_lateness later) make it into the point. A window applied after
  // that is not in the streamed point (a range query shows it). At least the agents'
  // allowed_lateness (5 s by default) plus a second.
  std::int64_t stream_delay_ms = 6'000;
  // Sessions of the live page (POST /api/v1/login): lifetime and most held at once.
  std::int64_t session_ttl_ms = 12 * 3600 * 1000;
  std::size_t max_sessions = 10'000;
  // Appended to the server's own /metrics text (the collector's ingest and store metrics).
  std::function<std::string()> extra_metrics;
};

// Where POST /api/v1/ingest hands batches. Implemented by the collector app (validate, dedupe,
// WAL, memtable); called on an HTTP worker thread, concurrently.
class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // `body` is an encoded WindowBatch sent with the token of gateway `gateway_id` of `tenant`.
  // Return OK only once the batch is durable (or was already applied: a duplicate) — the 200
  // response is the agent's ack. kInvalidArgument / kCorruption / kOutOfRange: 400, and
  // kResourceExhausted (a configured limit): 422, never to be resent; kPermissionDenied: 403;
  // kUnavailable / kIoError (a temporary fault): 503 with Retry-After, retry later.
  virtual Status ingest(std::string_view tenant, std::string_view gateway_id, ByteSpan body) = 0;
};

// Thread-safe. Construction does no I/O; start() binds and serves on background threads;
// stop() (or the destructor) stops and joins them. `engine`, `cache` (optional), `clock` and
// `ingest` (optional) must outlive the server.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, query::QueryEngine& engine, const Clock& clock,
             query::RangeQueryCache* cache = nullptr, IngestSink* ingest = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (kIoError naming the address when that fails) and starts serving.
  Status start();
  // Stops accepting, finishes running requests and joins; idempotent.
  void stop();
  // The bound port (after start()).
  int port() const;
  // /-/ready answers 200 only while ready (default: true once started).
  void set_ready(bool ready);
  // Replaces HttpServerOptions::ingest_tokens (the collector's SIGHUP); requests in flight keep
  // the credential they were checked with.
  void set_ingest_tokens(std::map<std::string, IngestCredential> tokens);

  // The /metrics text (Prometheus exposition format).
  std::string metrics_text() const;

  // For the ingest path, after each applied batch: new or late data of `tenant` covers
  // [start_ms, end_ms) (smallest window start, largest window end of the batch). Drops the cached
  // query results that data can feed (RangeQueryCache::invalidate) and wakes the tenant's live
  // streams, which send the points up to end_ms (after stream_delay_ms).
  void data_applied(std::string_view tenant, std::int64_t start_ms, std::int64_t end_ms);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgesketch::http
