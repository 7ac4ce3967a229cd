// SseClient: socket, response head, chunked decoding and the event stream's line format.
#include "edgesketch/testbed/sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace edgesketch::testbed {

using SteadyClock = std::chrono::steady_clock;

std::unique_ptr<SseClient> SseClient::open(int port, const std::string& path,
                                           const Headers& headers,
                                           std::chrono::milliseconds timeout, int receive_buffer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  std::unique_ptr<SseClient> c(new SseClient(fd));
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return nullptr;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
  for (const auto& [name, value] : headers) req += name + ": " + value + "\r\n";
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return nullptr;
  }
  const auto until = SteadyClock::now() + timeout;
  std::size_t end;
  while ((end = c->raw_.find("\r\n\r\n")) == std::string::npos) {
    if (!c->fill(until)) return c;
  }
  c->head_ = c->raw_.substr(0, end);
  c->raw_.erase(0, end + 4);
  if (c->head_.size() > 12) c->status_ = std::atoi(c->head_.c_str() + 9);
  c->chunked_ = c->head_.find("Transfer-Encoding: chunked") != std::string::npos;
  if (c->status_ != 200) {
    // An error answer: its body (Content-Length bytes, or chunks up to the last), for the test's
    // messages.
    std::size_t length = 0;
    if (const auto at = c->head_.find("Content-Length: "); at != std::string::npos) {
      length = std::strtoul(c->head_.c_str() + at + 16, nullptr, 10);
    }
    for (;;) {
      c->dechunk();
      if (c->chunked_ ? c->ended_ : c->text_.size() >= length) break;
      if (!c->fill(until)) break;
    }
    c->head_ += "\r\n\r\n" + c->text_;
  }
  return c;
}

SseClient::~SseClient() { ::close(fd_); }

bool SseClient::fill(SteadyClock::time_point until) {
  if (ended_) return false;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left > 0 ? left : 0)) <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    ended_ = true;
    return false;
  }
  raw_.append(buf, static_cast<std::size_t>(n));
  return true;
}

void SseClient::dechunk() {
  if (!chunked_) {
    text_ += raw_;
    raw_.clear();
    return;
  }
  for (;;) {
    const auto eol = raw_.find("\r\n");
    if (eol == std::string::npos) return;
    const std::size_t size = std::strtoul(raw_.c_str(), nullptr, 16);
    if (raw_.size() < eol + 2 + size + 2) return;
    text_.append(raw_, eol + 2, size);
    raw_.erase(0, eol + 2 + size + 2);
    if (size == 0) ended_ = true;
  }
}

std::optional<SseEvent> SseClient::next(std::chrono::milliseconds timeout) {
  const auto until = SteadyClock::now() + timeout;
  for (;;) {
    dechunk();
    // Blocks end at an empty line.
    std::size_t end;
    while ((end = text_.find("\n\n")) != std::string::npos) {
      const std::string block = text_.substr(0, end);
      text_.erase(0, end + 2);
      SseEvent ev;
      bool any = false;
      std::size_t pos = 0;
      while (pos <= block.size()) {
        std::size_t nl = block.find('\n', pos);
        if (nl == std::string::npos) nl = block.size();
        const std::string line = block.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) continue;
        if (line[0] == ':') {
          ++comments_;
          continue;
        }
        const auto colon = line.find(':');
        const std::string field = line.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        if (field == "id") {
          ev.id = value;
          any = true;
        } else if (field == "event") {
          ev.event = value;
          any = true;
        } else if (field == "data") {
          if (!ev.data.empty()) ev.data += '\n';
          ev.data += value;
          any = true;
        }
      }
      if (any) return ev;
    }
    if (!fill(until)) return std::nullopt;
  }
}

bool SseClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto until = SteadyClock::now() + timeout;
  while (!ended_) {
    if (!fill(until) && !ended_) return false;
    raw_.clear();
  }
  return true;
}

}  // namespace edgesketch::testbed
