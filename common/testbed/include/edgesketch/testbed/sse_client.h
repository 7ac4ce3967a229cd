// SseClient: a Server-Sent Events client over a plain loopback socket, for the tests and
// edgesketch-bench of the collector's live streams (GET /api/v1/stream): reads the response head,
// undoes the chunked transfer coding and splits the events.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace edgesketch::testbed {

struct SseEvent {
  std::string id;     // "" when the event has no id: line
  std::string event;  // "" for the default event type
  std::string data;   // the data: lines joined by '\n'
};

// One stream, used from one thread.
class SseClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to 127.0.0.1:`port` and sends `GET path` with `headers`, then reads the response
  // head (up to `timeout`). `receive_buffer` > 0 sets the socket's SO_RCVBUF before connecting
  // (a client that stalls with a small buffer). nullptr when the connection fails.
  static std::unique_ptr<SseClient> open(int port, const std::string& path, const Headers& headers,
                                         std::chrono::milliseconds timeout, int receive_buffer = 0);
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  // The response's status (0 when no head arrived) and body when it is not a stream.
  int status() const { return status_; }
  const std::string& head() const { return head_; }
  // The next event (comments and retry: lines are skipped, comments counted), nullopt when none
  // came within `timeout` or the stream ended (then ended() is true).
  std::optional<SseEvent> next(std::chrono::milliseconds timeout);
  // Reads and discards until the server closes the connection; true when it did within
  // `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);
  bool ended() const { return ended_; }
  std::size_t comments() const { return comments_; }

 private:
  explicit SseClient(int fd) : fd_(fd) {}
  // Reads more bytes into raw_ (up to `until`); false at the end of the stream or the deadline.
  bool fill(std::chrono::steady_clock::time_point until);
  // Moves the chunked body's payload from raw_ to text_.
  void dechunk();

  int fd_;
  int status_ = 0;
  std::string head_;
  bool chunked_ = false;
  bool ended_ = false;
  std::size_t comments_ = 0;
  std::string raw_;   // received bytes not yet de-chunked
  std::string text_;  // the event stream's text not yet parsed
};

}  // namespace edgesketch::testbed
