// Forwarder: ships outbox batches to the collector and deletes them on its application acks.
//
//   uplink broker  <-- WindowBatch, QoS 1: <prefix>/<tenant>/<gateway_id>/windows
//                  --> Ack, QoS 1:         <prefix>/<tenant>/<gateway_id>/ack
//   (fallback)     POST <http_url> with the WindowBatch body, bearer token; 200 = ack
//
// Rules:
// - A row is deleted only on the collector's application ack (an Ack naming its seq, or an
//   HTTP 200 for its POST), never on a broker's PUBACK. A rejection in an Ack deletes the row
//   and counts it as dropped (Outbox::reject).
// - In-flight window: at most max_in_flight batches published and not yet acked. A batch
//   unacked for ack_timeout_ms leaves the window and is handed out again by the outbox (whose
//   resend_after_ms must equal ack_timeout_ms: the app fills both from one config key). After
//   every (re)connect the forwarder calls Outbox::requeue_unacked() and resends everything
//   unacked at once. Resending is always safe: the collector dedupes by (gateway_id, seq).
// - Lanes: the live lane first, newest first, unpaced; the backlog lane (oldest first) at
//   most backlog_batches_per_s (token bucket, burst backlog_burst), with what room the live
//   lane leaves in the window.
// - The MQTT connection is a persistent session (clean_session = false, stable client id)
//   kept up by net::MqttLink (reconnects with exponential backoff and jitter).
// - HTTP fallback: when http_url is set and the broker has been unreachable for
//   http_fallback_after_ms, batches go out by POST, one at a time, at the same lane rules;
//   the MQTT link keeps reconnecting and takes over again as soon as it is up.
// - HTTP only: with http_url set and no broker (mqtt.uri empty) there is no MQTT link; batches
//   go out by POST from the start (state kHttp).
//
// Threads: the forwarder's own thread makes every Outbox call it makes (next_to_send, ack,
// reject, requeue_unacked); acks decoded on Paho's thread are handed to it through a small
// bounded queue (mutex `mu_`), so Paho's thread never waits on SQLite. The Outbox serialises
// callers itself, so the aggregator appends concurrently from its own thread and may call
// wake() afterwards so the batch leaves at once instead of at the next idle poll.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_link.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"
#include "forward/http_uplink.h"
#include "forward/token_bucket.h"
#include "outbox/outbox.h"

namespace edgesketch::agent {

enum class UplinkState : std::uint8_t {
  kDisconnected = 0,  // no broker and no HTTP fallback (not configured or not due yet)
  kConnected = 1,     // MQTT link up
  kHttp = 2,          // broker unreachable for http_fallback_after_ms; posting over HTTP
};

struct ForwarderOptions {
  // Topic levels; neither may be empty or contain '/', '+' or '#'.
  std::string tenant;
  std::string gateway_id;
  std::string topic_prefix = "edgesketch/v1";
  // The uplink connection: uri, client id (empty: "edgesketch-agent-<gateway_id>"),
  // credentials, TLS, reconnect backoff. The forwarder subscribes to its ack topic.
  net::MqttConnection mqtt;
  // Batches published and not yet acked, at most.
  std::size_t max_in_flight = 64;
  // A batch unacked this long is resent; must equal OutboxOptions::resend_after_ms.
  std::int64_t ack_timeout_ms = 30'000;
  // Backlog lane rate cap, batches per second; <= 0: no cap.
  double backlog_batches_per_s = 20;
  // Backlog batches that may go out at once after an idle spell (token bucket size).
  double backlog_burst = 5;
  // The outbox is polled this often when nothing wakes the thread (wake(), an ack, a
  // connection change).
  int idle_poll_ms = 200;
  // HTTP fallback; "" = off. "http://HOST:PORT" posts to /api/v1/ingest.
  std::string http_url;
  std::string http_token;
  std::int64_t http_fallback_after_ms = 60'000;
  int http_timeout_ms = 10'000;
  // Reconnect-style delays between failed POSTs.
  net::BackoffOptions http_backoff;
  // Acks waiting for the forwarder's thread, at most; more are dropped and counted (a lost ack
  // only causes a resend).
  std::size_t max_pending_acks = 10'000;
  // Bounds for decoding acks.
  wire::Limits limits;
};

struct ForwarderStats {
  UplinkState state = UplinkState::kDisconnected;
  std::uint64_t published = 0;          // MQTT publishes of batches, resends included
  std::uint64_t published_live = 0;     // of which from the live lane
  std::uint64_t published_backlog = 0;  // of which from the backlog lane
  std::uint64_t resent = 0;             // hand-outs of batches handed out before (any path)
  std::uint64_t acked = 0;              // batches deleted on an application ack (MQTT or HTTP)
  std::uint64_t rejected = 0;           // batches the collector rejected (deleted, counted)
  std::uint64_t in_flight = 0;          // in the MQTT window now
  std::int64_t last_ack_age_ms = -1;    // since the last ack; -1: none yet
  std::uint64_t ack_messages = 0;       // Ack messages received
  std::uint64_t bad_acks = 0;           // Ack payloads that did not decode
  std::uint64_t foreign_acks = 0;       // Acks naming another gateway
  std::uint64_t dropped_acks = 0;       // Acks dropped because the queue was full
  std::uint64_t repeat_acks = 0;        // acked seqs that were not outstanding (already acked)
  std::uint64_t publish_errors = 0;
  std::uint64_t outbox_errors = 0;
  bool outbox_failing = false;  // the last outbox call failed (a full disk, an I/O error)
  std::uint64_t http_posts = 0;
  std::uint64_t http_errors = 0;
  std::uint64_t reconnects = 0;  // MQTT connects after the first
  net::MqttLinkStats mqtt;
};

class Forwarder {
 public:
  // `outbox` is not owned and must outlive the forwarder; `clock` (nullptr = the system clock)
  // likewise. kInvalidArgument for bad options.
  static Result<std::unique_ptr<Forwarder>> create(ForwarderOptions options, Outbox* outbox,
                                                   const Clock* clock = nullptr);
  ~Forwarder();  // stop()
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Starts the MQTT link and the forwarder's thread.
  void start();
  // Stops the thread and the link. Bounded: the thread finishes the Outbox call or the HTTP
  // POST (http_timeout_ms) it is in, the link abandons a connect attempt within ~50 ms and
  // disconnects within mqtt.disconnect_timeout_ms. Idempotent.
  void stop();
  // Nudges the thread to look at the outbox now (after an append). Any thread.
  void wake();

