#include "ingest/ingest_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/error_reason.h"

namespace edgesketch::collector {

namespace {

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

// Failures that may pass on a retry: the batch is neither acked nor rejected.
bool is_transient(const Status& s) {
  return s.code() == StatusCode::kIoError || s.code() == StatusCode::kUnavailable;
}

// The reason a permanent rejection is counted and acked with: the codec's, or the tag at the
// end of the message ("... [seq_out_of_range]").
std::string reason_of(const Status& s) {
  const wire::ErrorReason r = wire::error_reason(s);
  if (r != wire::ErrorReason::kUnknown) return std::string(wire::reason_name(r));
  const std::string& m = s.message();
  if (!m.empty() && m.back() == ']') {
    const auto open = m.rfind('[');
    if (open != std::string::npos && m.size() - open <= 40) {
      return m.substr(open + 1, m.size() - open - 2);
    }
  }
  if (s.code() == StatusCode::kResourceExhausted) return "series_limit";
  return "invalid";
}

}  // namespace

Result<std::pair<std::string, std::string>> parse_windows_topic(std::string_view prefix,
                                                                std::string_view topic) {
  const auto bad = [&] {
    return Status::invalid_argument("topic '" + std::string(topic) + "' is not " +
                                    std::string(prefix) + "/<tenant>/<gateway_id>/windows");
  };
  if (topic.size() <= prefix.size() + 1 || topic.substr(0, prefix.size()) != prefix ||
      topic[prefix.size()] != '/') {
    return bad();
  }
  std::string_view rest = topic.substr(prefix.size() + 1);
  const auto a = rest.find('/');
  if (a == std::string_view::npos || a == 0) return bad();
  const auto b = rest.find('/', a + 1);
  if (b == std::string_view::npos || b == a + 1) return bad();
  if (rest.substr(b + 1) != "windows") return bad();
  return std::make_pair(std::string(rest.substr(0, a)), std::string(rest.substr(a + 1, b - a - 1)));
}

struct IngestService::Decoded {
  wire::WindowBatch batch;
};

IngestService::IngestService(BatchSink& sink, IngestOptions options, PublishFn publish,
                             daemon::MetricsRegistry& metrics, const Clock* clock)
    : sink_(sink),
      options_(std::move(options)),
      gateways_(options_.gateways),
      publish_(std::move(publish)),
      metrics_(metrics),
      clock_(clock ? clock : &system_clock()),
      messages_(metrics.counter("edgesketch_collector_ingest_messages_total",
                                "Window batch messages received (MQTT and HTTP)")),
      batches_applied_(metrics.counter("edgesketch_collector_ingest_batches_total",
                                       "Window batches applied, by outcome",
                                       {{"outcome", "applied"}})),
      batches_duplicate_(metrics.counter("edgesketch_collector_ingest_batches_total",
                                         "Window batches applied, by outcome",
                                         {{"outcome", "duplicate"}})),
      records_applied_(
          metrics.counter("edgesketch_collector_ingest_records_total", "Window records applied")),
      acks_published_(
          metrics.counter("edgesketch_collector_acks_published_total", "Ack messages published")),
      ack_publish_errors_(metrics.counter(
          "edgesketch_collector_ack_publish_errors_total",
          "Ack messages that could not be published (the agent resends; the batch is deduped)")),
      durable_errors_(metrics.counter(
          "edgesketch_collector_wal_errors_total",
          "Batches not durable, so not acked: a failed WAL fsync, or a failed ClickHouse insert")),
      deferred_(metrics.counter(
          "edgesketch_collector_ingest_deferred_total",
          "Batches not acked because of a temporary fault (disk full, I/O error, stalled "
          "store); the agent resends them")) {}

IngestService::~IngestService() { stop(); }

void IngestService::start() {
  std::lock_guard lock(mu_);
  if (ack_thread_.joinable()) return;
  stopping_ = false;
  ack_thread_ = std::thread([this] { run_acks(); });
}

void IngestService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (ack_thread_.joinable()) ack_thread_.join();
}

std::string IngestService::check_known(std::string_view tenant, std::string_view gateway,
                                       bool mqtt) const {
  if (!options_.tenants.empty() && !options_.tenants.count(std::string(tenant))) {
    return "unknown_tenant";
  }
  if (mqtt) {
    std::lock_guard lock(gateways_mu_);
    if (!gateways_.empty() && !gateways_.count({std::string(tenant), std::string(gateway)})) {
      return "unknown_gateway";
    }
  }
  return "";
}

