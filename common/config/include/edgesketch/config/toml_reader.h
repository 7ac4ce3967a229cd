// Strict reading of TOML config files (toml++): every key must be known, every value must have
// the expected type, and every problem names the full key path, e.g.
//   agent.toml: unknown key 'rule[1].windw'
//   agent.toml: 'outbox.max_bytes': '12 MB' is not a size (use e.g. 4096, 64KiB, 256MiB, 2GiB)
//
//   auto doc = TomlDocument::parse_file(path);          // syntax errors with line and column
//   TomlTable root = doc->root();
//   TomlTable http = root.table("http");                 // an absent table reads as empty
//   std::string listen = http.string("listen", "127.0.0.1:9780");
//   for (TomlTable t : root.tables("tenant")) { ... }    // [[tenant]] arrays of tables
//   http.finish(); root.finish();                        // unknown keys become errors
//   if (!doc->errors().empty()) ... doc->status() ...
//   for (const std::string& w : doc->warnings()) ...   // e.g. deprecated key names
//
// Readers never throw; they record errors in the document and return the default. Warnings are
// problems that do not stop the file from loading; the daemons log them at start and
// --check-config prints them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"

namespace toml {
inline namespace v3 {
class table;
class node;
}  // namespace v3
}  // namespace toml

namespace edgesketch::config {

class TomlDocument;

// A view of one TOML table that remembers which keys were read.
class TomlTable {
 public:
  std::string string(std::string_view key, std::string fallback = {});
  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  double number(std::string_view key, double fallback);
  bool boolean(std::string_view key, bool fallback);
  // A duration string ("10s") in milliseconds.
  std::int64_t duration_ms(std::string_view key, std::int64_t fallback);
  // A duration within [min_ms, max_ms]; outside it an error ("<v> ms is out of range [min,
  // max]") and the fallback.
  std::int64_t duration_ms(std::string_view key, std::int64_t fallback, std::int64_t min_ms,
                           std::int64_t max_ms);
  // A size: an integer or a string like "256MiB".
  std::uint64_t bytes(std::string_view key, std::uint64_t fallback);
  // A size within [min, max]; outside it an error ("<v> bytes is out of range [min, max]") and
  // the fallback.
  std::uint64_t bytes(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                      std::uint64_t max);
  std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback = {});
  bool has(std::string_view key) const;

  // A sub-table; an absent key reads as an empty table.
  TomlTable table(std::string_view key);
  // An array of tables ([[key]]); absent: empty.
  std::vector<TomlTable> tables(std::string_view key);

  // Records an error for every key of this table that was not read.
  void finish();
  // Records an error about `key` of this table.
  void error(std::string_view key, std::string_view message);
  // Records a warning about `key` of this table: "<file>: '<key path>': <message>".
  void warning(std::string_view key, std::string_view message);
  const std::string& path() const { return path_; }
  // The full path of `key` of this table, as messages name it ("uplink.broker", "input[0].qos").
  std::string key_path(std::string_view key) const;

 private:
  friend class TomlDocument;
  TomlTable(const toml::table* table, std::string path, TomlDocument* doc)
      : table_(table), path_(std::move(path)), doc_(doc) {}
  const toml::node* get(std::string_view key);

  const toml::table* table_;  // null: absent (reads as empty)
  std::string path_;
  TomlDocument* doc_;
  std::set<std::string, std::less<>> read_;
};

class TomlDocument {
 public:
  // Parses a file; InvalidArgument with "<file>:<line>:<column>: <reason>" on a syntax error,
  // NotFound/IoError when it cannot be read.
  static Result<std::unique_ptr<TomlDocument>> parse_file(const std::string& path);
  // Parses text; `name` stands for the file in messages.
  static Result<std::unique_ptr<TomlDocument>> parse(std::string_view text, std::string name);
  ~TomlDocument();

  TomlTable root();
  const std::vector<std::string>& errors() const { return errors_; }
  // Warnings recorded so far, each "<file>: '<key path>': <what>", in the order found.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // OK, or InvalidArgument listing every error, one per line.
  Status status() const;

 private:
  friend class TomlTable;
  TomlDocument();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string name_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

}  // namespace edgesketch::config
