// UdpInput: poll() with a timeout (so stop() is noticed) then recvfrom(MSG_TRUNC), which
// returns a datagram's real length even when it did not fit the buffer.
#include "input/udp_input.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace edgesketch::agent {
namespace {

std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

}  // namespace

Result<std::unique_ptr<UdpInput>> UdpInput::create(UdpInputOptions options, InputSink sink) {
  if (!sink) return Status::invalid_argument("udp input " + options.name + ": no sink");
  if (options.port < 0 || options.port > 65535) {
    return Status::invalid_argument("udp input " + options.name + ": port " +
                                    std::to_string(options.port) + " is not 0..65535");
  }
  if (options.max_datagram_bytes == 0 || options.max_datagram_bytes > 65'507) {
    return Status::invalid_argument("udp input " + options.name + ": max_datagram_bytes " +
                                    std::to_string(options.max_datagram_bytes) +
                                    " is not 1..65507");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(options.port));
  if (::inet_pton(AF_INET, options.bind_address.c_str(), &addr.sin_addr) != 1) {
    return Status::invalid_argument("udp input " + options.name + ": bind_address '" +
                                    options.bind_address + "' is not an IPv4 address");
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Status::io_error("udp input " + options.name + ": socket: " + errno_text(errno));
  if (options.receive_buffer_bytes > 0) {
    int size = options.receive_buffer_bytes;
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    return Status::io_error("udp input " + options.name + ": bind " + options.bind_address + ":" +
                            std::to_string(options.port) + ": " + errno_text(err));
  }
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return Status::io_error("udp input " + options.name + ": getsockname: " + errno_text(err));
  }
  int port = ntohs(addr.sin_port);
  return std::unique_ptr<UdpInput>(new UdpInput(std::move(options), std::move(sink), fd, port));
}

UdpInput::UdpInput(UdpInputOptions options, InputSink sink, int fd, int port)
    : options_(std::move(options)), sink_(std::move(sink)), fd_(fd), port_(port) {}

UdpInput::~UdpInput() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

void UdpInput::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void UdpInput::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void UdpInput::run() {
  std::vector<std::uint8_t> buf(options_.max_datagram_bytes);
  std::string source;
  while (!stopping_.load()) {
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, options_.poll_interval_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errors_.fetch_add(1) == 0) {
        spdlog::error("udp input {}: poll: {}", options_.name, errno_text(errno));
      }
      continue;
    }
    if (n == 0) continue;
    // Drain what is queued before polling again.
    while (!stopping_.load()) {
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      ssize_t got = ::recvfrom(fd_, buf.data(), buf.size(), MSG_TRUNC | MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
      if (got < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        if (err == EINTR) continue;
        if (errors_.fetch_add(1) == 0) {
          spdlog::error("udp input {}: recvfrom: {}", options_.name, errno_text(err));
        }
        break;
      }
      received_.fetch_add(1, std::memory_order_relaxed);
      bytes_.fetch_add(static_cast<std::uint64_t>(got), std::memory_order_relaxed);
      if (static_cast<std::size_t>(got) > buf.size()) {
        if (oversize_.fetch_add(1, std::memory_order_relaxed) == 0) {
          spdlog::warn("udp input {}: dropping a {} byte datagram (max_datagram_bytes {})",
                       options_.name, got, buf.size());
        }
        continue;
      }
      char ip[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
      source.assign("udp://").append(ip).append(":").append(std::to_string(ntohs(from.sin_port)));
      bool ok = false;
      try {
        ok = sink_(source, ByteSpan(buf.data(), static_cast<std::size_t>(got)));
      } catch (...) {
        sink_exceptions_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      (ok ? accepted_ : rejected_).fetch_add(1, std::memory_order_relaxed);
    }
  }
}

UdpInputStats UdpInput::stats() const {
  UdpInputStats s;
  s.received = received_.load();
  s.bytes = bytes_.load();
  s.accepted = accepted_.load();
  s.rejected = rejected_.load();
  s.oversize = oversize_.load();
  s.errors = errors_.load();
  s.sink_exceptions = sink_exceptions_.load();
  return s;
}

}  // namespace edgesketch::agent
