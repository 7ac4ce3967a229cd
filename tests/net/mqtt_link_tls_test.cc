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
#include "edgesketch/testbed/mosquitto_broker.h"

namespace edgesketch::net {
namespace {

namespace fs = std::filesystem;

bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

class TlsBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("es-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::all);  // mosquitto may drop to its own user
    const std::string d = dir_.string();
    ASSERT_TRUE(
        run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=test CA' "
            "-keyout " +
            d + "/ca.key -out " + d + "/ca.crt"));
    ASSERT_TRUE(
        run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=other CA' "
            "-keyout " +
            d + "/other.key -out " + d + "/other.crt"));
    ASSERT_TRUE(run("openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout " + d +
                    "/broker.key -out " + d + "/broker.csr"));
    std::ofstream(d + "/san.ext") << "subjectAltName=IP:127.0.0.1\n";
    ASSERT_TRUE(run("openssl x509 -req -in " + d + "/broker.csr -CA " + d + "/ca.crt -CAkey " + d +
                    "/ca.key -CAcreateserial -days 2 -extfile " + d + "/san.ext -out " + d +
                    "/broker.crt"));
    ASSERT_TRUE(
        run("touch " + d + "/passwd && mosquitto_passwd -b " + d + "/passwd acme/gw-1 s3cret"));
    run("chmod a+r " + d + "/*");
    testbed::MosquittoOptions options;
    options.extra_config = "cafile " + d + "/ca.crt\ncertfile " + d + "/broker.crt\nkeyfile " + d +
                           "/broker.key\nallow_anonymous false\npassword_file " + d + "/passwd\n";
    broker_ = std::make_unique<testbed::MosquittoBroker>(options);
    ASSERT_TRUE(broker_->start().ok());
  }
  void TearDown() override {
    broker_.reset();
    fs::remove_all(dir_);
  }

  MqttLinkOptions link_options(const std::string& name) {
    MqttLinkOptions o;
    o.connection.uri = "ssl://127.0.0.1:" + std::to_string(broker_->port());
    o.connection.client_id = "tls-test-" + name;
    o.connection.username = "acme/gw-1";
    o.connection.ca_file = (dir_ / "ca.crt").string();
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

  fs::path dir_;
  std::unique_ptr<testbed::MosquittoBroker> broker_;
};

TEST_F(TlsBrokerTest, ConnectsWithCaAndPasswordAndDeliversMessages) {
  MqttLinkOptions o = link_options("ok");
  o.connection.password = "s3cret";
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
  wrong_ca.connection.password = "s3cret";
  wrong_ca.connection.ca_file = (dir_ / "other.crt").string();
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
  const std::string pw_file = (dir_ / "gw.pw").string();
  std::ofstream(pw_file) << "wrong\n";
  MqttLinkOptions o = link_options("pwfile");
  o.connection.password_file = pw_file;
  auto link = MqttLink::create(o, nullptr, nullptr);
  ASSERT_TRUE(link.ok());
  (*link)->start();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_FALSE((*link)->connected());
  std::ofstream(pw_file) << "s3cret\n";  // rotated: the next attempt uses it
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
