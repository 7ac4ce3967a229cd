// A real mosquitto broker for tests and benchmarks, on a free loopback port, stopped by PID.
//
//   edgesketch::testbed::MosquittoBroker broker;
//   ASSERT_TRUE(broker.start().ok());           // picks a port, waits until it accepts TCP
//   connect_to(broker.uri());                   // "tcp://127.0.0.1:<port>"
//   broker.stop(); broker.start();              // an outage; the port stays the same
//
// The generated config: `listener <port> 127.0.0.1`, `allow_anonymous true`,
// `persistence false`, plus MosquittoOptions::extra_config. The broker's output goes to
// log_path() (kept in a temporary directory removed on destruction). The broker is started with
// PR_SET_PDEATHSIG, so it dies with the test process even if the test crashes.
// Not thread-safe: one test thread drives it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "edgesketch/common/status.h"
#include "edgesketch/testbed/temp_dir.h"

namespace edgesketch::testbed {

struct MosquittoOptions {
  // The broker executable.
  std::string binary = "/usr/sbin/mosquitto";
  // Lines appended to the config, e.g. "max_queued_messages 100000\n".
  std::string extra_config;
  // Bound on start(): time for the broker to accept a TCP connection.
  int start_timeout_ms = 5000;
  // Bound on stop(): time between SIGTERM and SIGKILL.
  int stop_timeout_ms = 3000;
};

class MosquittoBroker {
 public:
  explicit MosquittoBroker(MosquittoOptions options = {});
  ~MosquittoBroker();  // stop() and remove the temporary directory

  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // Starts the broker and waits until it accepts TCP connections. The first start picks a free
  // port (retrying with another one if the broker cannot bind it); later starts reuse that port.
  // Fails with the tail of the broker's log when it exits or does not listen in time.
  Status start();
  // SIGTERM, wait up to stop_timeout_ms, then SIGKILL. OK when not running.
  Status stop();
  // SIGKILL at once (a crash: the broker loses what it had not written out).
  Status kill();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  // "tcp://127.0.0.1:<port>"
  std::string uri() const;
  const std::string& log_path() const { return log_path_; }

 private:
  Status start_once();
  Status wait_for_exit(int timeout_ms);
  std::string log_tail() const;

  MosquittoOptions options_;
  std::unique_ptr<TempDir> dir_;  // created by the first start()
  std::string config_path_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close).
Result<int> pick_free_loopback_port();

}  // namespace edgesketch::testbed
