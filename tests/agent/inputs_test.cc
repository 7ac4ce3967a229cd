// The input transports against real sockets: MQTT input on a real mosquitto (messages from
// mosquitto_pub and from a Paho publisher, persistent session across a stop/start, reconnect
// after a broker restart, blocking sink as backpressure, counted sink refusals and exceptions);
// UDP input on a loopback socket (datagrams, oversize, bounded stop).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mqtt/async_client.h>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/testbed/mosquitto_broker.h"
#include "input/mqtt_input.h"
#include "input/udp_input.h"
#include "support/eventually.h"

namespace edgesketch::agent {
namespace {

using test_support::eventually;
using testbed::MosquittoBroker;

// Time for a broker round trip or a reconnect.
constexpr int kWaitMs = 10'000;

// Collects what the sink is given.
struct Collector {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;

  InputSink sink() {
    return [this](std::string_view topic, ByteSpan payload, bool) {
      std::lock_guard<std::mutex> lock(mu);
      got.emplace_back(std::string(topic),
                       std::string(reinterpret_cast<const char*>(payload.data()), payload.size()));
      return true;
    };
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
};

MqttInputOptions input_options(const MosquittoBroker& broker, const std::string& id) {
  MqttInputOptions o;
  o.connection.uri = broker.uri();
  o.connection.client_id = id + "-" + std::to_string(::getpid());
  o.topics = {"devices/+/readings"};
  o.qos = 1;
  o.connection.backoff.min_ms = 200;
  o.connection.backoff.max_ms = 1000;
  o.connection.backoff.seed = 3;
  return o;
}

class Publisher {
 public:
  explicit Publisher(const std::string& uri)
      : client_(uri, "publisher-" + std::to_string(::getpid()), nullptr) {
    client_.connect()->wait();
  }
  ~Publisher() {
    try {
      client_.disconnect()->wait();
    } catch (const std::exception&) {
    }
  }
  void publish(const std::string& topic, const std::string& payload) {
    client_.publish(topic, payload.data(), payload.size(), 1, false)->wait();
  }

 private:
  mqtt::async_client client_;
};

int mosquitto_pub(const MosquittoBroker& broker, const std::string& topic,
                  const std::string& message) {
  std::string cmd = "mosquitto_pub -h 127.0.0.1 -p " + std::to_string(broker.port()) +
                    " -q 1 -t '" + topic + "' -m '" + message + "'";
  return std::system(cmd.c_str());
}

TEST(MqttInputTest, ReceivesFromMosquittoPubAndPaho) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  Collector c;
  auto in = MqttInput::create(input_options(broker, "input-a"), c.sink());
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  (*in)->start();
  ASSERT_TRUE(eventually([&] { return (*in)->stats().connected; }, kWaitMs));
  ASSERT_EQ(mosquitto_pub(broker, "devices/d1/readings", "hello"), 0);
  Publisher pub(broker.uri());
  std::string binary("\x00\x01\x02\xff", 4);
  pub.publish("devices/d2/readings", binary);
  pub.publish("other/topic", "not subscribed");
  ASSERT_TRUE(eventually([&] { return c.size() >= 2; }, kWaitMs));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::lock_guard<std::mutex> lock(c.mu);
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_EQ(c.got[0], std::make_pair(std::string("devices/d1/readings"), std::string("hello")));
  EXPECT_EQ(c.got[1], std::make_pair(std::string("devices/d2/readings"), binary));
  MqttInputStats s = (*in)->stats();
  EXPECT_EQ(s.received, 2u);
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.bytes, 9u);
}

TEST(MqttInputTest, PersistentSessionKeepsMessagesWhileStopped) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  Collector c;
  MqttInputOptions o = input_options(broker, "input-b");
  auto in = MqttInput::create(o, c.sink());
  ASSERT_TRUE(in.ok());
  (*in)->start();
  ASSERT_TRUE(eventually([&] { return (*in)->stats().connected; }, kWaitMs));
  (*in)->stop();
  Publisher pub(broker.uri());
  for (int i = 0; i < 5; ++i) pub.publish("devices/d1/readings", "m" + std::to_string(i));
  (*in)->start();
  ASSERT_TRUE(eventually([&] { return c.size() == 5; }, kWaitMs));
  std::lock_guard<std::mutex> lock(c.mu);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.got[i].second, "m" + std::to_string(i));
}

