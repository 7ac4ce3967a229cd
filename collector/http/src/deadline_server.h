// DeadlineServer: httplib::Server whose connections must send each request head (request line
// and headers) within a bound, so slow or stalled clients cannot hold worker threads.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace edgesketch::http {

// httplib's own connection loop reads with a timeout per read() only: a client that sends a
// byte every few seconds keeps its worker for as long as it likes. This server runs its own
// connection loop (keep-alive as httplib's) over a stream that gives up when the request head
// has not fully arrived `header_timeout` after its first byte.
//
// Thread safety: configure before listening; header_timeouts() may be read from any thread.
class DeadlineServer final : public httplib::Server {
 public:
  // The time a client has, from the first byte of a request, to send its whole head.
  void set_header_timeout(std::chrono::milliseconds timeout) { header_timeout_ = timeout; }
  // Connections closed because a request head did not arrive in time.
  std::uint64_t header_timeouts() const { return header_timeouts_.load(); }
  // The socket of the connection the calling worker thread serves (handlers run on the thread
  // that serves their connection), INVALID_SOCKET outside a connection: the live streams bound
  // the bytes queued on it.
  static socket_t current_socket();

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Waits until `sock` has data, up to httplib's keep-alive timeout; false when it has none or
  // the server stops.
  bool wait_for_request(socket_t sock) const;

  std::chrono::milliseconds header_timeout_{10'000};
  std::atomic<std::uint64_t> header_timeouts_{0};
};

}  // namespace edgesketch::http
