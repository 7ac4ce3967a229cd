// Forwarder against a real mosquitto and the ack double: delivery and deletion on application
// acks only, resends after the ack timeout with dedupe, a short broker outage, the backlog rate
// cap with live-first ordering, the HTTP fallback, and hostile acks.
#include "forward/forwarder.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <mqtt/async_client.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

#include "agent/forwarder_harness.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/wire/codec.h"
#include "support/fault_env.h"

namespace edgesketch::agent::testing {
namespace {

// The WindowBatch an HTTP uplink POSTed.
Result<wire::WindowBatch> decode_posted(const httplib::Request& req) {
  return wire::decode_window_batch(
      ByteSpan(reinterpret_cast<const std::uint8_t*>(req.body.data()), req.body.size()), {},
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

using edgesketch::testing::FaultEnv;
using test_support::AckDouble;
using test_support::AckDoubleOptions;
using testbed::MosquittoBroker;

class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.start().ok());
    AckDoubleOptions ao;
    ao.uri = broker_.uri();
    ao.client_id = "ack-double-" + std::to_string(::getpid());
    ack_ = std::make_unique<AckDouble>(ao);
    ASSERT_TRUE(ack_->start().ok());
  }

  void open(std::int64_t ack_timeout_ms, const std::function<void(ForwarderOptions&)>& tweak = {}) {
    auto ob = Outbox::open(outbox_options(dir_.file("outbox.db"), ack_timeout_ms));
    ASSERT_TRUE(ob.ok()) << ob.status().to_string();
    outbox_ = std::move(ob).value();
    ForwarderOptions fo = forwarder_options(broker_.uri(), ack_timeout_ms);
    if (tweak) tweak(fo);
    auto f = Forwarder::create(std::move(fo), outbox_.get());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    fwd_ = std::move(f).value();
  }

  std::uint64_t append(Lane lane = Lane::kLive) {
    auto seq = outbox_->append(maker_.make(next_++), 0, lane);
    EXPECT_TRUE(seq.ok()) << seq.status().to_string();
    if (fwd_) fwd_->wake();
    return seq.ok() ? *seq : 0;
  }

