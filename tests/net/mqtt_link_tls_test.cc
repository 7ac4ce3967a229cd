// MqttLink over TLS with username and password against a real mosquitto on loopback: connects
// with the right CA and credentials, refuses a wrong CA or password, and re-reads a rotated
// password file at the next connect.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "edgesketch/net/mqtt_link.h"
#include "net/tls_broker.h"

namespace edgesketch::net {
namespace {

class TlsBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.start().ok()); }

  MqttLinkOptions link_options(const std::string& name) {
    MqttLinkOptions o;
    o.connection.uri = broker_.uri();
    o.connection.client_id = "tls-test-" + name;
    o.connection.username = kTlsUser;
    o.connection.ca_file = broker_.ca_file();
    o.connection.connect_timeout_ms = 3000;
    o.connection.backoff.min_ms = 100;
    o.connection.backoff.max_ms = 200;
    o.name = name;
    return o;
  }

  static bool wait_connected(const MqttLink& link, int ms) {
    for (int i = 0; i < ms / 20; ++i) {
      if (link.connected()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return link.connected();
  }

  TlsBroker broker_;
};

TEST_F(TlsBrokerTest, ConnectsWithCaAndPasswordAndDeliversMessages) {
  MqttLinkOptions o = link_options("ok");
  o.connection.password = kTlsPassword;
  o.subscriptions = {{"t/#", 1}};
  std::atomic<int> received{0};
  auto link = MqttLink::create(
      o,
      [&](const std::string& topic, ByteSpan p) {
        if (topic == "t/x" && p.size() == 5) received.fetch_add(1);
      },
      nullptr);
  ASSERT_TRUE(link.ok()) << link.status().to_string();
  (*link)->start();
  ASSERT_TRUE(wait_connected(**link, 10000));
  const std::string payload = "hello";
  ASSERT_TRUE(
      (*link)
          ->publish("t/x",
                    ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()),
                    1)
          .ok());
  for (int i = 0; i < 250 && received.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(received.load(), 1);
  (*link)->stop();
}

TEST_F(TlsBrokerTest, RefusesAnUnknownCaAndAWrongPassword) {
  MqttLinkOptions wrong_ca = link_options("wrong-ca");
  wrong_ca.connection.password = kTlsPassword;
  wrong_ca.connection.ca_file = broker_.other_ca_file();
  auto a = MqttLink::create(wrong_ca, nullptr, nullptr);
  ASSERT_TRUE(a.ok());
  (*a)->start();
  MqttLinkOptions wrong_pw = link_options("wrong-pw");
  wrong_pw.connection.password = "nope";
  auto b = MqttLink::create(wrong_pw, nullptr, nullptr);
  ASSERT_TRUE(b.ok());
  (*b)->start();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_FALSE((*a)->connected());
  EXPECT_FALSE((*b)->connected());
  EXPECT_GT((*a)->stats().connect_failures, 0u);
  EXPECT_GT((*b)->stats().connect_failures, 0u);
  (*a)->stop();
  (*b)->stop();
}

TEST_F(TlsBrokerTest, RereadsThePasswordFileAtEveryConnect) {
  const std::string pw_file = broker_.dir() + "/gw.pw";
  std::ofstream(pw_file) << "wrong\n";
  MqttLinkOptions o = link_options("pwfile");
  o.connection.password_file = pw_file;
  auto link = MqttLink::create(o, nullptr, nullptr);
  ASSERT_TRUE(link.ok());
  (*link)->start();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_FALSE((*link)->connected());
  std::ofstream(pw_file) << kTlsPassword << "\n";  // rotated: the next attempt uses it
  EXPECT_TRUE(wait_connected(**link, 10000));
  (*link)->stop();
}

TEST(MqttLinkOptionsTest, RejectsTlsFilesWithoutSslAndHalfAClientCertificate) {
  MqttLinkOptions o;
  o.connection.client_id = "x";
  o.connection.uri = "tcp://127.0.0.1:1";
  o.connection.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  EXPECT_FALSE(MqttLink::create(o, nullptr, nullptr).ok());
  o.connection.uri = "ssl://127.0.0.1:1";
  o.connection.cert_file = "/x.crt";
  EXPECT_FALSE(MqttLink::create(o, nullptr, nullptr).ok());
  o.connection.key_file = "/x.key";
  EXPECT_TRUE(MqttLink::create(o, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace edgesketch::net
