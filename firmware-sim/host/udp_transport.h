// Sends each message as one UDP datagram to HOST:PORT (a connected socket).
#pragma once

#include <memory>
#include <string>

#include "transport.h"

namespace edgesketch::sim {

class UdpTransport final : public Transport {
 public:
  // Resolves host (numeric or name) and connects a datagram socket to it.
  static Result<std::unique_ptr<UdpTransport>> connect(const std::string& host, int port);
  ~UdpTransport() override;

  // Fails for payloads above 65,507 bytes and when the kernel refuses the datagram (e.g. an
  // ICMP port-unreachable from a previous datagram: nobody listens there).
  Status send(std::string_view topic, std::string_view payload) override;
  Status finish() override { return Status(); }

 private:
  UdpTransport(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  int fd_;
  std::string peer_;
};

}  // namespace edgesketch::sim
