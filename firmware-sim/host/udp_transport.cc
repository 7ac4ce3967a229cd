// UDP datagrams through a connected socket; blocking sends so the kernel paces us.
#include "udp_transport.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edgesketch::sim {

Result<std::unique_ptr<UdpTransport>> UdpTransport::connect(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  std::string peer = host + ":" + service;
  if (rc != 0) {
    return Status::invalid_argument("udp: cannot resolve '" + peer + "': " + gai_strerror(rc));
  }
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0 || ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    std::string err = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(res);
    return Status::io_error("udp: cannot set up a socket to " + peer + ": " + err);
  }
  ::freeaddrinfo(res);
  int sndbuf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return std::unique_ptr<UdpTransport>(new UdpTransport(fd, std::move(peer)));
}

UdpTransport::~UdpTransport() { ::close(fd_); }

Status UdpTransport::send(std::string_view /*topic*/, std::string_view payload) {
  if (payload.size() > 65507) {
    return Status::invalid_argument("udp: payload of " + std::to_string(payload.size()) +
                                    " bytes does not fit a datagram (use a smaller --batch)");
  }
  for (;;) {
    ssize_t n = ::send(fd_, payload.data(), payload.size(), 0);
    if (n >= 0) return Status();
    if (errno == EINTR) continue;
    return Status::unavailable("udp: send to " + peer_ + " failed: " + std::strerror(errno));
  }
}

}  // namespace edgesketch::sim
