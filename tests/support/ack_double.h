// AckDouble: a stand-in for the collector's ingest side, for agent tests.
//
//   AckDouble ack({.uri = broker.uri()});
//   ASSERT_TRUE(ack.start().ok());        // connected and subscribed
//   ... run a forwarder ...
//   ack.wait_for_batches(n, 10'000);
//
// It speaks the collector's ack protocol: a persistent-session subscription (clean_session =
// false) to <prefix>/+/+/windows at QoS 1; each message is decoded (es_wire, hostile-input
// rules), its gateway_id (and tenant, when set) checked against the topic, deduped by
// (gateway_id, seq), "committed" (merged into per-window totals in memory), and then
// acknowledged with an Ack{gateway_id, seqs: [seq]} at QoS 1 on <prefix>/<tenant>/<gateway>/ack,
// after ack_delay_ms, unless drop-acks mode is on. Duplicates are acked again (they are
// durable), but not committed again. A batch whose topic does not match is answered with a
// rejection (reason "unknown") and not committed; an undecodable payload is counted and not
// answered (its seq is unknown).
//
// Reconnects by itself (Paho's automatic reconnect, 1-2 s) and resubscribes after every
// connect, so it survives a broker restart. Thread-safe: every accessor and setter may be called
// from any thread; decoding and committing run on Paho's thread, acks go out from the double's
// own sender thread.
#pragma once

#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace mqtt {
class async_client;
}

namespace edgesketch::test_support {

struct AckDoubleOptions {
  std::string uri;
  std::string client_id = "edgesketch-ack-double";
  std::string topic_prefix = "edgesketch/v1";
  // Time between commit and ack.
  int ack_delay_ms = 0;
  // Commit but never ack (to make the agent resend).
  bool drop_acks = false;
  // Decoding bounds (clock bounds relative to the system clock).
  wire::Limits limits;
  int connect_timeout_ms = 5000;
};

// One series' window: everything committed for it, merged.
struct WindowKey {
  std::string tenant;
  std::string series;  // "metric{k=v,k=v}"
  std::int64_t window_start_ms = 0;
  std::uint32_t window_ms = 0;
  friend auto operator<=>(const WindowKey&, const WindowKey&) = default;
  friend bool operator==(const WindowKey&, const WindowKey&) = default;
};

struct CommittedWindow {
  sketch::WindowAggregate agg;  // count(), sum(), min(), max() and the merged sketches
  std::uint64_t records = 0;    // records merged into it
};

struct Arrival {
  std::string gateway_id;
  std::uint64_t seq = 0;
  std::int64_t steady_ms = 0;  // std::chrono::steady_clock, milliseconds
  bool duplicate = false;
};

class AckDouble {
 public:
  explicit AckDouble(AckDoubleOptions options);
  ~AckDouble();
  AckDouble(const AckDouble&) = delete;
  AckDouble& operator=(const AckDouble&) = delete;

  // Connects and subscribes (waits for the SUBACK); the committed state is kept across
  // stop()/start(). kUnavailable when the broker does not answer.
  Status start();
  // Disconnects; the broker keeps the session and queues windows for it. Acks not yet sent are
  // dropped (counted in acks_lost), as a crashing collector would lose them.
  Status stop();

  void set_drop_acks(bool on);
  void set_ack_delay_ms(int ms);

  std::uint64_t batches_committed() const;  // distinct (gateway_id, seq)
  std::uint64_t duplicates() const;
  std::uint64_t messages() const;  // every message received
  std::uint64_t bad_payloads() const;
  std::uint64_t topic_mismatches() const;
  std::uint64_t merge_errors() const;
  std::uint64_t acks_sent() const;
  std::uint64_t acks_dropped() const;  // not sent because of drop-acks mode
  std::uint64_t acks_lost() const;     // could not be sent (disconnected, stopped)
  std::uint64_t readings() const;      // sum of committed records' counts
  std::set<std::pair<std::string, std::uint64_t>> seqs() const;
  std::map<WindowKey, CommittedWindow> windows() const;
  std::vector<Arrival> arrivals() const;

  // Waits until batches_committed() >= n; false after timeout_ms.
  bool wait_for_batches(std::uint64_t n, int timeout_ms) const;

 private:
  struct PendingAck {
    std::int64_t due_ms = 0;  // steady
    std::string topic;
    Bytes payload;
  };

  void on_message(const std::string& topic, const std::string& payload);
  void queue_ack(const std::string& topic, const wire::Ack& ack);
  void sender_loop();
  void subscribe_async();

  const AckDoubleOptions options_;
  std::unique_ptr<mqtt::async_client> client_;
  std::thread sender_;

  mutable std::mutex mu_;  // guards everything below and the waits on cv_
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  bool drop_acks_ = false;
  int ack_delay_ms_ = 0;
  std::set<std::pair<std::string, std::uint64_t>> seen_;
  std::map<WindowKey, CommittedWindow> windows_;
  std::vector<Arrival> arrivals_;
  std::deque<PendingAck> pending_;
  std::uint64_t duplicates_ = 0, messages_ = 0, bad_payloads_ = 0, topic_mismatches_ = 0,
                merge_errors_ = 0, acks_sent_ = 0, acks_dropped_ = 0, acks_lost_ = 0, readings_ = 0;
};

// "metric{k=v,k=v}" for a series key.
std::string series_name(const wire::SeriesKey& key);

}  // namespace edgesketch::test_support
