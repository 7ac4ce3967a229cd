#include "app/clickhouse_backend.h"

#include <cstdio>
#include <utility>

namespace edgesketch::collector {

clickhouse::ClientOptions clickhouse_client_options(const ClickHouseConfig& c) {
  clickhouse::ClientOptions o;
  o.url = c.url;
  o.database = c.database;
  o.user = c.user;
  o.password = c.password;
  o.tls_ca_file = c.tls_ca_file;
  o.tls_cert_file = c.tls_cert_file;
  o.tls_key_file = c.tls_key_file;
  o.connect_timeout_ms = static_cast<int>(c.connect_timeout_ms);
  o.request_timeout_ms = static_cast<int>(c.request_timeout_ms);
  o.max_attempts = c.max_attempts;
  return o;
}

clickhouse::SchemaOptions clickhouse_schema_options(const CollectorConfig& config) {
  clickhouse::SchemaOptions o;
  o.database = config.clickhouse.database;
  o.tiers_ms.assign(config.store.tiers_ms.begin(), config.store.tiers_ms.end());
  return o;
}

int init_clickhouse(const CollectorConfig& config, const std::string& config_path) {
  if (config.clickhouse.url.empty()) {
    std::fprintf(stderr,
                 "edgesketch-collector --init-clickhouse: %s has no [clickhouse] url to set up\n",
                 config_path.c_str());
    return 1;
  }
  clickhouse::ClientOptions options = clickhouse_client_options(config.clickhouse);
  options.database.clear();  // it may not exist yet; the statements name it
  auto client = clickhouse::Client::create(std::move(options));
  if (!client.ok()) {
    std::fprintf(stderr, "edgesketch-collector --init-clickhouse: %s\n",
                 client.status().message().c_str());
    return 1;
  }
  const clickhouse::SchemaOptions schema = clickhouse_schema_options(config);
  if (Status s = clickhouse::init_schema(**client, schema); !s.ok()) {
    std::fprintf(stderr, "edgesketch-collector --init-clickhouse: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%s: database %s ready (schema version %d): tables", config.clickhouse.url.c_str(),
              schema.database.c_str(), clickhouse::kSchemaVersion);
  for (const clickhouse::TableSpec& t : clickhouse::schema_tables(schema)) {
    std::printf(" %s", t.name.c_str());
  }
  std::printf("\n");
  return 0;
}

ClickHouseBatchSink::ClickHouseBatchSink(const CollectorConfig& config,
                                         std::unique_ptr<clickhouse::Client> client,
                                         daemon::MetricsRegistry& metrics, const Clock& clock,
                                         std::size_t max_queued_bytes)
    : limits_(config.store.limits),
      clock_(clock),
      max_queued_bytes_(max_queued_bytes),
      client_(std::move(client)),
      writer_(*client_, clickhouse_schema_options(config)),
      requests_(metrics.counter("edgesketch_collector_clickhouse_requests_total",
                                "Requests sent to ClickHouse by ingest, retries included")),
      retries_(metrics.counter("edgesketch_collector_clickhouse_retries_total",
                               "Ingest requests repeated after a temporary failure")),
      unavailable_(metrics.counter(
          "edgesketch_collector_clickhouse_unavailable_total",
          "Ingest groups that failed for want of ClickHouse (their batches are resent later)")),
      refused_(metrics.counter(
          "edgesketch_collector_clickhouse_refused_total",
          "Ingest groups ClickHouse refused (credentials, schema: see the log; their batches are "
          "resent later)")),
      sent_bytes_(metrics.counter("edgesketch_collector_clickhouse_sent_bytes_total",
                                  "Request bytes sent to ClickHouse by ingest (after gzip)")),
      groups_(metrics.counter("edgesketch_collector_clickhouse_groups_total",
                              "Inserts of queued batches into ClickHouse (one per table each)")),
      up_(metrics.gauge("edgesketch_collector_clickhouse_up",
                        "1 when ClickHouse took the last group, 0 when it failed")) {
  writer_thread_ = std::thread([this] { run_writer(); });
}

ClickHouseBatchSink::~ClickHouseBatchSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  queued_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
}

Result<store::IngestReceipt> ClickHouseBatchSink::submit(std::string_view tenant,
                                                         const wire::WindowBatch& batch, ByteSpan) {
  std::lock_guard lock(mu_);
  if (stop_) return Status::unavailable("clickhouse store: stopping");
  const std::size_t queued = queue_.series.size() + queue_.windows.size() + queue_.ledger.size();
  if (queued >= max_queued_bytes_) {
    return Status::unavailable(
        "clickhouse store: " + std::to_string(queued) + " bytes wait for ClickHouse already" +
        (last_failure_.ok() ? std::string() : " (last failure: " + last_failure_.message() + ")"));
  }
  clickhouse::append_batch_rows(queue_, tenant, batch, clock_.now_ms());
  store::IngestReceipt r;
  r.gateway_id = batch.gateway_id;
  r.seq = batch.seq;
  r.records = batch.records.size();
  r.lsn = ++next_lsn_;
  queued_cv_.notify_one();
  return r;
}

Status ClickHouseBatchSink::wait_durable(std::uint64_t lsn) {
  std::unique_lock lock(mu_);
  // Every queued position is decided, also at stop (the writer inserts what is queued first).
  done_cv_.wait(lock, [&] { return finished_ >= lsn; });
  if (lsn <= forgotten_) return Status::unavailable("clickhouse store: outcome forgotten");
  for (const auto& [first, last] : failed_) {
    if (first <= lsn && lsn <= last) {
      return Status::unavailable("clickhouse store: not stored: " + last_failure_.message());
    }
  }
  return Status();
}

void ClickHouseBatchSink::report(const Status& s) {
  const clickhouse::ClientStats& now = client_->stats();
  requests_.inc(now.requests - reported_.requests);
  retries_.inc(now.retries - reported_.retries);
  unavailable_.inc(now.temporary_failures - reported_.temporary_failures);
  refused_.inc(now.refused - reported_.refused);
  sent_bytes_.inc(now.sent_bytes - reported_.sent_bytes);
  reported_ = now;
  groups_.inc();
  up_.set(s.ok() ? 1 : 0);
}

void ClickHouseBatchSink::run_writer() {
  std::unique_lock lock(mu_);
  for (;;) {
    queued_cv_.wait(lock, [&] { return stop_ || next_lsn_ > finished_; });
    if (next_lsn_ == finished_) return;  // stopping with nothing queued
    clickhouse::BatchRows group = std::move(queue_);
    queue_ = clickhouse::BatchRows{};
    const std::uint64_t first = finished_ + 1;
    const std::uint64_t last = next_lsn_;
    lock.unlock();
    const Status s = writer_.write(group);
    report(s);
    lock.lock();
    if (!s.ok()) {
      last_failure_ = s;
      failed_.emplace_back(first, last);
      if (failed_.size() > 4096) {
        forgotten_ = failed_.front().second;
        failed_.pop_front();
      }
    }
    finished_ = last;
    done_cv_.notify_all();
  }
}

}  // namespace edgesketch::collector
