// MqttSubscriber against a real mosquitto (QoS 0 and 1, the PUBACK only after the handler
// returned, persistent session, broker restart, TLS with passwords) and against a scripted
// broker on a loopback socket for what mosquitto never sends (malformed and oversized packets,
// packets cut into single bytes, an unanswered PINGREQ).
#include "edgesketch/net/mqtt_subscriber.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/net/mqtt_link.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "net/tls_broker.h"
#include "support/eventually.h"

namespace edgesketch::net {
namespace {

using test_support::eventually;
constexpr int kWaitMs = 10'000;

ByteSpan text(std::string_view s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// prefix + decimal i (built by append: GCC 12 warns falsely about "literal" + std::string&&).
std::string numbered(std::string prefix, long i) { return prefix.append(std::to_string(i)); }

struct Got {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool dup = false;
};

// Collects what a subscriber hands over.
struct Collector {
  std::mutex mu;
  std::vector<Got> got;
  MqttSubscriber::MessageHandler handler() {
    return [this](const MqttMessage& m) {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back({std::string(m.topic),
                     std::string(reinterpret_cast<const char*>(m.payload.data()), m.payload.size()),
                     m.qos, m.dup});
    };
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
};

MqttSubscriberOptions options(const std::string& uri, const std::string& id) {
  MqttSubscriberOptions o;
  o.connection.uri = uri;
  o.connection.client_id = id + "-" + std::to_string(::getpid());
  o.connection.connect_timeout_ms = 3000;
  o.connection.backoff.min_ms = 100;
  o.connection.backoff.max_ms = 400;
  o.connection.backoff.seed = 7;
  o.subscriptions = {{"t/#", 1}};
  o.name = id;
  return o;
}

// A Paho publisher (net::MqttLink), connected.
std::unique_ptr<MqttLink> publisher(const std::string& uri) {
  MqttLinkOptions o;
  o.connection.uri = uri;
  o.connection.client_id = numbered("pub-", ::getpid());
  o.connection.clean_session = true;
  auto link = MqttLink::create(o, nullptr, nullptr);
  EXPECT_TRUE(link.ok());
  (*link)->start();
  EXPECT_TRUE(eventually([&] { return (*link)->connected(); }, kWaitMs));
  return std::move(*link);
}

// One whole MQTT packet read from `fd`, byte by byte; empty on time out or a closed connection.
Bytes read_whole_packet(int fd, int timeout_ms) {
  Bytes b;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    MqttFixedHeader h;
    if (read_mqtt_fixed_header(ByteSpan(b.data(), b.size()), h) != MqttDecodeError::kNone) {
      return {};
    }
    if (h.header_bytes > 0 && b.size() == h.header_bytes + h.remaining_length) return b;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) return {};
    std::uint8_t c;
    if (::recv(fd, &c, 1, 0) != 1) return {};
    b.push_back(c);
  }
}

// A TCP socket connected to 127.0.0.1:port; -1 on failure.
int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(MqttSubscriberTest, DeliversQos0AndQos1InOrderWithTheirFlags) {
  testbed::MosquittoOptions mo;
  mo.extra_config = "max_queued_messages 100000\n";
  testbed::MosquittoBroker broker(mo);
  ASSERT_TRUE(broker.start().ok());
  Collector c;
  auto sub = MqttSubscriber::create(options(broker.uri(), "order"), c.handler(), nullptr);
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  (*sub)->start();
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
  auto pub = publisher(broker.uri());
  constexpr int kEach = 1000;
  // Paho refuses a publish while its window of messages in flight is full: retried.
  auto publish = [&](const std::string& topic, const std::string& payload, int qos) {
    return eventually([&] { return pub->publish(topic, text(payload), qos).ok(); }, kWaitMs);
  };
  for (int i = 0; i < kEach; ++i) {
    ASSERT_TRUE(publish("t/q0", numbered("m", i), 0));
    ASSERT_TRUE(publish("t/q1/d\xc3\xa9", numbered("n", i), 1));
  }
  ASSERT_TRUE(eventually([&] { return c.size() >= 2 * kEach; }, kWaitMs));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::lock_guard<std::mutex> lock(c.mu);
  ASSERT_EQ(c.got.size(), 2u * kEach);
  int q0 = 0, q1 = 0;
  for (const Got& g : c.got) {
    EXPECT_FALSE(g.dup);
    if (g.topic == "t/q0") {
      EXPECT_EQ(g.qos, 0);
      EXPECT_EQ(g.payload, numbered("m", q0++));
    } else {
      EXPECT_EQ(g.topic, "t/q1/d\xc3\xa9");
      EXPECT_EQ(g.qos, 1);
      EXPECT_EQ(g.payload, numbered("n", q1++));
    }
  }
  const MqttSubscriberStats s = (*sub)->stats();
  EXPECT_EQ(s.messages, 2u * kEach);
  EXPECT_EQ(s.connects, 1u);
  EXPECT_EQ(s.protocol_errors, 0u);
  EXPECT_GT(s.reads, 0u);
  (*sub)->stop();
  EXPECT_FALSE((*sub)->connected());
}

// The PUBACK follows the handler: a message whose handler never finished on a connection that
// is then lost comes again, flagged DUP, to the next connection of the session, as it would
// after a crash. (The second subscriber takes the session over, which makes the broker drop
// the first one's connection; it has not handled the message, so it is handed over.)
TEST(MqttSubscriberTest, AMessageStillInTheHandlerIsDeliveredAgainWithDup) {
  testbed::MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  MqttSubscriberOptions first_options = options(broker.uri(), "takeover");
  first_options.connection.backoff.min_ms = 60'000;  // stays away once the session is taken
  first_options.connection.backoff.max_ms = 60'000;
  auto first = MqttSubscriber::create(
      first_options,
      [&](const MqttMessage&) {
        entered.fetch_add(1);
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return release; });
      },
      nullptr);
  ASSERT_TRUE(first.ok());
  (*first)->start();
  ASSERT_TRUE(eventually([&] { return (*first)->connected(); }, kWaitMs));
  auto pub = publisher(broker.uri());
  ASSERT_TRUE(pub->publish("t/x", text("journal me"), 1).ok());
  ASSERT_TRUE(eventually([&] { return entered.load() == 1; }, kWaitMs));

