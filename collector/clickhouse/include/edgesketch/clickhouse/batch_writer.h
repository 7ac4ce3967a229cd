// BatchWriter: one decoded WindowBatch into the ClickHouse store's tables (schema.h), in
// ClickHouse's RowBinary format:
//
//   1. `series`: a row per distinct series of the batch (tenant, series_id, metric, labels);
//   2. `windows_<finest tier>`: a row per record, with the record's identity
//      (gateway_id, seq, record index), its scalars and its sketches' canonical bytes;
//   3. `batches`: the ledger row (tenant, gateway_id, seq).
//
// write() returns OK once ClickHouse answered 200 for all three: only then may the collector ack
// the batch. Every insert is idempotent under FINAL (each table's sort key is the identity of
// what it holds), so a batch written twice, by one collector or two, partly or whole, reads
// back once. Errors are the Client's: kUnavailable (hold the batch, the agent resends) or
// kFailedPrecondition (the operator has to act; the batch is not acked either).
//
// Not thread-safe (one Client); a collector has a writer per ingest thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgesketch/clickhouse/schema.h"
#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::clickhouse {

class Client;

// The id of (tenant, series key) every collector computes alike: XXH3-64 of the tenant, the
// metric and each tag's key and value, each preceded by its length as a varint.
std::uint64_t series_id(std::string_view tenant, const wire::SeriesKey& key);

// The RowBinary rows of one batch, for the three inserts above.
struct BatchRows {
  Bytes series;
  Bytes windows;
  Bytes ledger;
  std::size_t series_rows = 0;
  std::size_t window_rows = 0;
};
BatchRows encode_batch_rows(std::string_view tenant, const wire::WindowBatch& batch,
                            std::int64_t now_ms);
// The same rows appended to `rows`, so that many batches go in one insert per table.
void append_batch_rows(BatchRows& rows, std::string_view tenant, const wire::WindowBatch& batch,
                       std::int64_t now_ms);

// The INSERT statements that take those rows.
std::string series_insert(const std::string& database);
std::string windows_insert(const std::string& database, std::int64_t tier_ms);
std::string ledger_insert(const std::string& database);

class BatchWriter {
 public:
  // `client` must outlive the writer.
  BatchWriter(Client& client, SchemaOptions schema);

  Status write(std::string_view tenant, const wire::WindowBatch& batch, std::int64_t now_ms);
  // The rows of one or more batches, in the same three inserts.
  Status write(const BatchRows& rows);

 private:
  Client& client_;
  const SchemaOptions schema_;
};

}  // namespace edgesketch::clickhouse
