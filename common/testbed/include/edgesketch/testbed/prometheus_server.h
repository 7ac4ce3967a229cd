// A real Prometheus server (Debian package `prometheus`) for tests that compare the collector's
// answers with Prometheus' own: the samples of an OpenMetrics text are turned into TSDB blocks by
// `promtool tsdb create-blocks-from openmetrics`, and Prometheus serves them on a free loopback
// port, with no scrape targets.
//
//   edgesketch::testbed::PrometheusServer prom({.lookback_delta = "9999ms"});
//   ASSERT_TRUE(prom.start(openmetrics_text).ok());   // blocks built, /-/ready answers 200
//   http_get(prom.port(), "/api/v1/query?query=...");
//
// The OpenMetrics text must give every sample a timestamp and end with "# EOF\n"; the samples of
// a series must come in increasing time. promtool cuts blocks at multiples of 2 h. Prometheus'
// retention counts back from the newest block, not from the wall clock, so old samples stay.
// The blocks, the config and the log live in a temporary directory removed on destruction.
// Prometheus is started with PR_SET_PDEATHSIG (it dies with the test process) and stopped by PID.
// Not thread-safe: one test thread drives it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::testbed {

class DaemonProcess;

struct PrometheusOptions {
  // The executables (CMake finds them; see cmake/EsDependencies.cmake).
  std::string prometheus = "/usr/bin/prometheus";
  std::string promtool = "/usr/bin/promtool";
  // --query.lookback-delta: how far back an instant selector looks for a sample, both ends
  // included ([t - lookback, t]).
  std::string lookback_delta = "5m";
  // More flags, e.g. "--query.max-samples=1000".
  std::vector<std::string> extra_args;
  // Bound on start(): time from exec until /-/ready answers 200.
  int start_timeout_ms = 30'000;
};

class PrometheusServer {
 public:
  explicit PrometheusServer(PrometheusOptions options = {});
  ~PrometheusServer();  // stop() and remove the temporary directory

  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Writes `openmetrics` to a file, builds the blocks from it, starts Prometheus on a free
  // loopback port and waits until it is ready. Errors carry promtool's output or the tail of
  // Prometheus' log. Once only.
  Status start(const std::string& openmetrics);
  // SIGTERM, then SIGKILL after 10 s. OK when not running.
  void stop();

  int port() const { return port_; }
  std::string log_tail() const;

 private:
  PrometheusOptions options_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<DaemonProcess> process_;
};

}  // namespace edgesketch::testbed
