#include "edgesketch/clickhouse/schema.h"

#include <map>
#include <sstream>

#include "edgesketch/clickhouse/client.h"
#include "sql_text.h"

namespace edgesketch::clickhouse {
namespace {

std::string create_table(const std::string& database, const TableSpec& t) {
  std::string sql = "CREATE TABLE IF NOT EXISTS " + sql_table(database, t.name) + " (";
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += sql_identifier(t.columns[i].name) + " " + t.columns[i].type;
  }
  return sql + ") " + t.engine;
}

// table -> column -> type, from system.columns.
Result<std::map<std::string, std::map<std::string, std::string>>> existing_columns(
    Client& client, const std::string& database) {
  ES_ASSIGN_OR_RETURN(
      std::string tsv,
      client.query("SELECT table, name, type FROM system.columns WHERE database = " +
                   sql_string(database) + " FORMAT TSV"));
  std::map<std::string, std::map<std::string, std::string>> out;
  std::istringstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t a = line.find('\t');
    const std::size_t b = line.find('\t', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    out[line.substr(0, a)][line.substr(a + 1, b - a - 1)] = line.substr(b + 1);
  }
  return out;
}

Result<int> stored_version(Client& client, const std::string& database) {
  ES_ASSIGN_OR_RETURN(std::string v,
                      client.query("SELECT max(version) FROM " + sql_identifier(database) +
                                   ".schema_version FORMAT TSV"));
  try {
    return std::stoi(v);
  } catch (...) {
    return Status::failed_precondition("clickhouse: unreadable schema version '" + v + "'");
  }
}

Status check_tables(Client& client, const SchemaOptions& options, const std::string& fix) {
  ES_ASSIGN_OR_RETURN(auto columns, existing_columns(client, options.database));
  for (const TableSpec& t : schema_tables(options)) {
    auto table = columns.find(t.name);
    if (table == columns.end()) {
      return Status::failed_precondition("clickhouse: table " + options.database + "." + t.name +
                                         " is missing" + fix);
    }
    for (const ColumnSpec& c : t.columns) {
      auto col = table->second.find(c.name);
      if (col == table->second.end()) {
        return Status::failed_precondition("clickhouse: table " + options.database + "." + t.name +
                                           " has no column " + c.name + fix);
      }
      if (col->second != c.type) {
        return Status::failed_precondition("clickhouse: column " + options.database + "." + t.name +
                                           "." + c.name + " is " + col->second + ", not " + c.type);
      }
    }
  }
  ES_ASSIGN_OR_RETURN(int version, stored_version(client, options.database));
  if (version > kSchemaVersion) {
    return Status::failed_precondition("clickhouse: database " + options.database +
                                       " has schema version " + std::to_string(version) +
                                       ", newer than this collector's " +
                                       std::to_string(kSchemaVersion) + "; upgrade the collector");
  }
  if (version < kSchemaVersion) {
    return Status::failed_precondition("clickhouse: database " + options.database +
                                       " has schema version " + std::to_string(version) + fix);
  }
  return Status();
}

}  // namespace

std::string tier_table(std::int64_t tier_ms) {
  if (tier_ms % 86'400'000 == 0) return "windows_" + std::to_string(tier_ms / 86'400'000) + "d";
  if (tier_ms % 3'600'000 == 0) return "windows_" + std::to_string(tier_ms / 3'600'000) + "h";
  if (tier_ms % 60'000 == 0) return "windows_" + std::to_string(tier_ms / 60'000) + "m";
  if (tier_ms % 1'000 == 0) return "windows_" + std::to_string(tier_ms / 1'000) + "s";
  return "windows_" + std::to_string(tier_ms) + "ms";
}

std::vector<TableSpec> schema_tables(const SchemaOptions& options) {
  std::vector<TableSpec> tables;
  tables.push_back({"schema_version",
                    {{"version", "UInt32"}, {"applied_ms", "Int64"}, {"by", "String"}},
                    "ENGINE = ReplacingMergeTree ORDER BY version"});
  tables.push_back({"series",
                    {{"tenant", "String"},
                     {"series_id", "UInt64"},
                     {"metric", "String"},
                     {"label_names", "Array(String)"},
                     {"label_values", "Array(String)"}},
                    "ENGINE = ReplacingMergeTree ORDER BY (tenant, series_id)"});
  tables.push_back({"batches",
                    {{"tenant", "String"},
                     {"gateway_id", "String"},
                     {"seq", "UInt64"},
                     {"records", "UInt32"},
                     {"stored_ms", "Int64"}},
                    "ENGINE = ReplacingMergeTree ORDER BY (tenant, gateway_id, seq)"});
  for (std::int64_t tier : options.tiers_ms) {
    tables.push_back(
        {tier_table(tier),
         {{"tenant", "String"},
          {"metric", "String"},
          {"series_id", "UInt64"},
          {"window_start", "Int64"},
          {"window_ms", "UInt32"},
          {"gateway_id", "String"},
          {"seq", "UInt64"},
          {"record", "UInt32"},
          {"version", "UInt64"},
          {"count", "UInt64"},
          {"sum", "Float64"},
          {"min", "Float64"},
          {"max", "Float64"},
          {"hist", "String"},
          {"hll", "String"},
          {"topk", "String"},
          {"distinct_of", "String"},
          {"topk_of", "String"}},
         "ENGINE = ReplacingMergeTree(version) "
         "PARTITION BY toDate(toDateTime(intDiv(window_start, 1000))) "
         "ORDER BY (tenant, metric, series_id, window_start, gateway_id, seq, record)"});
  }
  return tables;
}

Status init_schema(Client& client, const SchemaOptions& options) {
  ES_RETURN_IF_ERROR(
      client.execute("CREATE DATABASE IF NOT EXISTS " + sql_identifier(options.database)));
  for (const TableSpec& t : schema_tables(options)) {
    ES_RETURN_IF_ERROR(client.execute(create_table(options.database, t)));
  }
  ES_ASSIGN_OR_RETURN(int version, stored_version(client, options.database));
  if (version < kSchemaVersion) {
    // Version 1 is the tables above; later versions add their migrations here, in order.
    ES_RETURN_IF_ERROR(client.execute(
        "INSERT INTO " + sql_identifier(options.database) +
        ".schema_version (version, applied_ms, by) SELECT " + std::to_string(kSchemaVersion) +
        ", toInt64(toUInt64(now()) * 1000), 'edgesketch-collector --init-clickhouse'"));
  }
  return check_tables(client, options, "");
}

Status check_schema(Client& client, const SchemaOptions& options) {
  return check_tables(client, options,
                      "; run edgesketch-collector --init-clickhouse with this config");
}

}  // namespace edgesketch::clickhouse
