// The collector's settings for the ClickHouse store (docs/scaling.md) as es_collector_clickhouse
// takes them: used by `--init-clickhouse` and by the daemon with [store] backend = "clickhouse".
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "app/config.h"
#include "edgesketch/clickhouse/batch_writer.h"
#include "edgesketch/clickhouse/client.h"
#include "edgesketch/clickhouse/schema.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/daemon/metrics.h"
#include "ingest/batch_sink.h"

namespace edgesketch::collector {

clickhouse::ClientOptions clickhouse_client_options(const ClickHouseConfig& config);
// The database of [clickhouse] and the tiers of [store].
clickhouse::SchemaOptions clickhouse_schema_options(const CollectorConfig& config);

// `edgesketch-collector --init-clickhouse`: creates or migrates the tables (idempotent), checks
// them and says what it did on stdout; 0, or 1 after printing the error on stderr.
int init_clickhouse(const CollectorConfig& config, const std::string& config_path);

// The ingest side of the ClickHouse store, with group commit: submit() encodes a batch's rows
// and queues them (a position, lsn, in the queue); a writer thread inserts everything queued in
// one insert per table (BatchWriter) — ClickHouse wants few large inserts, each becomes a part —
// and wait_durable(lsn) returns once the group holding lsn was answered. A batch is durable
// once ClickHouse answered, so it is acked then.
//
// Every failure is temporary to the agent (kUnavailable: not acked, resent later), whatever
// ClickHouse said — the rows were built here from a batch already validated, so a refusal
// (credentials, schema) is the operator's to fix, never the batch's fault. A group that fails
// after the client's retries is dropped: wait_durable() of its positions fails, and the agents
// resend those batches. The queue is bounded (max_queued_bytes): past it submit() answers
// kUnavailable. Redeliveries are written again and collapse in the tables (docs/scaling.md), so
// no receipt says "duplicate". Metrics edgesketch_collector_clickhouse_*. Thread-safe.
class ClickHouseBatchSink final : public BatchSink {
 public:
  ClickHouseBatchSink(const CollectorConfig& config, std::unique_ptr<clickhouse::Client> client,
                      daemon::MetricsRegistry& metrics, const Clock& clock,
                      std::size_t max_queued_bytes = std::size_t{256} << 20);
  ~ClickHouseBatchSink() override;  // inserts what is queued, then stops the writer

  const wire::Limits& limits() const override { return limits_; }
  Result<store::IngestReceipt> submit(std::string_view tenant, const wire::WindowBatch& batch,
                                      ByteSpan encoded) override;
  Status wait_durable(std::uint64_t lsn) override;

 private:
  void run_writer();
  void report(const Status& s);

  const wire::Limits limits_;
  const Clock& clock_;
  const std::size_t max_queued_bytes_;
  std::unique_ptr<clickhouse::Client> client_;  // the writer thread's
  clickhouse::BatchWriter writer_;

  std::mutex mu_;
  std::condition_variable queued_cv_;  // the writer waits for rows or stop
  std::condition_variable done_cv_;    // wait_durable() waits for groups to finish
  clickhouse::BatchRows queue_;        // rows of positions (written_, next_lsn_]
  std::uint64_t next_lsn_ = 0;
  std::uint64_t finished_ = 0;  // every position up to this one is decided
  // Positions of dropped groups, as (first, last) ranges, the newest 4,096; positions at or
  // below forgotten_ are unknown and treated as failed.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> failed_;
  std::uint64_t forgotten_ = 0;
  Status last_failure_;
  bool stop_ = false;
  std::thread writer_thread_;

  clickhouse::ClientStats reported_;  // what the counters below hold already
  daemon::Counter& requests_;
  daemon::Counter& retries_;
  daemon::Counter& unavailable_;
  daemon::Counter& refused_;
  daemon::Counter& sent_bytes_;
  daemon::Counter& groups_;
  daemon::Gauge& up_;
};

}  // namespace edgesketch::collector
