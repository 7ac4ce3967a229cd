// The collector's settings for the ClickHouse store (docs/scaling.md) as es_collector_clickhouse
// takes them: used by `--init-clickhouse` and by the daemon with [store] backend = "clickhouse".
#pragma once

#include "app/config.h"
#include "edgesketch/clickhouse/client.h"
#include "edgesketch/clickhouse/schema.h"

namespace edgesketch::collector {

clickhouse::ClientOptions clickhouse_client_options(const ClickHouseConfig& config);
// The database of [clickhouse] and the tiers of [store].
clickhouse::SchemaOptions clickhouse_schema_options(const CollectorConfig& config);

// `edgesketch-collector --init-clickhouse`: creates or migrates the tables (idempotent), checks
// them and says what it did on stdout; 0, or 1 after printing the error on stderr.
int init_clickhouse(const CollectorConfig& config, const std::string& config_path);

}  // namespace edgesketch::collector
