// PrometheusServer: promtool builds the blocks, then Prometheus is exec'd through DaemonProcess;
// readiness is /-/ready answering 200, polled with a bound, and an exit during start-up (a port
// taken meanwhile) is retried on another port.
#include "edgesketch/testbed/prometheus_server.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/temp_dir.h"

namespace edgesketch::testbed {
PrometheusServer::PrometheusServer(PrometheusOptions options) : options_(std::move(options)) {}

PrometheusServer::~PrometheusServer() {
  stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string PrometheusServer::log_tail() const {
  return process_ ? process_->log_tail(3000) : std::string();
}

Status PrometheusServer::start(const std::string& openmetrics) {
  if (!dir_.empty()) return Status::failed_precondition("prometheus: start() is once only");
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/es-prometheus-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::io_error("prometheus: mkdtemp failed: " + std::string(std::strerror(errno)));
  }
  dir_ = tmpl;
  const std::string samples = dir_ + "/samples.om";
  const std::string data = dir_ + "/data";
  const std::string config = dir_ + "/prometheus.yml";
  ES_RETURN_IF_ERROR(write_text_file(samples, openmetrics));
  // No scrape configs: Prometheus serves the blocks and nothing else.
  ES_RETURN_IF_ERROR(write_text_file(config, "global: {}\n"));
  const CommandResult blocks =
      run_command(options_.promtool + " tsdb create-blocks-from openmetrics --quiet '" + samples +
                  "' '" + data + "'");
  if (blocks.status != 0) {
    return Status::invalid_argument("promtool tsdb create-blocks-from openmetrics failed: " +
                                    blocks.output);
  }

  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    std::vector<std::string> args = {
        "--config.file=" + config,
        "--storage.tsdb.path=" + data,
        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
        "--query.lookback-delta=" + options_.lookback_delta,
    };
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    process_ = std::make_unique<DaemonProcess>(options_.prometheus, args, dir_ + "/prometheus.log");
    if (!process_->start()) return Status::io_error("prometheus: fork failed");
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
    while (std::chrono::steady_clock::now() < deadline && !process_->exited()) {
      if (http_get(port_, "/-/ready").status == 200) return Status();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (process_->running()) {
      stop();
      return Status::unavailable("prometheus was not ready on port " + std::to_string(port_) +
                                 " within " + std::to_string(options_.start_timeout_ms) +
                                 " ms; its log:\n" + log_tail());
    }
    last = Status::unavailable("prometheus exited during start-up on port " +
                               std::to_string(port_) + "; its log:\n" + log_tail());
  }
  return last;
}

void PrometheusServer::stop() {
  if (process_ && process_->running()) process_->stop(SIGTERM, 10'000);
}

}  // namespace edgesketch::testbed