void IngestService::set_gateways(std::set<std::pair<std::string, std::string>> gateways) {
  std::lock_guard lock(gateways_mu_);
  gateways_ = std::move(gateways);
}

bool IngestService::refuse(std::string_view tenant, std::string_view gateway, const Status& status,
                           const std::string& reason) {
  const bool temporary = is_transient(status);
  if (temporary) {
    deferred_.inc();
  } else {
    reject(reason);
  }
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(log_mu_);
  if (now - last_log_ >= std::chrono::seconds(1)) {
    spdlog::warn("ingest: {} a batch from {}/{} ({}): {}{}", temporary ? "deferred" : "rejected",
                 tenant, gateway, temporary ? "store_unavailable" : reason, status.to_string(),
                 suppressed_logs_
                     ? fmt::format(" ({} more since the last message)", suppressed_logs_)
                     : std::string());
    last_log_ = now;
    suppressed_logs_ = 0;
  } else {
    ++suppressed_logs_;
  }
  return !temporary;
}

void IngestService::reject(const std::string& reason) {
  metrics_
      .counter("edgesketch_collector_ingest_rejected_total",
               "Window batches or messages rejected, by reason", {{"reason", reason}})
      .inc();
}

Result<IngestService::Decoded> IngestService::decode(std::string_view tenant,
                                                     std::string_view gateway, ByteSpan payload) {
  auto batch = wire::decode_window_batch(payload, sink_.limits(), clock_->now_ms());
  if (!batch.ok()) return batch.status();
  if (batch->gateway_id != gateway) {
    return Status::invalid_argument("batch gateway_id '" + batch->gateway_id +
                                    "' is not the topic's '" + std::string(gateway) +
                                    "' [gateway_mismatch]");
  }
  if (!batch->tenant.empty() && batch->tenant != tenant) {
    return Status::invalid_argument("batch tenant '" + batch->tenant + "' is not '" +
                                    std::string(tenant) + "' [tenant_mismatch]");
  }
  return Decoded{std::move(*batch)};
}

void IngestService::notify_applied(const std::string& tenant, const wire::WindowBatch& batch) {
  if (!on_applied_ || batch.records.empty()) return;
  std::int64_t lo = std::numeric_limits<std::int64_t>::max();
  std::int64_t hi = std::numeric_limits<std::int64_t>::min();
  for (const wire::WindowRecord& r : batch.records) {
    lo = std::min(lo, r.window_start_ms);
    hi = std::max(hi, r.window_start_ms + static_cast<std::int64_t>(r.window_ms));
  }
  on_applied_(tenant, lo, hi);
}

void IngestService::on_message(const std::string& topic, ByteSpan payload) {
  messages_.inc();
  auto where = parse_windows_topic(options_.topic_prefix, topic);
  if (!where.ok()) {
    reject("bad_topic");
    return;
  }
  const auto& [tenant, gateway] = *where;
  auto decoded = decode(tenant, gateway, payload);
  std::string reason;
  Status status;
  std::uint64_t seq = 0;
  if (!decoded.ok()) {
    status = decoded.status();
    reason = reason_of(status);
  } else if (std::string unknown = check_known(tenant, gateway, true); !unknown.empty()) {
    seq = decoded->batch.seq;
    reason = unknown;
    status = Status::permission_denied(unknown == "unknown_tenant"
                                           ? "tenant '" + tenant + "' is not configured"
                                           : "gateway '" + gateway +
                                                 "' is not a configured [[gateway]] of tenant '" +
                                                 tenant + "'");
  } else {
    seq = decoded->batch.seq;
    auto receipt = sink_.submit(tenant, decoded->batch, payload);
    if (receipt.ok()) {
      if (receipt->duplicate) {
        batches_duplicate_.inc();
      } else {
        batches_applied_.inc();
        records_applied_.inc(receipt->records);
        notify_applied(tenant, decoded->batch);
      }
      enqueue(Pending{tenant, gateway, seq, receipt->lsn, {}});
      return;
    }
    status = receipt.status();
    reason = reason_of(status);
  }
  // A permanent rejection of a batch whose seq is known is acked as rejected; a deferred batch
  // is not acked at all, and the agent resends it once the fault has cleared.
  if (refuse(tenant, gateway, status, reason) && decoded.ok()) {
    enqueue(Pending{tenant, gateway, seq, 0, reason});
  }
}

