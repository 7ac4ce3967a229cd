// BrokerStream: the byte stream to an MQTT broker for net::MqttSubscriber, plain TCP
// ("tcp://", "mqtt://") or TLS over OpenSSL ("ssl://"), on a non-blocking socket the caller
// polls. Internal to es_net.
//
// TLS checks the broker's certificate against ca_file (the system's trust store without one) and
// that it names the URI's host (DNS name or IP address); a client certificate and key are
// presented when set. The files are read at every connect.
//
// Not thread-safe: owned by the subscriber's thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_connection.h"

namespace edgesketch::net {

// "tcp://HOST:PORT" and friends taken apart.
struct BrokerAddress {
  std::string host;
  std::string port;
  bool tls = false;
};
// kInvalidArgument unless `uri` is tcp://, mqtt:// or ssl:// HOST:PORT (IPv6 as [ADDR]:PORT).
Result<BrokerAddress> parse_broker_uri(const std::string& uri);

class BrokerStream {
 public:
  // Connects (TCP, then the TLS handshake for ssl://) within timeout_ms; gives up early
  // (kUnavailable) once `stopping` is set.
  static Result<std::unique_ptr<BrokerStream>> connect(const MqttConnection& connection,
                                                       int timeout_ms,
                                                       const std::atomic<bool>& stopping);
  virtual ~BrokerStream();

  int fd() const { return fd_; }
  // Reads what is available now into buf: the byte count, 0 when nothing is (would block);
  // kUnavailable when the broker closed the connection or it failed.
  virtual Result<std::size_t> read_some(std::uint8_t* buf, std::size_t n) = 0;
  // True when bytes are already decrypted and waiting (TLS): read before polling again.
  virtual bool has_pending() const { return false; }
  // Writes all of `data`, polling up to timeout_ms for room; kUnavailable on failure or time out.
  virtual Status write_all(ByteSpan data, int timeout_ms) = 0;

 protected:
  explicit BrokerStream(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace edgesketch::net
