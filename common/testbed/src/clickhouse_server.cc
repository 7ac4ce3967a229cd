// ClickHouseServer: a minimal config of its own (ports, paths, logger, one user) in a temporary
// directory; readiness is GET /ping answering 200, polled with a bound.
#include "edgesketch/testbed/clickhouse_server.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/temp_dir.h"

namespace edgesketch::testbed {
namespace {

// XML text content: the five characters XML gives a meaning escaped.
std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

ClickHouseServer::ClickHouseServer(ClickHouseOptions options)
    : options_(std::move(options)), dir_("es-clickhouse") {}

ClickHouseServer::~ClickHouseServer() { stop(); }

std::string ClickHouseServer::url() const {
  return "http://127.0.0.1:" + std::to_string(http_port_);
}

std::string ClickHouseServer::log_tail() const {
  return process_ ? process_->log_tail(3000) : std::string();
}

bool ClickHouseServer::running() const { return process_ && process_->running(); }

Status ClickHouseServer::write_config() {
  const std::string& d = dir_.path();
  http_port_ = free_port();
  tcp_port_ = free_port();
  if (http_port_ <= 0 || tcp_port_ <= 0 || http_port_ == tcp_port_) {
    return Status::unavailable("clickhouse: no free loopback ports");
  }
  ES_RETURN_IF_ERROR(write_text_file(
      d + "/users.xml",
      "<?xml version=\"1.0\"?>\n<yandex>\n"
      "  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>\n"
      "  <users><" +
          options_.user + "><password>" + xml_escape(options_.password) +
          "</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
          "<profile>default</profile><quota>default</quota></" +
          options_.user +
          "></users>\n"
          "  <quotas><default><interval><duration>3600</duration><queries>0</queries>"
          "<errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows>"
          "<execution_time>0</execution_time></interval></default></quotas>\n"
          "</yandex>\n"));
  return write_text_file(d + "/config.xml",
                         "<?xml version=\"1.0\"?>\n<yandex>\n"
                         "  <logger><level>warning</level><log>" +
                             d + "/server.log</log><errorlog>" + d +
                             "/server.err.log</errorlog><console>1</console></logger>\n"
                             "  <http_port>" +
                             std::to_string(http_port_) +
                             "</http_port>\n"
                             "  <tcp_port>" +
                             std::to_string(tcp_port_) +
                             "</tcp_port>\n"
                             "  <listen_host>127.0.0.1</listen_host>\n"
                             "  <path>" +
                             d +
                             "/data/</path>\n"
                             "  <tmp_path>" +
                             d +
                             "/tmp/</tmp_path>\n"
                             "  <user_files_path>" +
                             d +
                             "/user_files/</user_files_path>\n"
                             "  <format_schema_path>" +
                             d +
                             "/format_schemas/</format_schema_path>\n"
                             "  <users_config>" +
                             d +
                             "/users.xml</users_config>\n"
                             "  <default_profile>default</default_profile>\n"
                             "  <default_database>default</default_database>\n"
                             "  <mark_cache_size>268435456</mark_cache_size>\n"
                             "  <max_concurrent_queries>100</max_concurrent_queries>\n"
                             "</yandex>\n");
}

Status ClickHouseServer::start() {
  if (dir_.path().empty()) return Status::io_error("clickhouse: " + dir_.error());
  if (running()) return Status::failed_precondition("clickhouse: already running");
  const bool first = http_port_ == 0;
  if (first) ES_RETURN_IF_ERROR(write_config());
  process_ = std::make_unique<DaemonProcess>(
      options_.server, std::vector<std::string>{"--config-file=" + dir_.file("config.xml")},
      dir_.file("stdout.log"));
  if (!process_->start()) return Status::io_error("clickhouse: fork failed");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline && !process_->exited()) {
    if (http_get(http_port_, "/ping").status == 200) return Status();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string log = log_tail();
  if (process_->running()) {
    stop();
    return Status::unavailable("clickhouse was not ready on port " + std::to_string(http_port_) +
                               " within " + std::to_string(options_.start_timeout_ms) +
                               " ms; its log:\n" + log);
  }
  return Status::unavailable("clickhouse exited during start-up on port " +
                             std::to_string(http_port_) + "; its log:\n" + log);
}

void ClickHouseServer::stop() {
  if (running()) process_->stop(SIGTERM, 30'000);
}

void ClickHouseServer::kill() {
  if (running()) process_->stop(SIGKILL, 30'000);
}

}  // namespace edgesketch::testbed