  Collector c;
  auto second = MqttSubscriber::create(first_options, c.handler(), nullptr);
  ASSERT_TRUE(second.ok());
  (*second)->start();
  ASSERT_TRUE(eventually([&] { return c.size() >= 1; }, kWaitMs));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  (*first)->stop();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    ASSERT_EQ(c.got.size(), 1u);
    EXPECT_EQ(c.got[0].payload, "journal me");
    EXPECT_TRUE(c.got[0].dup);
    EXPECT_EQ(c.got[0].qos, 1);
  }
  // Acknowledged by the second subscriber: not sent a third time.
  (*second)->stop();
  (*second)->start();
  ASSERT_TRUE(eventually([&] { return (*second)->connected(); }, kWaitMs));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(entered.load(), 1);
}

// The other side of the same rule: a message the handler finished, whose PUBACK the broker
// never got because the connection was lost (taken over by a bare client that reads the
// resent message and leaves without acknowledging it), comes again flagged DUP on the next
// connection and is acknowledged without reaching the handler a second time.
TEST(MqttSubscriberTest, AHandledMessageWhoseAckWasLostIsNotHandledAgain) {
  testbed::MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  const MqttSubscriberOptions o = options(broker.uri(), "lost-ack");
  auto sub = MqttSubscriber::create(
      o,
      [&](const MqttMessage&) {
        entered.fetch_add(1);
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return release; });
      },
      nullptr);
  ASSERT_TRUE(sub.ok());
  (*sub)->start();
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
  auto pub = publisher(broker.uri());
  ASSERT_TRUE(pub->publish("t/x", text("once"), 1).ok());
  ASSERT_TRUE(eventually([&] { return entered.load() == 1; }, kWaitMs));

  const int fd = connect_loopback(broker.port());
  ASSERT_GE(fd, 0);
  Bytes out;
  MqttConnectFields f;
  f.client_id = o.connection.client_id;
  f.keepalive_s = 30;
  ASSERT_TRUE(encode_mqtt_connect(f, out).ok());
  ASSERT_EQ(::send(fd, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
  EXPECT_EQ(read_whole_packet(fd, kWaitMs), Bytes({0x20, 0x02, 0x01, 0x00}));  // session present
  const Bytes resent = read_whole_packet(fd, kWaitMs);
  ASSERT_FALSE(resent.empty());
  EXPECT_EQ(resent[0], 0x3a);  // PUBLISH, DUP, QoS 1
  out.clear();
  encode_mqtt_disconnect(out);
  ASSERT_EQ(::send(fd, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
  ::close(fd);

  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(eventually([&] { return (*sub)->stats().redeliveries == 1; }, kWaitMs));
  EXPECT_EQ(entered.load(), 1);
  EXPECT_EQ((*sub)->stats().messages, 1u);
  EXPECT_EQ((*sub)->stats().connection_losses, 1u);
  // Acknowledged now: a new connection of the session gets nothing.
  (*sub)->stop();
  (*sub)->start();
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(entered.load(), 1);
  EXPECT_EQ((*sub)->stats().redeliveries, 1u);
}

TEST(MqttSubscriberTest, PersistentSessionKeepsQos1MessagesWhileStopped) {
  testbed::MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  Collector c;
  auto sub = MqttSubscriber::create(options(broker.uri(), "persist"), c.handler(), nullptr);
  ASSERT_TRUE(sub.ok());
  (*sub)->start();
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
  (*sub)->stop();
  auto pub = publisher(broker.uri());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pub->publish("t/p", text(std::to_string(i)), 1).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(c.size(), 0u);
  (*sub)->start();
  ASSERT_TRUE(eventually([&] { return c.size() >= 50; }, kWaitMs));
  std::lock_guard<std::mutex> lock(c.mu);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(c.got[i].payload, std::to_string(i));
    EXPECT_FALSE(c.got[i].dup);  // queued, never sent before
  }
}

TEST(MqttSubscriberTest, ReconnectsAndResubscribesAfterABrokerRestart) {
  testbed::MosquittoBroker broker;  // persistence false: the restarted broker forgot the session
  ASSERT_TRUE(broker.start().ok());
  Collector c;
  auto sub = MqttSubscriber::create(options(broker.uri(), "restart"), c.handler(), nullptr);
  ASSERT_TRUE(sub.ok());
  (*sub)->start();
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
  ASSERT_TRUE(broker.stop().ok());
  ASSERT_TRUE(eventually([&] { return !(*sub)->connected(); }, kWaitMs));
  ASSERT_TRUE(broker.start().ok());
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
  auto pub = publisher(broker.uri());
  ASSERT_TRUE(pub->publish("t/after", text("x"), 1).ok());
  ASSERT_TRUE(eventually([&] { return c.size() == 1; }, kWaitMs));
  const MqttSubscriberStats s = (*sub)->stats();
  EXPECT_EQ(s.connects, 2u);
  EXPECT_EQ(s.connection_losses, 1u);
}

TEST(MqttSubscriberTest, TlsWithPasswordAndRefusals) {
  TlsBroker broker;
  ASSERT_TRUE(broker.start().ok());
  MqttSubscriberOptions o = options(broker.uri(), "tls");
  o.connection.ca_file = broker.ca_file();
  o.connection.username = kTlsUser;
  const std::string pw_file = broker.dir() + "/gw.pw";
  std::ofstream(pw_file) << "wrong\n";
  o.connection.password_file = pw_file;
  Collector c;
  auto sub = MqttSubscriber::create(o, c.handler(), nullptr);
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  (*sub)->start();
  // A wrong password, then the rotated file is read at the next attempt.
  ASSERT_TRUE(eventually([&] { return (*sub)->stats().connect_failures > 0; }, kWaitMs));
  EXPECT_FALSE((*sub)->connected());
  std::ofstream(pw_file) << kTlsPassword << "\n";
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));

  MqttSubscriberOptions wrong_ca = options(broker.uri(), "tls-wrong-ca");
  wrong_ca.connection.ca_file = broker.other_ca_file();
  wrong_ca.connection.username = kTlsUser;
  wrong_ca.connection.password = kTlsPassword;
  auto refused = MqttSubscriber::create(wrong_ca, c.handler(), nullptr);
  ASSERT_TRUE(refused.ok());
  (*refused)->start();

  MqttLinkOptions po;
  po.connection.uri = broker.uri();
  po.connection.client_id = "tls-pub";
  po.connection.username = kTlsUser;
  po.connection.password = kTlsPassword;
  po.connection.ca_file = broker.ca_file();
  auto pub = MqttLink::create(po, nullptr, nullptr);
  ASSERT_TRUE(pub.ok());
  (*pub)->start();
  ASSERT_TRUE(eventually([&] { return (*pub)->connected(); }, kWaitMs));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*pub)->publish("t/tls", text("secret"), i % 2).ok());
  ASSERT_TRUE(eventually([&] { return c.size() == 20; }, kWaitMs));
  EXPECT_GT((*refused)->stats().connect_failures, 0u);
  EXPECT_FALSE((*refused)->connected());
  EXPECT_EQ((*refused)->stats().connects, 0u);
}