Status IngestService::ingest_http(std::string_view tenant, std::string_view gateway,
                                  ByteSpan body) {
  messages_.inc();
  auto batch = wire::decode_window_batch(body, sink_.limits(), clock_->now_ms());
  if (!batch.ok()) {
    reject(reason_of(batch.status()));
    return batch.status();
  }
  if (batch->gateway_id != gateway) {
    reject("gateway_mismatch");
    return Status::permission_denied("batch gateway_id '" + batch->gateway_id +
                                     "' is not the token's gateway '" + std::string(gateway) +
                                     "' [gateway_mismatch]");
  }
  if (!batch->tenant.empty() && batch->tenant != tenant) {
    reject("tenant_mismatch");
    return Status::invalid_argument("batch tenant '" + batch->tenant +
                                    "' is not the token's tenant [tenant_mismatch]");
  }
  if (std::string unknown = check_known(tenant, gateway, false); !unknown.empty()) {
    reject(unknown);
    return Status::permission_denied("tenant '" + std::string(tenant) + "' is not configured [" +
                                     unknown + "]");
  }
  auto receipt = sink_.submit(tenant, *batch, body);
  if (!receipt.ok()) {
    refuse(tenant, gateway, receipt.status(), reason_of(receipt.status()));
    return receipt.status();
  }
  // For a duplicate, the sink reports the position its original is durable at or before.
  if (receipt->lsn > 0) {
    if (Status s = sink_.wait_durable(receipt->lsn); !s.ok()) {
      refuse(tenant, gateway, s, reason_of(s));
      return s;
    }
  }
  if (receipt->duplicate) {
    batches_duplicate_.inc();
  } else {
    batches_applied_.inc();
    records_applied_.inc(receipt->records);
    notify_applied(std::string(tenant), *batch);
  }
  return Status::ok_status();
}

void IngestService::enqueue(Pending p) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(p));
  }
  cv_.notify_one();
}

void IngestService::run_acks() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty() && stopping_) return;
    std::deque<Pending> batch;
    batch.swap(pending_);
    lock.unlock();
    publish_acks(batch);
    lock.lock();
  }
}

void IngestService::publish_acks(std::deque<Pending>& batch) {
  // Each batch is acked when its own position is durable: with group commit a sink may have
  // stored a later group and dropped an earlier one (ClickHouse), so the newest position does
  // not vouch for the others. After the first wait the others return at once.
  std::vector<bool> durable(batch.size(), true);
  std::size_t failed = 0;
  Status failure;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].lsn == 0) continue;
    Status s = sink_.wait_durable(batch[i].lsn);
    if (!s.ok()) {
      durable[i] = false;
      ++failed;
      failure = s;
    }
  }
  if (failed > 0) {
    durable_errors_.inc(failed);
    spdlog::error("ingest: {} batches not durable, not acked (the agents resend them): {}", failed,
                  failure.to_string());
  }
  // One Ack per (tenant, gateway), in arrival order.
  std::map<std::pair<std::string, std::string>, wire::Ack> acks;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Pending& p = batch[i];
    wire::Ack& ack = acks[{p.tenant, p.gateway_id}];
    ack.gateway_id = p.gateway_id;
    if (!p.reject_reason.empty()) {
      ack.rejected.push_back(wire::AckRejection{p.seq, p.reject_reason});
    } else if (durable[i]) {
      ack.seqs.push_back(p.seq);
    }
  }
  for (auto& [key, ack] : acks) {
    if (ack.seqs.empty() && ack.rejected.empty()) continue;
    const Bytes bytes = wire::encode_ack(ack);
    const std::string topic = options_.topic_prefix + "/" + key.first + "/" + key.second + "/ack";
    Status s = publish_(topic, ByteSpan(bytes.data(), bytes.size()));
    if (s.ok()) {
      acks_published_.inc();
    } else {
      ack_publish_errors_.inc();
    }
  }
}

}  // namespace edgesketch::collector