TEST(MqttInputTest, ReconnectsAndResubscribesAfterABrokerRestart) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  Collector c;
  auto in = MqttInput::create(input_options(broker, "input-c"), c.sink());
  ASSERT_TRUE(in.ok());
  (*in)->start();
  ASSERT_TRUE(eventually([&] { return (*in)->stats().connected; }, kWaitMs));
  ASSERT_TRUE(broker.stop().ok());
  ASSERT_TRUE(eventually([&] { return !(*in)->stats().connected; }, kWaitMs));
  ASSERT_TRUE(broker.start().ok());  // no persistence: the broker forgot the subscription
  ASSERT_TRUE(eventually([&] { return (*in)->stats().connected; }, kWaitMs));
  Publisher pub(broker.uri());
  pub.publish("devices/d9/readings", "after restart");
  ASSERT_TRUE(eventually([&] { return c.size() == 1; }, kWaitMs));
  EXPECT_GE((*in)->stats().link.connects, 2u);
}

TEST(MqttInputTest, BlockingSinkIsBackpressureAndRefusalsAreCounted) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  int calls = 0;
  std::vector<std::string> order;
  auto sink = [&](std::string_view, ByteSpan payload, bool) -> bool {
    std::string p(reinterpret_cast<const char*>(payload.data()), payload.size());
    std::unique_lock<std::mutex> lock(mu);
    ++calls;
    order.push_back(p);
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
    if (p == "throw") throw std::runtime_error("sink failure");
    return p != "refuse";
  };
  auto in = MqttInput::create(input_options(broker, "input-d"), sink);
  ASSERT_TRUE(in.ok());
  (*in)->start();
  ASSERT_TRUE(eventually([&] { return (*in)->stats().connected; }, kWaitMs));
  // Published from other processes: Paho C runs one receive thread for every client of a
  // process, so a Paho publisher here would wait for its PUBACKs behind the blocked sink.
  for (const char* m : {"a", "refuse", "throw", "b"}) {
    ASSERT_EQ(mosquitto_pub(broker, "devices/d1/readings", m), 0);
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return calls >= 1; }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(calls, 1);  // Paho delivers nothing more while the sink blocks
    released = true;
  }
  cv.notify_all();
  ASSERT_TRUE(eventually([&] { return (*in)->stats().received == 4; }, kWaitMs));
  ASSERT_TRUE(eventually(
      [&] {
        MqttInputStats s = (*in)->stats();
        return s.accepted + s.rejected + s.sink_exceptions == 4;
      },
      kWaitMs));
  MqttInputStats s = (*in)->stats();
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.sink_exceptions, 1u);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "refuse", "throw", "b"}));
}

TEST(MqttInputTest, RejectsBadOptions) {
  InputSink sink = [](std::string_view, ByteSpan, bool) { return true; };
  MqttInputOptions o;
  o.topics = {};
  EXPECT_EQ(MqttInput::create(o, sink).status().code(), StatusCode::kInvalidArgument);
  o = MqttInputOptions{};
  o.qos = 2;
  EXPECT_EQ(MqttInput::create(o, sink).status().code(), StatusCode::kInvalidArgument);
  o = MqttInputOptions{};
  o.connection.client_id = "";
  EXPECT_EQ(MqttInput::create(o, sink).status().code(), StatusCode::kInvalidArgument);
  o = MqttInputOptions{};
  EXPECT_EQ(MqttInput::create(o, nullptr).status().code(), StatusCode::kInvalidArgument);
}

