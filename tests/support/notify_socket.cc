#include "support/notify_socket.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

namespace edgesketch::test_support {

NotifySocket::NotifySocket() {
  static std::atomic<int> next{0};
  path_ = (std::filesystem::temp_directory_path() /
           ("es-notify-" + std::to_string(::getpid()) + "-" + std::to_string(next++) + ".sock"))
              .string();
  ::unlink(path_.c_str());
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::abort();  // a test machine that cannot bind a unix socket in its temp dir is broken
  }
}

NotifySocket::~NotifySocket() {
  stop_ = true;
  if (collector_.joinable()) collector_.join();
  ::close(fd_);
  ::unlink(path_.c_str());
}

std::string NotifySocket::receive(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return {};
  char buf[512];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

void NotifySocket::start_collecting() {
  collector_ = std::thread([this] {
    while (!stop_) {
      std::string m = receive(100);
      if (m.empty()) continue;
      std::lock_guard lock(mu_);
      collected_.push_back(std::move(m));
    }
  });
}

std::vector<std::string> NotifySocket::collected() const {
  std::lock_guard lock(mu_);
  return collected_;
}

}  // namespace edgesketch::test_support
