// IngestService: the collector's write path from the transport to the store and back.
//
//   MQTT message on <prefix>/<tenant>/<gateway_id>/windows
//     → topic check → decode + validate (limits) → gateway/tenant checks against the topic
//     → BatchSink::submit (the embedded store: dedupe, WAL append, memtable; or ClickHouse)
//     → pending-ack queue
//   ack thread: BatchSink::wait_durable(newest lsn) → one Ack per (tenant, gateway) on
//     <prefix>/<tenant>/<gateway_id>/ack, listing durable seqs and permanent rejections.
//
// So acks are published only after the WAL fsync, and many batches share one fsync. A duplicate
// (gateway_id, seq) is acked again (after every batch before it in the queue is durable, which
// covers the case of its original still waiting for its fsync). Rejections that will never
// succeed (malformed records, limits, clock bounds, a gateway_id that is not the topic's) are
// acked as rejected so the agent stops resending and counts them; failures that may pass later
// (a full disk, I/O errors, a stalled store) are not acked, and the agent resends; they are
// counted in edgesketch_collector_ingest_deferred_total, never as rejections. A payload that
// cannot be decoded at all cannot name its seq: it is counted and logged (rate-limited) only.
//
// ingest_http() is the same path for POST /api/v1/ingest; it returns once the batch is durable.
//
// Thread safety: on_message() runs on the MQTT receive thread; ingest_http() on HTTP threads;
// both may run concurrently (the store serializes its writers).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/daemon/metrics.h"
#include "edgesketch/wire/types.h"
#include "ingest/batch_sink.h"

namespace edgesketch::collector {

struct IngestOptions {
  // Topics are <topic_prefix>/<tenant>/<gateway_id>/windows and .../ack.
  std::string topic_prefix = "edgesketch/v1";
  // The configured tenants: a batch for any other is rejected (unknown_tenant). Empty: any.
  std::set<std::string> tenants;
  // The configured gateways as (tenant, gateway_id). When not empty, an MQTT batch from a
  // gateway not listed for its tenant is rejected (unknown_gateway).
  std::set<std::pair<std::string, std::string>> gateways;
};

// What the transport offers the service: publish `payload` on `topic` at QoS 1.
using PublishFn = std::function<Status(const std::string& topic, ByteSpan payload)>;

// Tenant and gateway of "<prefix>/<tenant>/<gateway_id>/windows"; InvalidArgument otherwise.
Result<std::pair<std::string, std::string>> parse_windows_topic(std::string_view prefix,
                                                                std::string_view topic);

class IngestService {
 public:
  // `sink` must outlive the service.
  IngestService(BatchSink& sink, IngestOptions options, PublishFn publish,
                daemon::MetricsRegistry& metrics, const Clock* clock = nullptr);
  ~IngestService();  // stop()
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  // Starts the ack thread.
  void start();
  // Acks what is durable and joins the ack thread. Idempotent.
  void stop();

  // One MQTT message. Never throws; every outcome is counted.
  void on_message(const std::string& topic, ByteSpan payload);

  // POST /api/v1/ingest with the token of gateway `gateway` of `tenant`. OK once the batch is
  // durable (also for a duplicate); PermissionDenied when the batch names another gateway;
  // InvalidArgument/OutOfRange/ResourceExhausted for a batch that will never be stored (the
  // message names the reason); Unavailable/IoError for a failure that may pass (the client
  // retries).
  Status ingest_http(std::string_view tenant, std::string_view gateway, ByteSpan body);

  // Replaces IngestOptions::gateways (the collector's SIGHUP); thread-safe.
  void set_gateways(std::set<std::pair<std::string, std::string>> gateways);

  // Called after each batch is applied (for query cache invalidation): tenant and the time
  // range [start_ms, end_ms) its records cover.
  void set_on_applied(std::function<void(const std::string&, std::int64_t, std::int64_t)> fn) {
    on_applied_ = std::move(fn);
  }

 private:
  struct Pending {
    std::string tenant;
    std::string gateway_id;
    std::uint64_t seq = 0;
    std::uint64_t lsn = 0;      // 0: nothing to wait for
    std::string reject_reason;  // non-empty: a permanent rejection
  };
  struct Decoded;
  Result<Decoded> decode(std::string_view tenant, std::string_view gateway, ByteSpan payload);
  void reject(const std::string& reason);
  // Counts and logs (rate-limited) a batch that is not stored: deferred when `status` is a
  // temporary fault (not acked; the agent resends), else rejected for good with `reason`.
  // True for a rejection.
  bool refuse(std::string_view tenant, std::string_view gateway, const Status& status,
              const std::string& reason);
  // "unknown_tenant" / "unknown_gateway" when the configuration does not know them; "" else.
  std::string check_known(std::string_view tenant, std::string_view gateway, bool mqtt) const;
  void enqueue(Pending p);
  void run_acks();
  void publish_acks(std::deque<Pending>& batch);
  void notify_applied(const std::string& tenant, const wire::WindowBatch& batch);

  BatchSink& sink_;
  const IngestOptions options_;
  mutable std::mutex gateways_mu_;  // guards gateways_
  std::set<std::pair<std::string, std::string>> gateways_;
  PublishFn publish_;
  daemon::MetricsRegistry& metrics_;
  const Clock* clock_;
  std::function<void(const std::string&, std::int64_t, std::int64_t)> on_applied_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  std::thread ack_thread_;

  daemon::Counter& messages_;
  daemon::Counter& batches_applied_;
  daemon::Counter& batches_duplicate_;
  daemon::Counter& records_applied_;
  daemon::Counter& acks_published_;
  daemon::Counter& ack_publish_errors_;
  daemon::Counter& durable_errors_;
  daemon::Counter& deferred_;
  std::mutex log_mu_;  // guards the two below (MQTT and HTTP threads log)
  std::chrono::steady_clock::time_point last_log_{};
  std::uint64_t suppressed_logs_ = 0;
};

}  // namespace edgesketch::collector
