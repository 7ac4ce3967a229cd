#include "edgesketch/testbed/daemon_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace edgesketch::testbed {

DaemonProcess::DaemonProcess(std::string program, std::vector<std::string> args,
                             std::string log_path)
    : program_(std::move(program)), args_(std::move(args)), log_path_(std::move(log_path)) {}

DaemonProcess::~DaemonProcess() {
  if (running()) stop(SIGKILL, 2000);
}

bool DaemonProcess::start() {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> argv;
    argv.push_back(program_.data());
    for (std::string& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(program_.c_str(), argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  return true;
}

int DaemonProcess::stop(int sig, int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  int status = 0;
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

bool DaemonProcess::exited() {
  if (pid_ <= 0) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;
  return true;
}

std::string DaemonProcess::log_tail(std::size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

HttpReply http_get(int port, const std::string& path, const std::string& bearer) {
  HttpHeaders headers;
  if (!bearer.empty()) headers.emplace_back("Authorization", "Bearer " + bearer);
  return http_request(port, "GET", path, headers);
}

HttpReply http_post(int port, const std::string& path, const std::string& body,
                    const std::string& content_type, const std::string& bearer) {
  HttpHeaders headers;
  if (!bearer.empty()) headers.emplace_back("Authorization", "Bearer " + bearer);
  return http_request(port, "POST", path, headers, body, content_type);
}

HttpReply http_request(int port, const std::string& method, const std::string& path,
                       const HttpHeaders& headers, const std::string& body,
                       const std::string& content_type) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(30, 0);
  httplib::Headers h(headers.begin(), headers.end());
  auto res = method == "POST" ? client.Post(path, h, body, content_type) : client.Get(path, h);
  if (!res) return {};
  HttpReply reply{res->status, res->body, {}};
  for (const auto& kv : res->headers) reply.headers.emplace_back(kv);
  return reply;
}

std::string HttpReply::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(a) == std::tolower(b);
        })) {
      return v;
    }
  }
  return {};
}

TmpfsMount::TmpfsMount(std::string dir, const std::string& size) : dir_(std::move(dir)) {
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) {
    error_ = "mounting a tmpfs on " + dir_ + " needs CAP_SYS_ADMIN: " + std::strerror(errno);
    dir_.clear();
  }
}

TmpfsMount::~TmpfsMount() {
  if (!dir_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
}

void fill_file_system(const std::string& path) {
  {
    std::ofstream f(path, std::ios::binary);
    const std::string block(4096, 'x');
    while (f.write(block.data(), block.size())) {
    }
  }
  std::ofstream f(path, std::ios::binary | std::ios::app);
  while (f.put('x')) f.flush();
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  r.status = ::pclose(p);
  return r;
}

}  // namespace edgesketch::testbed
