// edgesketch-sim over UDP: a loopback socket receives datagrams equal to the record.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "child_process.h"
#include "decoded_message.h"
#include "sim_fixtures.h"

namespace edgesketch::sim {
namespace {

// A UDP socket on 127.0.0.1:<ephemeral> drained by a thread into `datagrams`.
class UdpReceiver {
 public:
  UdpReceiver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int size = 8 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~UdpReceiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  // Stops receiving once no datagram arrived for `quiet_ms`, and returns them in arrival order.
  std::vector<std::string> collect(int quiet_ms) {
    std::size_t seen = 0;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(quiet_ms));
      if (count_.load() == seen) break;
      seen = count_.load();
    }
    stop_ = true;
    thread_.join();
    thread_ = std::thread([] {});
    return std::move(datagrams_);
  }

 private:
  void loop() {
    std::vector<char> buf(65536);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n < 0) continue;
      datagrams_.emplace_back(buf.data(), static_cast<std::size_t>(n));
      count_.fetch_add(1);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> count_{0};
  std::vector<std::string> datagrams_;  // owned by the receiving thread until collect()
  std::thread thread_;
};

void run_udp(PayloadFormat format) {
  UdpReceiver rx;
  const std::string record =
      test::temp_path(std::string("udp-") + std::string(payload_format_name(format)) + ".rec");
  test::ChildResult child = test::run_child(
      ES_SIM_BINARY,
      {"--devices", "6", "--duration", "15s", "--speed", "0", "--batch", "100", "--start-ms",
       "1700000000000", "--udp", "127.0.0.1:" + std::to_string(rx.port()), "--format",
       std::string(payload_format_name(format)), "--record", record, "--quiet"},
      30'000);
  ASSERT_EQ(child.exit_code, 0) << child.stderr_text;
  std::vector<std::string> datagrams = rx.collect(200);
  const bool with_seq = format != PayloadFormat::kLine;
  auto recorded = test::read_record_messages(record, with_seq);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(datagrams.size(), recorded->size());
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    auto d = test::decode_payload(format, datagrams[i]);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    if (!with_seq) d->batch_seq.reset();
    ASSERT_EQ(*d, (*recorded)[i]) << "datagram " << i;
  }
}

TEST(UdpIntegrationTest, DatagramsEqualTheRecordNanopb) { run_udp(PayloadFormat::kNanopb); }
TEST(UdpIntegrationTest, DatagramsEqualTheRecordLineProtocol) { run_udp(PayloadFormat::kLine); }

}  // namespace
}  // namespace edgesketch::sim
