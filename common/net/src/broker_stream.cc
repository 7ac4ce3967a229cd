// BrokerStream over a non-blocking TCP socket, and over OpenSSL for ssl:// brokers.
#include "broker_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace edgesketch::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

int ms_left(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string errno_text(int e) { return std::strerror(e); }

// OpenSSL's queued errors as one string (emptied).
std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail" : out;
}

// Waits up to timeout_ms (in slices of 50 ms, so `stopping` is seen) for `events` on fd.
// kUnavailable on time out, stop or poll error.
Status wait_fd(int fd, short events, SteadyClock::time_point deadline,
               const std::atomic<bool>& stopping, const std::string& what) {
  for (;;) {
    if (stopping.load()) return Status::unavailable(what + ": stopping");
    const int left = ms_left(deadline);
    if (left == 0) return Status::unavailable(what + ": timed out");
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, left < 50 ? left : 50);
    if (r < 0 && errno != EINTR) return Status::unavailable(what + ": poll: " + errno_text(errno));
    if (r > 0) return Status();
  }
}

class TcpStream : public BrokerStream {
 public:
  explicit TcpStream(int fd) : BrokerStream(fd) {}
  ~TcpStream() override = default;

  Result<std::size_t> read_some(std::uint8_t* buf, std::size_t n) override {
    for (;;) {
      const ssize_t r = ::recv(fd_, buf, n, 0);
      if (r > 0) return static_cast<std::size_t>(r);
      if (r == 0) return Status::unavailable("the broker closed the connection");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
      return Status::unavailable("recv: " + errno_text(errno));
    }
  }

  Status write_all(ByteSpan data, int timeout_ms) override {
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t w = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (w > 0) {
        done += static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        return Status::unavailable("send: " + errno_text(errno));
      }
      pollfd p{fd_, POLLOUT, 0};
      const int left = ms_left(deadline);
      if (left == 0 || ::poll(&p, 1, left) == 0) {
        return Status::unavailable("send: no room on the socket within " +
                                   std::to_string(timeout_ms) + " ms");
      }
    }
    return Status();
  }
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};

class TlsStream : public BrokerStream {
 public:
  TlsStream(int fd, std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx,
            std::unique_ptr<SSL, SslDeleter> ssl)
      : BrokerStream(fd), ctx_(std::move(ctx)), ssl_(std::move(ssl)) {}
  ~TlsStream() override {
    // A close_notify if the socket takes it at once; the connection is going either way.
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }

  Result<std::size_t> read_some(std::uint8_t* buf, std::size_t n) override {
    ERR_clear_error();
    const int r = SSL_read(ssl_.get(), buf, static_cast<int>(n > (1u << 30) ? (1u << 30) : n));
    if (r > 0) return static_cast<std::size_t>(r);
    const int e = SSL_get_error(ssl_.get(), r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return std::size_t{0};
    if (e == SSL_ERROR_ZERO_RETURN) return Status::unavailable("the broker closed the TLS session");
    if (e == SSL_ERROR_SYSCALL && errno != 0) {
      return Status::unavailable("TLS read: " + errno_text(errno));
    }
    return Status::unavailable("TLS read: " + ssl_errors());
  }

  bool has_pending() const override { return SSL_pending(ssl_.get()) > 0; }

  Status write_all(ByteSpan data, int timeout_ms) override {
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    std::size_t done = 0;
    while (done < data.size()) {
      ERR_clear_error();
      std::size_t w = 0;
      const int r = SSL_write_ex(ssl_.get(), data.data() + done, data.size() - done, &w);
      if (r == 1) {
        done += w;
        continue;
      }
      const int e = SSL_get_error(ssl_.get(), r);
      short events = 0;
      if (e == SSL_ERROR_WANT_WRITE) events = POLLOUT;
      if (e == SSL_ERROR_WANT_READ) events = POLLIN;
      if (events == 0) return Status::unavailable("TLS write: " + ssl_errors());
      pollfd p{fd_, events, 0};
      const int left = ms_left(deadline);
      if (left == 0 || ::poll(&p, 1, left) == 0) {
        return Status::unavailable("TLS write: no room within " + std::to_string(timeout_ms) +
                                   " ms");
      }
    }
    return Status();
  }

 private:
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
};

// Owns a socket until release().
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

Result<int> tcp_connect(const BrokerAddress& a, SteadyClock::time_point deadline,
                        const std::atomic<bool>& stopping) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int gai = ::getaddrinfo(a.host.c_str(), a.port.c_str(), &hints, &res);
  if (gai != 0) {
    return Status::unavailable("resolve " + a.host + ": " + ::gai_strerror(gai));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(res, &::freeaddrinfo);
  Status last = Status::unavailable("connect to " + a.host + ":" + a.port + ": no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    FdGuard fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    const int s = fd.release();
    if (s < 0) {
      last = Status::unavailable("socket: " + errno_text(errno));
      continue;
    }
    FdGuard guard(s);
    const int one = 1;
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const std::string what = "connect to " + a.host + ":" + a.port;
    if (::connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Status::unavailable(what + ": " + errno_text(errno));
        continue;
      }
      Status w = wait_fd(s, POLLOUT, deadline, stopping, what);
      if (!w.ok()) return w;
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = Status::unavailable(what + ": " + errno_text(err));
        continue;
      }
    }
    return guard.release();
  }
  return last;
}

