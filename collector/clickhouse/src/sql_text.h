// Literals and names in the SQL the collector sends ClickHouse: every string and name goes
// through these, so no value can end a literal early.
#pragma once

#include <string>
#include <string_view>

namespace edgesketch::clickhouse {

// A single-quoted string literal, ' and \ escaped.
inline std::string sql_string(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// A back-quoted name, ` and \ escaped.
inline std::string sql_identifier(std::string_view s) {
  std::string out = "`";
  for (char c : s) {
    if (c == '`' || c == '\\') out += '\\';
    out += c;
  }
  return out + "`";
}

// `database`.`table`
inline std::string sql_table(std::string_view database, std::string_view table) {
  return sql_identifier(database) + "." + sql_identifier(table);
}

}  // namespace edgesketch::clickhouse
