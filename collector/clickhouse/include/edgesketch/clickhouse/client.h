// ClickHouseClient: statements and inserts over ClickHouse's HTTP interface (net::HttpClient,
// libcurl: one keep-alive connection), with gzip in both directions and retries with backoff.
//
// Every failure is one of two kinds, and neither is the data's fault — the collector writes the
// SQL and the rows itself, after its own validation:
//  - kUnavailable: the server cannot take it now (connection refused or reset, timeout, HTTP 503,
//    or a ClickHouse error code that says "try later": too many parts or queries, memory, disk
//    space, network, timeouts). Retried here up to max_attempts; then the caller holds the data
//    and tries again later.
//  - kFailedPrecondition: the server refused the statement (authentication, unknown database or
//    table, a schema that does not match, a syntax error): an operator's fix, not a retry, is
//    needed; the caller still holds the data.
// A retried insert may have been applied the first time (the answer was lost): the store's
// tables collapse such repeats (docs/scaling.md).
//
// Not thread-safe: one thread uses a client (each collector thread that talks to ClickHouse has
// its own).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/backoff.h"

namespace edgesketch::net {
class HttpClient;
}

namespace edgesketch::clickhouse {

struct ClientOptions {
  // http(s)://HOST:PORT of ClickHouse's HTTP interface.
  std::string url;
  // Database the statements run in (the `database` URL parameter); empty: the user's default.
  std::string database;
  std::string user = "default";
  std::string password;
  // https:// only: CA bundle, client certificate and key (PEM).
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  int connect_timeout_ms = 2'000;
  // Bound on one request, connect included.
  int request_timeout_ms = 30'000;
  // Attempts per call for temporary failures, the first included.
  int max_attempts = 3;
  net::BackoffOptions backoff{.min_ms = 100, .max_ms = 2'000};
  // gzip request bodies of at least this many bytes (0: never) and ask for gzip responses.
  std::size_t compress_min_bytes = 4096;
  // Bound on a query's kept answer; a longer one fails (kFailedPrecondition, "too large").
  std::size_t max_response_bytes = std::size_t{1} << 30;
  // How the client waits between attempts; tests pass their own.
  std::function<void(std::int64_t ms)> sleep;
};

struct ClientStats {
  std::uint64_t requests = 0;            // HTTP requests sent, retries included
  std::uint64_t retries = 0;             // of which repeats after a temporary failure
  std::uint64_t temporary_failures = 0;  // calls that ended kUnavailable
  std::uint64_t refused = 0;             // calls that ended kFailedPrecondition
  std::uint64_t body_bytes = 0;          // request bodies as produced
  std::uint64_t sent_bytes = 0;          // request bodies as sent (after gzip)
};

class Client {
 public:
  // kInvalidArgument for a URL that is not http(s):// or TLS files without their pair.
  static Result<std::unique_ptr<Client>> create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs a statement that returns nothing (DDL, a small INSERT ... VALUES).
  Status execute(std::string_view sql);
  // Runs a query and returns its answer as ClickHouse formats it (say `FORMAT TSV` or
  // `FORMAT RowBinary` in the query).
  Result<std::string> query(std::string_view sql);
  // `insert` is "INSERT INTO t [(cols)] FORMAT <format>", `data` the rows in that format.
  Status insert(std::string_view insert, ByteSpan data);

  const ClientStats& stats() const { return stats_; }

 private:
  explicit Client(ClientOptions options);
  Result<std::string> send(std::string_view statement, ByteSpan data);

  ClientOptions options_;
  std::string endpoint_;  // url + "/?database=...&" (ends with '?' or '&')
  std::unique_ptr<net::HttpClient> http_;
  net::Backoff backoff_;
  ClientStats stats_;
};

// The error code of a ClickHouse exception text ("Code: 60, e.displayText() = ..."), or -1.
int exception_code(std::string_view body);
// True for the codes that mean "the server cannot take it now" (see Client).
bool is_temporary_code(int code);

}  // namespace edgesketch::clickhouse
