// The ClickHouse store's tables (docs/scaling.md), created and checked by
// `edgesketch-collector --init-clickhouse`:
//
//   schema_version  the schema versions applied (one row each)
//   series          the series catalog: (tenant, series_id) -> metric and labels
//   batches         the batch ledger: (tenant, gateway_id, seq) of every batch stored
//   windows_<tier>  one table per tier (windows_10s, windows_1m, windows_1h): window rows with
//                   native scalar columns and the sketches as their canonical bytes
//
// Every table is a ReplacingMergeTree whose sort key holds the identity of what it stores, so a
// row inserted twice (a redelivered batch, a retried insert, two collectors rolling up the same
// range) counts once when read through FINAL. Window tables are partitioned by day.
//
// init_schema() is idempotent: it creates what is missing (CREATE … IF NOT EXISTS), then checks
// that every table has the columns this version writes, with their types, and refuses
// (kFailedPrecondition, naming the table and column) a table that differs or a schema version
// newer than this collector knows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::clickhouse {

class Client;

inline constexpr int kSchemaVersion = 1;

struct SchemaOptions {
  std::string database = "edgesketch";
  // The store's tiers, finest first (as [store] tiers).
  std::vector<std::int64_t> tiers_ms = {10'000, 60'000, 3'600'000};
};

// "windows_10s", "windows_1m", "windows_1h", "windows_1d"; "windows_<ms>ms" for a tier that is
// not a whole number of seconds.
std::string tier_table(std::int64_t tier_ms);

struct ColumnSpec {
  std::string name;
  std::string type;  // as system.columns spells it
};
struct TableSpec {
  std::string name;
  std::vector<ColumnSpec> columns;
  std::string engine;  // ENGINE … clause: engine, partition, order
};

// The tables this version uses, in creation order.
std::vector<TableSpec> schema_tables(const SchemaOptions& options);

// Creates the database and tables if missing, records the schema version, and checks them.
// Every name is qualified with options.database; the client must not be bound to a database
// (ClientOptions::database empty), since that one may not exist yet.
Status init_schema(Client& client, const SchemaOptions& options);

// Checks only (what a collector does at start): the tables exist as schema_tables() says and the
// schema version is kSchemaVersion. kFailedPrecondition with what to run when not.
Status check_schema(Client& client, const SchemaOptions& options);

}  // namespace edgesketch::clickhouse
