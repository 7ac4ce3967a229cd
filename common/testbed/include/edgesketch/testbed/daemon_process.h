// A daemon (edgesketch-collector, edgesketch-agent) run as a child process by a test or a
// benchmark: started
// with PR_SET_PDEATHSIG so it never outlives the test, killed with any signal, output to a file.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgesketch/common/url_encode.h"

namespace edgesketch::testbed {

class DaemonProcess {
 public:
  DaemonProcess(std::string program, std::vector<std::string> args, std::string log_path);
  ~DaemonProcess();  // SIGKILL if still running
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts the program (appending to the log); false when fork/exec fails.
  bool start();
  // Sends `sig` and waits up to timeout_ms for the exit; returns the exit status as waitpid
  // reports it (-1 when it had to be SIGKILLed after the timeout or was not running).
  int stop(int sig, int timeout_ms);
  bool running() const { return pid_ > 0; }
  // True once the process has ended (reaped here; running() turns false), e.g. a daemon that
  // exits during its start-up.
  bool exited();
  pid_t pid() const { return pid_; }
  std::string log_tail(std::size_t bytes = 4000) const;

 private:
  std::string program_;
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// GET http://127.0.0.1:<port><path>; the status (0 when the connection failed) and body.
struct HttpReply {
  int status = 0;
  std::string body;
  // The response's headers, names as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  // The value of the first header `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
HttpReply http_get(int port, const std::string& path, const std::string& bearer = {});
// `s` percent-encoded for a URL's query string (edgesketch/common/url_encode.h).
using ::edgesketch::url_encode;
// POST of `body` with `content_type`.
HttpReply http_post(int port, const std::string& path, const std::string& body,
                    const std::string& content_type, const std::string& bearer = {});

// `method` ("GET", "POST") of `path` with the request headers `headers` (and for a POST, `body`
// of `content_type`).
HttpReply http_request(int port, const std::string& method, const std::string& path,
                       const HttpHeaders& headers, const std::string& body = {},
                       const std::string& content_type = {});

// A TCP port that was free a moment ago on 127.0.0.1.
int free_port();

// A tmpfs of `size` ("8m") mounted on the existing directory `dir` while the object lives
// (needs CAP_SYS_ADMIN); error() says why the mount failed ("" when it worked).
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& size);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string error_;
};

// Writes `path` until the file system it lies on is full to the last byte (ENOSPC); deleting
// the file frees the space again.
void fill_file_system(const std::string& path);

// A shell command line's exit status (as pclose() returns it; -1 when it could not run) and its
// stdout and stderr together. For fixed command lines built by tests and benchmarks.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

}  // namespace edgesketch::testbed