  TempDir dir_;
  MosquittoBroker broker_;
  std::unique_ptr<AckDouble> ack_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Forwarder> fwd_;
  BatchMaker maker_;
  int next_ = 0;
};

TEST_F(ForwarderTest, BatchesArriveAndAreDeletedOnlyAfterAcks) {
  open(30'000);
  ack_->set_ack_delay_ms(1500);
  for (int i = 0; i < 20; ++i) append();
  fwd_->start();
  ASSERT_TRUE(ack_->wait_for_batches(20, 10'000));
  // Committed, PUBACKed, but not yet acked: still in the outbox.
  EXPECT_GT(outbox_rows(*outbox_), 0u);
  ASSERT_TRUE(eventually([&] { return outbox_rows(*outbox_) == 0; }, 10'000));
  EXPECT_EQ(ack_->duplicates(), 0u);
  EXPECT_EQ(compare_windows(maker_.expected(), ack_->windows()), "");
  ForwarderStats s = fwd_->stats();
  EXPECT_EQ(s.state, UplinkState::kConnected);
  EXPECT_EQ(s.published, 20u);
  EXPECT_EQ(s.acked, 20u);
  EXPECT_EQ(s.resent, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_GE(s.last_ack_age_ms, 0);
}

TEST_F(ForwarderTest, UnackedBatchesAreResentAfterTheTimeoutAndDeduped) {
  open(1000);
  ack_->set_drop_acks(true);
  for (int i = 0; i < 5; ++i) append();
  fwd_->start();
  ASSERT_TRUE(ack_->wait_for_batches(5, 10'000));
  ASSERT_TRUE(eventually([&] { return ack_->duplicates() >= 5; }, 10'000));
  EXPECT_EQ(outbox_rows(*outbox_), 5u);
  EXPECT_GE(fwd_->stats().resent, 5u);
  ack_->set_drop_acks(false);
  ASSERT_TRUE(eventually([&] { return outbox_rows(*outbox_) == 0; }, 10'000));
  EXPECT_EQ(ack_->batches_committed(), 5u);
  EXPECT_EQ(compare_windows(maker_.expected(), ack_->windows()), "");
  EXPECT_EQ(fwd_->stats().acked, 5u);
}

TEST_F(ForwarderTest, InFlightWindowIsBounded) {
  open(4000, [](ForwarderOptions& o) { o.max_in_flight = 3; });
  ack_->set_drop_acks(true);
  for (int i = 0; i < 10; ++i) append();
  fwd_->start();
  ASSERT_TRUE(ack_->wait_for_batches(3, 10'000));
  // Well inside the 4 s ack timeout: nothing more goes out while the window is full.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(ack_->batches_committed(), 3u);
  EXPECT_EQ(fwd_->stats().in_flight, 3u);
  ack_->set_drop_acks(false);
  ASSERT_TRUE(eventually([&] { return outbox_rows(*outbox_) == 0; }, 30'000));
  EXPECT_EQ(ack_->batches_committed(), 10u);
  EXPECT_EQ(compare_windows(maker_.expected(), ack_->windows()), "");
}

// The outbox cannot write while acks arrive (a full disk, a failing one): the ack deletes fail,
// the rows stay, the forwarder says so (outbox_failing, outbox_errors); once the disk works the
// batches are handed out again after the ack timeout, the collector dedupes them and acks again,
// and every batch is committed exactly once. The parameter is the errno: SQLite sees ENOSPC as
// SQLITE_FULL, EIO as SQLITE_IOERR_WRITE.
class ForwarderAckFaultTest : public ForwarderTest, public ::testing::WithParamInterface<int> {};

TEST_P(ForwarderAckFaultTest, FailedAckDeletesAreRetriedLosingAndDoublingNothing) {
  FaultEnv fenv;
  OutboxOptions oo = outbox_options(dir_.file("outbox.db"), 1000);
  oo.env = &fenv;
  auto ob = Outbox::open(oo);
  ASSERT_TRUE(ob.ok()) << ob.status().to_string();
  outbox_ = std::move(ob).value();
  auto f = Forwarder::create(forwarder_options(broker_.uri(), 1000), outbox_.get());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  fwd_ = std::move(f).value();
  for (int i = 0; i < 5; ++i) append();
  ack_->set_ack_delay_ms(1500);
  fwd_->start();
  ASSERT_TRUE(ack_->wait_for_batches(5, 10'000));
  // Handed out and committed; the disk fails before the acks come.
  fenv.fail(FaultEnv::Op::kWrite, "outbox.db", GetParam());
  fenv.fail(FaultEnv::Op::kTruncate, "outbox.db", GetParam());
  ASSERT_TRUE(eventually(
      [&] {
        const ForwarderStats st = fwd_->stats();
        return st.outbox_failing && st.outbox_errors > 0 && ack_->acks_sent() >= 5;
      },
      10'000));
  EXPECT_EQ(fwd_->stats().acked, 0u);
  fenv.heal();
  ack_->set_ack_delay_ms(0);
  ASSERT_TRUE(eventually([&] { return outbox_rows(*outbox_) == 0; }, 15'000));
  EXPECT_FALSE(fwd_->stats().outbox_failing);
  EXPECT_EQ(fwd_->stats().acked, 5u);
  EXPECT_EQ(ack_->batches_committed(), 5u);
  EXPECT_EQ(compare_windows(maker_.expected(), ack_->windows()), "");
  fwd_->stop();
  fwd_.reset();
  outbox_.reset();  // closed before the Env and its VFS go
}

INSTANTIATE_TEST_SUITE_P(DiskFaults, ForwarderAckFaultTest, ::testing::Values(ENOSPC, EIO),
                         [](const auto& info) {
                           return std::string(info.param == ENOSPC ? "ENOSPC" : "EIO");
                         });

// The outage scenario brings its own broker and ack double (forwarder_harness.cc).
TEST(ForwarderOutageShortTest, BrokerDownThreeSecondsLosesNothing) { run_outage_scenario(3); }

TEST_F(ForwarderTest, BacklogIsRateCappedAndLiveGoesFirst) {
  constexpr double kRate = 5;
  constexpr int kBacklog = 20;
  open(30'000, [&](ForwarderOptions& o) {
    o.backlog_batches_per_s = kRate;
    o.backlog_burst = 2;
  });
  for (int i = 0; i < kBacklog; ++i) append(Lane::kBacklog);
  fwd_->start();
  ASSERT_TRUE(ack_->wait_for_batches(4, 10'000));
  std::uint64_t live_seq = append(Lane::kLive);
  ASSERT_TRUE(eventually([&] { return outbox_rows(*outbox_) == 0; }, 20'000));
  std::vector<test_support::Arrival> arrivals = ack_->arrivals();
  ASSERT_EQ(arrivals.size(), static_cast<std::size_t>(kBacklog + 1));
  // Oldest first, and the live batch overtakes the rest of the backlog.
  std::vector<std::uint64_t> order;
  for (const auto& a : arrivals) order.push_back(a.seq);
  auto live_pos = std::find(order.begin(), order.end(), live_seq) - order.begin();
  EXPECT_LT(live_pos, kBacklog - 3) << "live batch arrived at position " << live_pos;
  std::vector<std::uint64_t> backlog_order;
  for (std::uint64_t s : order) {
    if (s != live_seq) backlog_order.push_back(s);
  }
  EXPECT_TRUE(std::is_sorted(backlog_order.begin(), backlog_order.end()));
  // 20 batches with a burst of 2 at 5/s take at least (20 - 2) / 5 = 3.6 s.
  std::int64_t first = arrivals.front().steady_ms;
  std::int64_t last_backlog = 0;
  for (const auto& a : arrivals) {
    if (a.seq != live_seq) last_backlog = std::max(last_backlog, a.steady_ms);
  }
  EXPECT_GE(last_backlog - first, static_cast<std::int64_t>((kBacklog - 2) / kRate * 1000 * 0.85));
  // ... and not much more: the cap paces, it does not stall.
  EXPECT_LE(last_backlog - first, static_cast<std::int64_t>(kBacklog / kRate * 1000 * 2));
  ForwarderStats s = fwd_->stats();
  EXPECT_EQ(s.published_backlog, static_cast<std::uint64_t>(kBacklog));
  EXPECT_EQ(s.published_live, 1u);
}

TEST_F(ForwarderTest, HostileAcksAreCountedAndIgnored) {
  open(30'000);
  fwd_->start();
  ASSERT_TRUE(eventually([&] { return fwd_->stats().state == UplinkState::kConnected; }, 10'000));
  mqtt::async_client pub(broker_.uri(), "hostile-" + std::to_string(::getpid()), nullptr);
  pub.connect()->wait();
  pub.publish(fwd_->ack_topic(), std::string("\xff\xff\xff garbage"), 1, false)->wait();
  wire::Ack foreign;
  foreign.gateway_id = "someone-else";
  foreign.seqs = {1};
  Bytes fb = wire::encode_ack(foreign);
  pub.publish(mqtt::make_message(fwd_->ack_topic(), fb.data(), fb.size(), 1, false))->wait();
  pub.disconnect()->wait();
  append();
  ASSERT_TRUE(eventually([&] { return outbox_rows(*outbox_) == 0; }, 10'000));
  ForwarderStats s = fwd_->stats();
  EXPECT_EQ(s.bad_acks, 1u);
  EXPECT_EQ(s.foreign_acks, 1u);
  EXPECT_EQ(s.acked, 1u);
}

TEST_F(ForwarderTest, RejectedBatchesAreDroppedAndCounted) {
  open(30'000);
  wire::WindowBatch wrong = maker_.make(next_++);
  wrong.tenant = "someone-else";  // does not match the topic's tenant: the double rejects it
  ASSERT_TRUE(outbox_->append(wrong, 0).ok());
  append();
  fwd_->start();
  // The forwarder counts a rejection right after the outbox deleted the row: wait for both.
  ASSERT_TRUE(eventually(
      [&] {
        const ForwarderStats st = fwd_->stats();
        return outbox_rows(*outbox_) == 0 && st.rejected + st.acked == 2;
      },
      10'000));
  EXPECT_EQ(ack_->topic_mismatches(), 1u);
  EXPECT_EQ(ack_->batches_committed(), 1u);
  ForwarderStats s = fwd_->stats();
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.acked, 1u);
  auto os = outbox_->stats();
  ASSERT_TRUE(os.ok());
  EXPECT_EQ(os->dropped[static_cast<int>(DropReason::kRejected)].batches, 1u);
}

TEST(ForwarderHttpTest, FallsBackToHttpWhenTheBrokerIsUnreachable) {
  TempDir dir;
  httplib::Server server;
  std::mutex mu;
  std::set<std::uint64_t> received;
  std::atomic<int> unauthorized{0};
  std::atomic<int> fail_first{2};  // the first two POSTs get a 503: retried, not acked
  server.Post("/api/v1/ingest", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer s3cret") {
      ++unauthorized;
      res.status = 401;
      return;
    }
    if (fail_first.fetch_sub(1) > 0) {
      res.status = 503;
      return;
    }
    auto b = decode_posted(req);
    if (!b.ok() || b->seq == 4) {  // batch 4 stands for one the collector refuses for good
      res.status = 400;
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    received.insert(b->seq);
    res.status = 200;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread http_thread([&] { server.listen_after_bind(); });

  auto free_port = testbed::pick_free_loopback_port();  // nothing listens there
  ASSERT_TRUE(free_port.ok());
  auto outbox = Outbox::open(outbox_options(dir.file("outbox.db"), 30'000));
  ASSERT_TRUE(outbox.ok());
  ForwarderOptions fo = forwarder_options("tcp://127.0.0.1:" + std::to_string(*free_port), 30'000);
  fo.http_url = "http://127.0.0.1:" + std::to_string(port);
  fo.http_token = "s3cret";
  fo.http_fallback_after_ms = 500;
  fo.http_timeout_ms = 2000;
  fo.http_backoff.min_ms = 100;
  fo.http_backoff.max_ms = 200;
  fo.http_backoff.seed = 7;
  auto fwd = Forwarder::create(std::move(fo), outbox->get());
  ASSERT_TRUE(fwd.ok()) << fwd.status().to_string();
  BatchMaker maker;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*outbox)->append(maker.make(i), 0).ok());
  (*fwd)->start();
  EXPECT_TRUE(eventually(
      [&] {
        const ForwarderStats st = (*fwd)->stats();  // counted right after the outbox deletes
        return outbox_rows(**outbox) == 0 && st.acked + st.rejected == 10;
      },
      15'000));
  ForwarderStats s = (*fwd)->stats();
  EXPECT_EQ(s.state, UplinkState::kHttp);
  EXPECT_EQ(s.acked, 9u);
  EXPECT_EQ(s.rejected, 1u);  // the 400: dropped and counted, not retried forever
  EXPECT_EQ(s.http_errors, 2u);
  EXPECT_EQ(unauthorized.load(), 0);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(received.size(), 9u);
    EXPECT_EQ(received.count(4), 0u);
  }
  auto t0 = std::chrono::steady_clock::now();
  (*fwd)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  fwd->reset();  // closes curl's keep-alive connection, so the server's worker ends at once
  server.stop();
  http_thread.join();
}

// With an HTTP url and no broker there is no MQTT link: batches go out by POST from the start,
// without waiting for a fallback delay.
TEST(ForwarderHttpTest, HttpOnlyNeedsNoBroker) {
  TempDir dir;
  httplib::Server server;
  std::mutex mu;
  std::set<std::uint64_t> received;
  server.Post("/api/v1/ingest", [&](const httplib::Request& req, httplib::Response& res) {
    auto b = decode_posted(req);
    if (!b.ok()) {
      res.status = 400;
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    received.insert(b->seq);
    res.status = 200;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread http_thread([&] { server.listen_after_bind(); });

  auto outbox = Outbox::open(outbox_options(dir.file("outbox.db"), 30'000));
  ASSERT_TRUE(outbox.ok());
  ForwarderOptions fo = forwarder_options("", 30'000);
  fo.http_url = "http://127.0.0.1:" + std::to_string(port);
  fo.http_fallback_after_ms = 3'600'000;  // never reached: there is no broker to wait for
  auto fwd = Forwarder::create(std::move(fo), outbox->get());
  ASSERT_TRUE(fwd.ok()) << fwd.status().to_string();
  BatchMaker maker;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*outbox)->append(maker.make(i), 0).ok());
  (*fwd)->start();
  EXPECT_TRUE(eventually(
      [&] {
        const ForwarderStats st = (*fwd)->stats();
        return outbox_rows(**outbox) == 0 && st.acked == 5;
      },
      15'000));
  const ForwarderStats s = (*fwd)->stats();
  EXPECT_EQ(s.state, UplinkState::kHttp);
  EXPECT_EQ(s.published, 0u);
  EXPECT_EQ(s.mqtt.connects + s.mqtt.connect_failures, 0u);  // no link at all
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(received.size(), 5u);
  }
  (*fwd)->stop();
  fwd->reset();
  server.stop();
  http_thread.join();
}

TEST(ForwarderOptionsTest, RejectsBadOptions) {
  TempDir dir;
  auto outbox = Outbox::open(outbox_options(dir.file("outbox.db"), 30'000));
  ASSERT_TRUE(outbox.ok());
  ForwarderOptions o = forwarder_options("tcp://127.0.0.1:1", 30'000);
  o.tenant = "a/b";
  EXPECT_EQ(Forwarder::create(o, outbox->get()).status().code(), StatusCode::kInvalidArgument);
  o = forwarder_options("tcp://127.0.0.1:1", 30'000);
  o.gateway_id = "";
  EXPECT_EQ(Forwarder::create(o, outbox->get()).status().code(), StatusCode::kInvalidArgument);
  o = forwarder_options("", 30'000);  // neither a broker nor an HTTP url
  EXPECT_EQ(Forwarder::create(o, outbox->get()).status().code(), StatusCode::kInvalidArgument);
  o = forwarder_options("tcp://127.0.0.1:1", 30'000);
  o.max_in_flight = 0;
  EXPECT_EQ(Forwarder::create(o, outbox->get()).status().code(), StatusCode::kInvalidArgument);
  o = forwarder_options("bogus", 30'000);
  EXPECT_EQ(Forwarder::create(o, outbox->get()).status().code(), StatusCode::kInvalidArgument);
  o = forwarder_options("tcp://127.0.0.1:1", 30'000);
  o.http_url = "ftp://x";
  EXPECT_EQ(Forwarder::create(o, outbox->get()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(with_default_ingest_path("http://h:1"), "http://h:1/api/v1/ingest");
  EXPECT_EQ(with_default_ingest_path("http://h:1/"), "http://h:1/api/v1/ingest");
  EXPECT_EQ(with_default_ingest_path("http://h:1/x/y"), "http://h:1/x/y");
}

}  // namespace
}  // namespace edgesketch::agent::testing
