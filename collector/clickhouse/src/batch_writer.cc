#include "edgesketch/clickhouse/batch_writer.h"

#include <unordered_set>

#include "edgesketch/clickhouse/client.h"
#include "edgesketch/sketch/hash.h"
#include "sql_text.h"

namespace edgesketch::clickhouse {
namespace {

// Seed of series_id(): fixed, since ids are stored.
constexpr std::uint64_t kSeriesIdSeed = 0x65732d7365726965ull;  // "es-serie"

void put_sketch(Bytes& out, const auto* sketch) {
  if (sketch == nullptr) {
    put_varint(out, 0);
    return;
  }
  Bytes bytes;
  sketch->serialize(bytes);
  put_varint(out, bytes.size());
  put_bytes(out, bytes);
}

}  // namespace

std::uint64_t series_id(std::string_view tenant, const wire::SeriesKey& key) {
  Bytes text;
  put_string(text, tenant);
  put_string(text, key.metric);
  for (const wire::Tag& t : key.tags) {
    put_string(text, t.key);
    put_string(text, t.value);
  }
  return sketch::hash_key(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
                          kSeriesIdSeed);
}

BatchRows encode_batch_rows(std::string_view tenant, const wire::WindowBatch& batch,
                            std::int64_t now_ms) {
  BatchRows rows;
  append_batch_rows(rows, tenant, batch, now_ms);
  return rows;
}

void append_batch_rows(BatchRows& rows, std::string_view tenant, const wire::WindowBatch& batch,
                       std::int64_t now_ms) {
  std::unordered_set<std::uint64_t> seen;
  for (std::size_t i = 0; i < batch.records.size(); ++i) {
    const wire::WindowRecord& r = batch.records[i];
    const std::uint64_t id = series_id(tenant, r.key);
    if (seen.insert(id).second) {
      // series: tenant, series_id, metric, label_names, label_values
      put_string(rows.series, tenant);
      put_u64(rows.series, id);
      put_string(rows.series, r.key.metric);
      put_varint(rows.series, r.key.tags.size());
      for (const wire::Tag& t : r.key.tags) put_string(rows.series, t.key);
      put_varint(rows.series, r.key.tags.size());
      for (const wire::Tag& t : r.key.tags) put_string(rows.series, t.value);
      ++rows.series_rows;
    }
    // windows: tenant, metric, series_id, window_start, window_ms, gateway_id, seq, record,
    // version, count, sum, min, max, hist, hll, topk, distinct_of, topk_of
    Bytes& w = rows.windows;
    put_string(w, tenant);
    put_string(w, r.key.metric);
    put_u64(w, id);
    put_u64(w, static_cast<std::uint64_t>(r.window_start_ms));
    put_u32(w, r.window_ms);
    put_string(w, batch.gateway_id);
    put_u64(w, batch.seq);
    put_u32(w, static_cast<std::uint32_t>(i));
    put_u64(w, 0);
    put_u64(w, r.agg.count());
    put_f64(w, r.agg.sum());
    put_f64(w, r.agg.min());
    put_f64(w, r.agg.max());
    put_sketch(w, r.agg.histogram());
    put_sketch(w, r.agg.distinct());
    put_sketch(w, r.agg.topk());
    put_string(w, r.distinct_of);
    put_string(w, r.topk_of);
    ++rows.window_rows;
  }
  // batches: tenant, gateway_id, seq, records, stored_ms
  put_string(rows.ledger, tenant);
  put_string(rows.ledger, batch.gateway_id);
  put_u64(rows.ledger, batch.seq);
  put_u32(rows.ledger, static_cast<std::uint32_t>(batch.records.size()));
  put_u64(rows.ledger, static_cast<std::uint64_t>(now_ms));
}

std::string series_insert(const std::string& database) {
  return "INSERT INTO " + sql_table(database, "series") +
         " (tenant, series_id, metric, label_names, label_values) FORMAT RowBinary";
}

std::string windows_insert(const std::string& database, std::int64_t tier_ms) {
  return "INSERT INTO " + sql_table(database, tier_table(tier_ms)) +
         " (tenant, metric, series_id, window_start, window_ms, gateway_id, seq, record, "
         "version, count, sum, min, max, hist, hll, topk, distinct_of, topk_of) FORMAT RowBinary";
}

std::string ledger_insert(const std::string& database) {
  return "INSERT INTO " + sql_table(database, "batches") +
         " (tenant, gateway_id, seq, records, stored_ms) FORMAT RowBinary";
}

BatchWriter::BatchWriter(Client& client, SchemaOptions schema)
    : client_(client), schema_(std::move(schema)) {}

Status BatchWriter::write(std::string_view tenant, const wire::WindowBatch& batch,
                          std::int64_t now_ms) {
  return write(encode_batch_rows(tenant, batch, now_ms));
}

Status BatchWriter::write(const BatchRows& rows) {
  if (schema_.tiers_ms.empty()) return Status::invalid_argument("clickhouse: no tiers");
  // The catalog first: a window row never names a series the catalog lacks.
  if (rows.series_rows > 0) {
    ES_RETURN_IF_ERROR(client_.insert(series_insert(schema_.database), rows.series));
  }
  if (rows.window_rows > 0) {
    ES_RETURN_IF_ERROR(
        client_.insert(windows_insert(schema_.database, schema_.tiers_ms.front()), rows.windows));
  }
  if (rows.ledger.empty()) return Status();
  return client_.insert(ledger_insert(schema_.database), rows.ledger);
}

}  // namespace edgesketch::clickhouse
