// The collector's settings for the ClickHouse store (docs/scaling.md) as es_collector_clickhouse
// takes them: used by `--init-clickhouse` and by the daemon with [store] backend = "clickhouse".
#pragma once

#include <memory>
#include <mutex>
#include <string>

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

// The ingest side of the ClickHouse store: a batch is durable once ClickHouse answered its
// inserts (BatchWriter), so receipts carry no position to wait for. Every failure is temporary
// to the agent (kUnavailable: not acked, resent later), whatever ClickHouse said — the rows were
// built here from a batch already validated, so a refusal (credentials, schema) is the
// operator's to fix, never the batch's fault. Redeliveries are written again and collapse in
// the tables (docs/scaling.md), so no receipt says "duplicate". Writes are serialized (one
// client); metrics edgesketch_collector_clickhouse_*.
class ClickHouseBatchSink final : public BatchSink {
 public:
  ClickHouseBatchSink(const CollectorConfig& config, std::unique_ptr<clickhouse::Client> client,
                      daemon::MetricsRegistry& metrics, const Clock& clock);

  const wire::Limits& limits() const override { return limits_; }
  Result<store::IngestReceipt> submit(std::string_view tenant, const wire::WindowBatch& batch,
                                      ByteSpan encoded) override;
  Status wait_durable(std::uint64_t) override { return Status(); }

 private:
  const wire::Limits limits_;
  const Clock& clock_;
  std::mutex mu_;  // one writer at a time on the one client
  std::unique_ptr<clickhouse::Client> client_;
  clickhouse::BatchWriter writer_;
  clickhouse::ClientStats reported_;  // what the counters below hold already
  daemon::Counter& requests_;
  daemon::Counter& retries_;
  daemon::Counter& unavailable_;
  daemon::Counter& refused_;
  daemon::Counter& sent_bytes_;
  daemon::Gauge& up_;
};

}  // namespace edgesketch::collector
