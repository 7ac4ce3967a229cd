// A real ClickHouse server (Debian package `clickhouse-server`) on free loopback ports, with its
// data, config and logs in a temporary directory removed on destruction. For the tests and the
// benchmarks of the collector's ClickHouse store.
//
//   edgesketch::testbed::ClickHouseServer ch({.password = "s3cret"});
//   ASSERT_TRUE(ch.start().ok());          // /ping answers "Ok."
//   ch.url();                              // "http://127.0.0.1:<port>"
//   ch.kill(); ASSERT_TRUE(ch.start().ok());  // a crash and a restart on the same ports and data
//
// The server listens on 127.0.0.1 only (HTTP and native TCP ports, both free ones) and knows one
// user. It runs with PR_SET_PDEATHSIG, so it never outlives the test. Not thread-safe: one test
// thread drives it.
#pragma once

#include <memory>
#include <string>

#include "edgesketch/common/status.h"
#include "edgesketch/testbed/temp_dir.h"

namespace edgesketch::testbed {

class DaemonProcess;

struct ClickHouseOptions {
  // The executable (CMake finds it; see cmake/EsDependencies.cmake).
  std::string server = "/usr/sbin/clickhouse-server";
  // The one user the server knows, with full rights; an empty password is allowed.
  std::string user = "default";
  std::string password;
  // Bound on start(): time from exec until /ping answers.
  int start_timeout_ms = 60'000;
};

class ClickHouseServer {
 public:
  explicit ClickHouseServer(ClickHouseOptions options = {});
  ~ClickHouseServer();  // stop(); the directory goes with the object
  ClickHouseServer(const ClickHouseServer&) = delete;
  ClickHouseServer& operator=(const ClickHouseServer&) = delete;

  // Starts the server and waits until it answers. The first start picks the ports and writes
  // the config; later ones (after stop() or kill()) reuse both, and the data. Errors carry the
  // tail of the server's log.
  Status start();
  // SIGTERM, then SIGKILL after 30 s. OK when not running.
  void stop();
  // SIGKILL: a crash.
  void kill();
  bool running() const;

  int http_port() const { return http_port_; }
  // "http://127.0.0.1:<http_port>"
  std::string url() const;
  const ClickHouseOptions& options() const { return options_; }
  std::string log_tail() const;

 private:
  Status write_config();

  ClickHouseOptions options_;
  TempDir dir_;
  int http_port_ = 0;
  int tcp_port_ = 0;
  std::unique_ptr<DaemonProcess> process_;
};

}  // namespace edgesketch::testbed