Result<std::unique_ptr<BrokerStream>> tls_handshake(int fd, const BrokerAddress& a,
                                                    const MqttConnection& c,
                                                    SteadyClock::time_point deadline,
                                                    const std::atomic<bool>& stopping) {
  FdGuard guard(fd);
  const std::string what = "TLS to " + a.host + ":" + a.port;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::unavailable(what + ": SSL_CTX_new: " + ssl_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int ca_ok = c.ca_file.empty()
                        ? SSL_CTX_set_default_verify_paths(ctx.get())
                        : SSL_CTX_load_verify_locations(ctx.get(), c.ca_file.c_str(), nullptr);
  if (ca_ok != 1) {
    return Status::unavailable(what + ": cannot load CA certificates from '" + c.ca_file +
                               "': " + ssl_errors());
  }
  if (!c.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), c.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Status::unavailable(what + ": cannot use client certificate '" + c.cert_file +
                                 "' with key '" + c.key_file + "': " + ssl_errors());
    }
  }
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(ctx.get()));
  if (!ssl) return Status::unavailable(what + ": SSL_new: " + ssl_errors());
  // The certificate must name the host we connect to: an IP address or a DNS name.
  in6_addr addr6;
  in_addr addr4;
  const bool is_ip = ::inet_pton(AF_INET, a.host.c_str(), &addr4) == 1 ||
                     ::inet_pton(AF_INET6, a.host.c_str(), &addr6) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, a.host.c_str()) != 1) {
      return Status::unavailable(what + ": cannot check the certificate's IP: " + ssl_errors());
    }
  } else {
    SSL_set_tlsext_host_name(ssl.get(), a.host.c_str());
    if (SSL_set1_host(ssl.get(), a.host.c_str()) != 1) {
      return Status::unavailable(what + ": cannot check the certificate's name: " + ssl_errors());
    }
  }
  if (SSL_set_fd(ssl.get(), fd) != 1) return Status::unavailable(what + ": " + ssl_errors());
  for (;;) {
    ERR_clear_error();
    const int r = SSL_connect(ssl.get());
    if (r == 1) break;
    const int e = SSL_get_error(ssl.get(), r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      ES_RETURN_IF_ERROR(
          wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, stopping, what));
      continue;
    }
    const long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK) {
      return Status::unavailable(
          what + ": the broker's certificate is refused: " + X509_verify_cert_error_string(verify));
    }
    return Status::unavailable(what + ": handshake failed: " + ssl_errors());
  }
  return std::unique_ptr<BrokerStream>(
      new TlsStream(guard.release(), std::move(ctx), std::move(ssl)));
}

}  // namespace

Result<BrokerAddress> parse_broker_uri(const std::string& uri) {
  BrokerAddress a;
  std::string rest;
  for (const char* scheme : {"tcp://", "mqtt://", "ssl://"}) {
    if (uri.rfind(scheme, 0) == 0) {
      rest = uri.substr(std::strlen(scheme));
      a.tls = scheme[0] == 's';
      break;
    }
  }
  const auto bad = [&] {
    return Status::invalid_argument("broker uri '" + uri +
                                    "' is not tcp://HOST:PORT or ssl://HOST:PORT");
  };
  if (rest.empty()) return bad();
  std::size_t colon;
  if (rest[0] == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad();
    }
    a.host = rest.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string::npos) return bad();
    a.host = rest.substr(0, colon);
  }
  a.port = rest.substr(colon + 1);
  if (a.host.empty() || a.port.empty() || a.port.size() > 5 ||
      a.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(a.port) == 0 ||
      std::stoi(a.port) > 65535) {
    return bad();
  }
  return a;
}

BrokerStream::~BrokerStream() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<BrokerStream>> BrokerStream::connect(const MqttConnection& connection,
                                                            int timeout_ms,
                                                            const std::atomic<bool>& stopping) {
  ES_ASSIGN_OR_RETURN(BrokerAddress a, parse_broker_uri(connection.uri));
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  ES_ASSIGN_OR_RETURN(int fd, tcp_connect(a, deadline, stopping));
  if (!a.tls) return std::unique_ptr<BrokerStream>(new TcpStream(fd));
  return tls_handshake(fd, a, connection, deadline, stopping);
}

}  // namespace edgesketch::net