void send_udp(int port, const std::string& payload) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                     sizeof addr),
            static_cast<ssize_t>(payload.size()));
  ::close(fd);
}

TEST(UdpInputTest, ReceivesDatagramsAndCountsOversize) {
  Collector c;
  UdpInputOptions o;
  o.max_datagram_bytes = 100;
  o.receive_buffer_bytes = 1 << 20;
  auto in = UdpInput::create(o, c.sink());
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  ASSERT_GT((*in)->port(), 0);
  (*in)->start();
  for (int i = 0; i < 50; ++i) send_udp((*in)->port(), "datagram " + std::to_string(i));
  send_udp((*in)->port(), std::string(200, 'x'));
  send_udp((*in)->port(), std::string(100, 'y'));  // exactly the limit: accepted
  ASSERT_TRUE(eventually([&] { return (*in)->stats().received == 52; }, kWaitMs));
  UdpInputStats s = (*in)->stats();
  EXPECT_EQ(s.oversize, 1u);
  EXPECT_EQ(s.accepted, 51u);
  EXPECT_EQ(s.errors, 0u);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    ASSERT_EQ(c.got.size(), 51u);
    EXPECT_EQ(c.got[0].second, "datagram 0");
    EXPECT_EQ(c.got[0].first.rfind("udp://127.0.0.1:", 0), 0u);
    EXPECT_EQ(c.got[50].second, std::string(100, 'y'));
  }
  auto t0 = std::chrono::steady_clock::now();
  (*in)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

// A burst the socket cannot hold while nobody reads it: what the kernel dropped is counted
// (SO_RXQ_OVFL, reported with the first datagram queued after the drops), so what was sent
// equals what was read plus what was dropped, exactly.
TEST(UdpInputTest, CountsWhatTheKernelDropsAtTheSocket) {
  Collector c;
  UdpInputOptions o;
  o.receive_buffer_bytes = 4096;  // the kernel grants its minimum, a few datagrams
  auto in = UdpInput::create(o, c.sink());
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  EXPECT_GT((*in)->receive_buffer_effective(), 0);
  const int burst = 2000;
  for (int i = 0; i < burst; ++i) send_udp((*in)->port(), std::string(500, 'b'));
  (*in)->start();
  ASSERT_TRUE(eventually([&] { return (*in)->stats().received > 0; }, kWaitMs));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the queued ones are read
  EXPECT_EQ((*in)->stats().socket_drops, 0u);  // none of them was queued after a drop
  send_udp((*in)->port(), "after the burst");
  ASSERT_TRUE(eventually(
      [&] {
        const UdpInputStats s = (*in)->stats();
        return s.received + s.socket_drops == static_cast<std::uint64_t>(burst) + 1;
      },
      kWaitMs))
      << (*in)->stats().received << " read, " << (*in)->stats().socket_drops << " dropped";
  const UdpInputStats s = (*in)->stats();
  EXPECT_GT(s.socket_drops, 0u);
  EXPECT_LT(s.received, static_cast<std::uint64_t>(burst));
  EXPECT_EQ(s.accepted, s.received);
  (*in)->stop();
}

TEST(UdpInputTest, RejectsBadOptions) {
  InputSink sink = [](std::string_view, ByteSpan, bool) { return true; };
  UdpInputOptions o;
  o.bind_address = "not-an-address";
  EXPECT_EQ(UdpInput::create(o, sink).status().code(), StatusCode::kInvalidArgument);
  o = UdpInputOptions{};
  o.max_datagram_bytes = 0;
  EXPECT_EQ(UdpInput::create(o, sink).status().code(), StatusCode::kInvalidArgument);
  // A port already bound: an I/O error naming it.
  auto first = UdpInput::create(UdpInputOptions{}, sink);
  ASSERT_TRUE(first.ok());
  o = UdpInputOptions{};
  o.port = (*first)->port();
  auto second = UdpInput::create(o, sink);
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace edgesketch::agent
