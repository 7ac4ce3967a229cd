// MosquittoBroker: fork/exec of /usr/sbin/mosquitto with a generated config; readiness is a
// successful TCP connect; exit is awaited through a pidfd (bounded poll), never by sleeping.
#include "edgesketch/testbed/mosquitto_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace edgesketch::testbed {
namespace {

using Clock = std::chrono::steady_clock;

bool accepts_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<int> pick_free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return Status::io_error("cannot bind a loopback port: " + err);
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

MosquittoBroker::MosquittoBroker(MosquittoOptions options) : options_(std::move(options)) {}

MosquittoBroker::~MosquittoBroker() { (void)stop(); }

std::string MosquittoBroker::uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

std::string MosquittoBroker::log_tail() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 2000) s = "..." + s.substr(s.size() - 2000);
  return s;
}

Status MosquittoBroker::start() {
  if (running()) return Status::failed_precondition("mosquitto: already running");
  if (!dir_) {
    auto dir = std::make_unique<TempDir>("es-mosquitto");
    if (dir->path().empty()) return Status::io_error("mosquitto: " + dir->error());
    config_path_ = dir->path() + "/mosquitto.conf";
    log_path_ = dir->path() + "/mosquitto.log";
    dir_ = std::move(dir);
  }
  if (port_ != 0) return start_once();
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ES_ASSIGN_OR_RETURN(port_, pick_free_loopback_port());
    last = start_once();
    if (last.ok()) return last;
  }
  port_ = 0;
  return last;
}

Status MosquittoBroker::start_once() {
  {
    std::ofstream cfg(config_path_, std::ios::trunc);
    cfg << "listener " << port_ << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "persistence false\n"
        << options_.extra_config;
    if (!cfg) return Status::io_error("mosquitto: cannot write " + config_path_);
  }
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::io_error("mosquitto: cannot open " + log_path_);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Status::io_error("mosquitto: fork failed: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const char* argv[] = {"mosquitto", "-c", config_path_.c_str(), nullptr};
    ::execv(options_.binary.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
  while (Clock::now() < deadline) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::unavailable("mosquitto exited during start-up on port " +
                                 std::to_string(port_) + "; its log:\n" + log_tail());
    }
    if (accepts_tcp(port_)) return Status();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (void)kill();
  return Status::unavailable(
      "mosquitto did not accept connections on port " + std::to_string(port_) + " within " +
      std::to_string(options_.start_timeout_ms) + " ms; its log:\n" + log_tail());
}

Status MosquittoBroker::wait_for_exit(int timeout_ms) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    ::close(pidfd);
  } else {
    // No pidfd (old kernel): bounded polling of waitpid.
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      int wstatus = 0;
      if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        return Status();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  int wstatus = 0;
  if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
    pid_ = -1;
    return Status();
  }
  return Status::unavailable("mosquitto " + std::to_string(pid_) + " still running after " +
                             std::to_string(timeout_ms) + " ms");
}

Status MosquittoBroker::stop() {
  if (!running()) return Status();
  ::kill(pid_, SIGTERM);
  if (wait_for_exit(options_.stop_timeout_ms).ok()) return Status();
  return kill();
}

Status MosquittoBroker::kill() {
  if (!running()) return Status();
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return Status();
}

}  // namespace edgesketch::testbed
