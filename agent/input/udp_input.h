// UdpInput: a bound UDP socket read by its own thread; every datagram goes to an InputSink.
// UDP has no ack and no backpressure: what the network drops is out of our hands, what the
// agent drops (oversize datagrams, sink refusals) is counted, and so is what the kernel drops
// at this socket because its receive buffer was full (SO_RXQ_OVFL).
//
// Thread-safety: start/stop from one controlling thread; port() and stats() from any thread.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/common/status.h"
#include "input/input_counters.h"
#include "input/input_sink.h"

namespace edgesketch::agent {

struct UdpInputOptions {
  // Names the input in logs and metrics.
  std::string name = "udp";
  // IPv4 address to bind.
  std::string bind_address = "127.0.0.1";
  // 0: an ephemeral port (read it back with port()).
  int port = 0;
  // Larger datagrams are counted as oversize and dropped (the kernel reports their real size).
  std::size_t max_datagram_bytes = 65'507;
  // SO_RCVBUF; 0 = the system default. Bursts beyond it are lost in the kernel (counted in
  // socket_drops). The kernel caps it at net.core.rmem_max; receive_buffer_effective() says
  // what it granted.
  int receive_buffer_bytes = 0;
  // How often the receiving thread checks for stop() while no datagram arrives.
  int poll_interval_ms = 100;
};

// received and bytes: datagrams read and their bytes; oversize: above max_datagram_bytes.
struct UdpInputStats : InputCounts {
  std::uint64_t errors = 0;  // recvfrom / poll errors
  // Datagrams the kernel dropped at this socket (receive buffer full), as of the newest
  // datagram read: the kernel reports the count with the datagrams queued after a drop.
  std::uint64_t socket_drops = 0;
};

class UdpInput {
 public:
  // Creates and binds the socket (so the port is known before start()). kInvalidArgument for a
  // bad address; kIoError when the socket cannot be bound (errno text included).
  static Result<std::unique_ptr<UdpInput>> create(UdpInputOptions options, InputSink sink);
  ~UdpInput();  // stop(), close
  UdpInput(const UdpInput&) = delete;
  UdpInput& operator=(const UdpInput&) = delete;

  void start();
  // Joins the thread within ~poll_interval_ms plus the sink call in progress. Idempotent.
  void stop();

  // The bound port.
  int port() const { return port_; }
  UdpInputStats stats() const;
  // The socket's receive buffer as the kernel granted it (Linux reports twice the payload
  // room it reserves for bookkeeping; this is the value getsockopt(SO_RCVBUF) returns).
  int receive_buffer_effective() const { return receive_buffer_effective_; }

 private:
  UdpInput(UdpInputOptions options, InputSink sink, int fd, int port);
  void run();
  void note_kernel_drops(const msghdr& msg);  // SO_RXQ_OVFL of one received datagram

  const UdpInputOptions options_;
  InputSink sink_;
  int fd_ = -1;
  int port_ = 0;
  int receive_buffer_effective_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  InputCounters counters_;
  std::atomic<std::uint64_t> errors_{0}, socket_drops_{0};
  std::uint32_t kernel_drops_seen_ = 0;  // the last SO_RXQ_OVFL value (wraps at 2^32)
};

}  // namespace edgesketch::agent
