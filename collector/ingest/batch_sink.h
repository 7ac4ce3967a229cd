// BatchSink: where IngestService stores a decoded, validated window batch — the embedded store
// (StoreBatchSink) or the ClickHouse tables (docs/scaling.md). The ack follows durability: a
// batch is acked once wait_durable(receipt.lsn) returned OK (at once when lsn is 0).
//
// Failures: kIoError / kUnavailable are temporary (the batch is not acked; the agent resends
// it); anything else is a permanent refusal of this batch (acked as rejected) and must only
// come from the batch itself (a limit, an implausible seq), never from the sink's own state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/store/store.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::collector {

class BatchSink {
 public:
  virtual ~BatchSink() = default;

  // The limits batches are decoded and validated with.
  virtual const wire::Limits& limits() const = 0;
  // Stores `batch` (whose encoding is `encoded`) for `tenant`. The receipt says whether it was
  // a duplicate and which position to wait for before acking it.
  virtual Result<store::IngestReceipt> submit(std::string_view tenant,
                                              const wire::WindowBatch& batch, ByteSpan encoded) = 0;
  // Blocks until everything up to `lsn` is durable.
  virtual Status wait_durable(std::uint64_t lsn) = 0;
};

// The embedded store: dedupe ledger, WAL with group commit (docs/collector-store.md).
class StoreBatchSink final : public BatchSink {
 public:
  explicit StoreBatchSink(store::Store& store) : store_(store) {}
  const wire::Limits& limits() const override { return store_.options().limits; }
  Result<store::IngestReceipt> submit(std::string_view tenant, const wire::WindowBatch& batch,
                                      ByteSpan encoded) override {
    return store_.submit(tenant, batch, encoded);
  }
  Status wait_durable(std::uint64_t lsn) override { return store_.wait_durable(lsn); }

 private:
  store::Store& store_;
};

}  // namespace edgesketch::collector