TEST(MqttSubscriberTest, RejectsBadOptions) {
  auto h = [](const MqttMessage&) {};
  MqttSubscriberOptions o = options("tcp://127.0.0.1:1", "bad");
  EXPECT_TRUE(MqttSubscriber::create(o, h, nullptr).ok());
  o.connection.client_id = "";
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o = options("tcp://127.0.0.1", "bad");
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o = options("mqtts://127.0.0.1:8883", "bad");
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o = options("tcp://127.0.0.1:1", "bad");
  o.connection.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o = options("ssl://127.0.0.1:1", "bad");
  o.connection.cert_file = "/x.crt";
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o = options("tcp://127.0.0.1:1", "bad");
  o.subscriptions = {{"a/b#", 1}};
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o.subscriptions = {{"a", 2}};
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o.subscriptions = {};
  EXPECT_EQ(MqttSubscriber::create(o, h, nullptr).status().code(), StatusCode::kInvalidArgument);
  o = options("tcp://127.0.0.1:1", "bad");
  EXPECT_EQ(MqttSubscriber::create(o, nullptr, nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

// A broker that follows a script on a loopback socket, one connection at a time.
class ScriptedBroker {
 public:
  ScriptedBroker() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~ScriptedBroker() {
    if (fd_ >= 0) ::close(fd_);
    ::close(listen_fd_);
  }
  std::string uri() const { return numbered("tcp://127.0.0.1:", port_); }

  // Accepts the next connection and answers its CONNECT and SUBSCRIBE.
  bool accept_session() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kWaitMs) != 1) return false;
    fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (fd_ < 0) return false;
    Bytes connect = read_packet();
    if (connect.empty() || connect[0] != 0x10) return false;
    send({0x20, 0x02, 0x00, 0x00});
    Bytes subscribe = read_packet();
    if (subscribe.empty() || subscribe[0] != 0x82) return false;
    send({0x90, 0x03, subscribe[2], subscribe[3], 0x01});
    return true;
  }

  void send(const Bytes& b) {
    ASSERT_EQ(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
  }

  // One whole packet from the client; empty on time out or a closed connection.
  Bytes read_packet(int timeout_ms = kWaitMs) { return read_whole_packet(fd_, timeout_ms); }

  // True when the client closed the connection within the time.
  bool closed_by_client(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    std::uint8_t c;
    return ::poll(&p, 1, timeout_ms) == 1 && ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  int port_ = 0;
};

Bytes publish_packet(std::string_view topic, std::string_view payload, int qos, std::uint16_t id) {
  Bytes b;
  EXPECT_TRUE(encode_mqtt_publish(topic, text(payload), qos, false, false, id, b).ok());
  return b;
}

TEST(MqttSubscriberTest, PacketsCutIntoSingleBytesAndOversizePayloads) {
  ScriptedBroker broker;
  Collector c;
  std::vector<std::pair<std::string, std::size_t>> oversize;
  std::mutex mu;
  MqttSubscriberOptions o = options(broker.uri(), "scripted");
  o.max_payload_bytes = 16;
  auto sub = MqttSubscriber::create(o, c.handler(), [&](std::string_view topic, std::size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    oversize.emplace_back(std::string(topic), n);
  });
  ASSERT_TRUE(sub.ok());
  (*sub)->start();
  ASSERT_TRUE(broker.accept_session());
  ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
  // A QoS 1 message one byte at a time.
  for (std::uint8_t b : publish_packet("t/a", "one", 1, 5)) broker.send({b});
  EXPECT_EQ(broker.read_packet(), Bytes({0x40, 0x02, 0x00, 0x05}));
  // A payload of 17 bytes (fits the buffer) and one of 200,000 (read past in pieces): dropped,
  // acknowledged; then a message that fits.
  broker.send(publish_packet("t/big", std::string(17, 'x'), 1, 6));
  EXPECT_EQ(broker.read_packet(), Bytes({0x40, 0x02, 0x00, 0x06}));
  const Bytes huge = publish_packet("t/huge", std::string(200'000, 'y'), 1, 7);
  for (std::size_t i = 0; i < huge.size(); i += 4096) {
    broker.send(Bytes(huge.begin() + i, huge.begin() + std::min(huge.size(), i + 4096)));
  }
  EXPECT_EQ(broker.read_packet(), Bytes({0x40, 0x02, 0x00, 0x07}));
  broker.send(publish_packet("t/b", "two", 0, 0));
  ASSERT_TRUE(eventually([&] { return c.size() == 2; }, kWaitMs));
  {
    std::lock_guard<std::mutex> lock(c.mu);
    EXPECT_EQ(c.got[0].payload, "one");
    EXPECT_EQ(c.got[1].payload, "two");
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(oversize.size(), 2u);
    EXPECT_EQ(oversize[0], std::make_pair(std::string("t/big"), std::size_t{17}));
    EXPECT_EQ(oversize[1], std::make_pair(std::string("t/huge"), std::size_t{200'000}));
  }
  EXPECT_EQ((*sub)->stats().oversize, 2u);
  EXPECT_EQ((*sub)->stats().protocol_errors, 0u);
  EXPECT_TRUE((*sub)->connected());
}

TEST(MqttSubscriberTest, MalformedPacketsEndTheConnectionCountedByReason) {
  ScriptedBroker broker;
  Collector c;
  MqttSubscriberOptions o = options(broker.uri(), "malformed");
  o.max_payload_bytes = 1024;
  auto sub = MqttSubscriber::create(o, c.handler(), nullptr);
  ASSERT_TRUE(sub.ok());
  (*sub)->start();
  struct Case {
    Bytes bytes;
    MqttDecodeError reason;
  };
  const Case cases[] = {
      {{0x30, 0x05, 0x00, 0x02, 'a', '#', 'x'}, MqttDecodeError::kBadTopic},
      {{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, MqttDecodeError::kBadRemainingLength},
      {{0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00}, MqttDecodeError::kBadPacketId},
      {{0x36, 0x03, 0x00, 0x01, 'a'}, MqttDecodeError::kBadFlags},
      {{0xb0, 0x02, 0x00, 0x01}, MqttDecodeError::kBadPacketType},   // UNSUBACK, never asked for
      {{0x90, 0x80, 0x80, 0x80, 0x01}, MqttDecodeError::kOversize},  // a 2 MiB SUBACK
  };
  for (const Case& k : cases) {
    ASSERT_TRUE(broker.accept_session());
    ASSERT_TRUE(eventually([&] { return (*sub)->connected(); }, kWaitMs));
    broker.send(k.bytes);
    EXPECT_TRUE(broker.closed_by_client(kWaitMs)) << mqtt_decode_error_name(k.reason);
    EXPECT_TRUE(eventually([&] { return (*sub)->protocol_errors(k.reason) == 1; }, kWaitMs))
        << mqtt_decode_error_name(k.reason);
  }
  EXPECT_EQ((*sub)->stats().protocol_errors, std::size(cases));
  EXPECT_EQ((*sub)->stats().connection_losses, std::size(cases));
  EXPECT_EQ(c.size(), 0u);
}

TEST(MqttSubscriberTest, KeepAlivePingsAndAMissingPingrespEndsTheConnection) {
  ScriptedBroker broker;
  Collector c;
  MqttSubscriberOptions o = options(broker.uri(), "keepalive");
  o.connection.keepalive_s = 1;
  auto sub = MqttSubscriber::create(o, c.handler(), nullptr);
  ASSERT_TRUE(sub.ok());
  (*sub)->start();
  ASSERT_TRUE(broker.accept_session());
  EXPECT_EQ(broker.read_packet(3000), Bytes({0xc0, 0x00}));
  broker.send({0xd0, 0x00});
  EXPECT_EQ(broker.read_packet(3000), Bytes({0xc0, 0x00}));  // answered, so it pings again
  // Unanswered: the connection is dropped and made again.
  EXPECT_TRUE(broker.closed_by_client(3000));
  ASSERT_TRUE(broker.accept_session());
  EXPECT_EQ((*sub)->stats().connection_losses, 1u);
  EXPECT_EQ((*sub)->stats().protocol_errors, 0u);
}

}  // namespace
}  // namespace edgesketch::net
