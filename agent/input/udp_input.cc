// UdpInput: poll() with a timeout (so stop() is noticed) then recvmsg(MSG_TRUNC), which
// returns a datagram's real length even when it did not fit the buffer, with the socket's
// drop count (SO_RXQ_OVFL) as ancillary data.
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
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0) {
    spdlog::warn(
        "udp input {}: SO_RXQ_OVFL: {}; datagrams the kernel drops at this socket "
        "will not be counted",
        options.name, errno_text(errno));
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
  int granted = 0;
  socklen_t granted_len = sizeof granted;
  (void)::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &granted_len);
  // Linux reserves (and reports) twice what was asked, up to twice net.core.rmem_max.
  if (options.receive_buffer_bytes > 0 && granted / 2 < options.receive_buffer_bytes) {
    spdlog::warn(
        "udp input {}: receive buffer {} bytes asked, the kernel granted {} "
        "(raise net.core.rmem_max to get more)",
        options.name, options.receive_buffer_bytes, granted / 2);
  }
  auto in = std::unique_ptr<UdpInput>(new UdpInput(std::move(options), std::move(sink), fd, port));
  in->receive_buffer_effective_ = granted;
  return in;
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
      iovec iov{buf.data(), buf.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint32_t))];
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t got = ::recvmsg(fd_, &msg, MSG_TRUNC | MSG_DONTWAIT);
      if (got < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        if (err == EINTR) continue;
        if (errors_.fetch_add(1) == 0) {
          spdlog::error("udp input {}: recvmsg: {}", options_.name, errno_text(err));
        }
        break;
      }
      note_kernel_drops(msg);
      counters_.arrived(static_cast<std::size_t>(got));
      if (static_cast<std::size_t>(got) > buf.size()) {
        if (counters_.oversize()) {
          spdlog::warn("udp input {}: dropping a {} byte datagram (max_datagram_bytes {})",
                       options_.name, got, buf.size());
        }
        continue;
      }
      char ip[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
      source.assign("udp://").append(ip).append(":").append(std::to_string(ntohs(from.sin_port)));
      counters_.deliver(sink_, source, ByteSpan(buf.data(), static_cast<std::size_t>(got)), false);
    }
  }
}

void UdpInput::note_kernel_drops(const msghdr& msg) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
        c->cmsg_len < CMSG_LEN(sizeof(std::uint32_t))) {
      continue;
    }
    std::uint32_t total = 0;
    std::memcpy(&total, CMSG_DATA(c), sizeof total);
    const std::uint32_t fresh = total - kernel_drops_seen_;  // modulo 2^32
    if (fresh == 0) continue;
    kernel_drops_seen_ = total;
    if (socket_drops_.fetch_add(fresh, std::memory_order_relaxed) == 0) {
      spdlog::warn(
          "udp input {}: the kernel dropped {} datagrams at this socket (receive buffer "
          "full; raise receive_buffer)",
          options_.name, fresh);
    }
  }
}

UdpInputStats UdpInput::stats() const {
  UdpInputStats s;
  static_cast<InputCounts&>(s) = counters_.counts();
  s.errors = errors_.load();
  s.socket_drops = socket_drops_.load();
  return s;
}

}  // namespace edgesketch::agent
