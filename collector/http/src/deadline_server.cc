// DeadlineServer's connection loop and its socket stream with a deadline for request heads.
#include "deadline_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

namespace edgesketch::http {
namespace {

using Clock = std::chrono::steady_clock;

// The connection this worker thread serves (DeadlineServer::current_socket()).
thread_local socket_t tls_connection = INVALID_SOCKET;

std::chrono::milliseconds to_ms(time_t sec, time_t usec) {
  return std::chrono::milliseconds(sec * 1000 + usec / 1000);
}

// poll() for `events` up to `timeout` (never less); true when ready. EINTR retries with the
// time left.
bool wait_ready(socket_t sock, short events, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    pollfd p{sock, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left)));
    if (n > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
    if (n == 0 || errno != EINTR) return false;
  }
}

void address_of(const sockaddr_storage& a, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

// A connection's socket for httplib's request parser and response writer. While a deadline is
// armed (from a request's first byte until its head is parsed), reads wait no longer than it;
// past it, the stream reports no more data and `expired()` is set.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(socket_t sock, std::chrono::milliseconds read_timeout,
                   std::chrono::milliseconds write_timeout)
      : sock_(sock), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  void arm(Clock::time_point deadline) { deadline_ = deadline; }
  void disarm() { deadline_.reset(); }
  bool expired() const { return expired_; }

  bool is_readable() const override {
    if (pos_ < end_) return true;
    auto timeout = read_timeout_;
    bool until_deadline = false;
    if (deadline_) {
      // Rounded up, so that the wait never ends before the deadline.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - Clock::now());
      if (left <= left.zero()) {
        expired_ = true;
        return false;
      }
      if (left <= timeout) {
        timeout = left;
        until_deadline = true;
      }
    }
    if (wait_ready(sock_, POLLIN, timeout)) return true;
    if (until_deadline) expired_ = true;
    return false;
  }
  bool is_writable() const override { return wait_ready(sock_, POLLOUT, write_timeout_); }

  // Small reads (the parser reads the head a byte at a time) come from a buffer; large ones
  // (bodies) go straight to the caller's memory, as httplib's own stream does.
  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == end_) {
      if (!is_readable()) return -1;
      if (size >= buf_.size()) return receive(ptr, size);
      const ssize_t n = receive(buf_.data(), buf_.size());
      if (n <= 0) return n;
      pos_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    const std::size_t take = std::min(size, end_ - pos_);
    std::memcpy(ptr, buf_.data() + pos_, take);
    pos_ += take;
    return static_cast<ssize_t>(take);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  ssize_t receive(char* to, std::size_t size) {
    ssize_t n;
    do {
      n = ::recv(sock_, to, size, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  socket_t sock_;
  std::chrono::milliseconds read_timeout_;
  std::chrono::milliseconds write_timeout_;
  std::optional<Clock::time_point> deadline_;
  mutable bool expired_ = false;
  std::array<char, 4096> buf_{};
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
};

}  // namespace

bool DeadlineServer::wait_for_request(socket_t sock) const {
  // In slices, so that a stopping server is noticed (as httplib's own keep-alive wait does).
  const auto until = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
  while (svr_sock_ != INVALID_SOCKET) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left <= left.zero()) return false;
    if (wait_ready(sock, POLLIN, std::min(left, std::chrono::milliseconds(50)))) return true;
  }
  return false;
}

socket_t DeadlineServer::current_socket() { return tls_connection; }

bool DeadlineServer::process_and_close_socket(socket_t sock) {
  tls_connection = sock;
  ConnectionStream stream(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                          to_ms(write_timeout_sec_, write_timeout_usec_));
  bool ok = false;
  for (std::size_t left = keep_alive_max_count_; left > 0 && wait_for_request(sock); --left) {
    stream.arm(Clock::now() + header_timeout_);
    bool connection_closed = false;
    ok = process_request(stream, /*close_connection=*/left == 1, connection_closed,
                         [&stream](httplib::Request&) { stream.disarm(); });
    if (stream.expired()) ++header_timeouts_;
    if (!ok || connection_closed || stream.expired()) break;
  }
  tls_connection = INVALID_SOCKET;
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace edgesketch::http