  // Any thread.
  ForwarderStats stats() const;
  const std::string& ack_topic() const { return ack_topic_; }

 private:
  struct InFlight {
    std::int64_t sent_ns = 0;
    Lane lane = Lane::kLive;
  };

  Forwarder(ForwarderOptions options, Outbox* outbox, const Clock* clock);
  void on_ack_message(ByteSpan payload);  // Paho's thread
  void run();
  void process_acks();
  void expire_in_flight(std::int64_t now_ns);
  void send_round_mqtt(std::int64_t now_ns);
  void send_round_http(std::int64_t now_ns);
  // The next backlog batches to send: at most `room`, and no more than the backlog rate cap
  // allows at `now_ns` (their tokens are taken). nullopt when the cap allows none now or the
  // outbox failed (counted).
  std::optional<std::vector<OutboxBatch>> next_backlog(std::size_t room, std::int64_t now_ns);
  void note_handed_out(const OutboxBatch& b);
  void note_acked(std::uint64_t seq, std::int64_t now_ns);
  // The collector refused `seq` for good (an Ack rejection, or a 400/413/422 answer over HTTP):
  // deleted from the outbox, logged and counted.
  void drop_rejected(std::uint64_t seq, std::string_view reason);
  void outbox_error(const Status& s, std::string_view what);
  void outbox_ok() { outbox_failing_.store(false, std::memory_order_relaxed); }
  std::int64_t next_wait_ns(std::int64_t now_ns);

  const ForwarderOptions options_;
  Outbox* const outbox_;
  SystemClock system_clock_;
  const Clock* const clock_;
  std::string windows_topic_;
  std::string ack_topic_;
  std::unique_ptr<net::MqttLink> link_;
  std::unique_ptr<HttpUplink> http_;
  std::thread thread_;

  // Owned by the forwarder's thread.
  std::map<std::uint64_t, InFlight> in_flight_;
  std::set<std::uint64_t> outstanding_;  // published in this process, not yet acked
  TokenBucket backlog_bucket_;
  std::uint64_t seen_epoch_ = 0;
  std::int64_t down_since_ns_ = -1;  // when the MQTT link was last seen down; -1: it is up
  std::int64_t http_next_ns_ = 0;
  std::unique_ptr<net::Backoff> http_backoff_;
  std::int64_t last_error_log_ns_ = 0;

  mutable std::mutex mu_;  // guards pending_acks_ and woken_, and the wait on cv_
  std::condition_variable cv_;
  std::deque<wire::Ack> pending_acks_;
  bool woken_ = false;
  std::atomic<bool> stopping_{false};

  // Held by the forwarder's thread from an outbox delete (ack, reject) until the counters that
  // follow it are updated, and by stats() while it reads them: whoever sees a row gone from the
  // outbox and then calls stats() sees it counted (acked or rejected). Taken before the Outbox's
  // own mutex, never the other way round.
  mutable std::mutex stats_mu_;
  // Counters: written by the forwarder's thread (and Paho's for ack_messages, bad_acks,
  // foreign_acks, dropped_acks), read by stats().
  std::atomic<UplinkState> state_{UplinkState::kDisconnected};
  std::atomic<std::uint64_t> published_{0}, published_live_{0}, published_backlog_{0}, resent_{0},
      acked_{0}, rejected_{0}, in_flight_count_{0}, ack_messages_{0}, bad_acks_{0},
      foreign_acks_{0}, dropped_acks_{0}, repeat_acks_{0}, publish_errors_{0}, outbox_errors_{0},
      http_posts_{0}, http_errors_{0};
  std::atomic<std::int64_t> last_ack_ns_{-1};
  std::atomic<bool> outbox_failing_{false};
};

}  // namespace edgesketch::agent
