// DeviceRegistry: the device registry of [enrich] (docs/agent.md, "Enrichment"), a CSV file
// with a header row and a `device` column; every other column is a tag of the listed devices.
//
//   device,building,floor,"owner, team"
//   dev-0001,b7,3,"ops, north"
//   dev-0002,b7,,ops            <- an empty cell: dev-0002 gets no floor tag
//
// CSV as RFC 4180 says, hostile input in mind: fields may be quoted ("a, b", "say ""hi"""), quoted
// fields may span lines, records end in LF or CRLF, a UTF-8 byte-order mark is skipped, blank
// lines are skipped; spaces are part of a field. Every record has as many fields as the header.
// Errors name the source, the line (and column for syntax errors) and what to do; they never
// quote a tag value (the registry may hold what [privacy] keeps off the uplink).
//
// Memory: the values live in one buffer (at most the file's size) plus 8 bytes per non-empty
// cell and 16 per device; bounded by RegistryLimits.
//
// Thread safety: immutable after parse(); any number of threads may read it.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::agent {

struct RegistryLimits {
  // The text (file) may not be larger.
  std::uint64_t max_bytes = 8u << 20;
  // Rows after the header.
  std::size_t max_devices = 1'000'000;
  // Columns besides `device` (wire::Limits::max_tags).
  std::size_t max_tag_columns = 16;
  // Bytes of a column name, a device id or a value (wire::Limits::max_name_bytes).
  std::size_t max_value_bytes = 128;
};

class DeviceRegistry {
 public:
  static constexpr std::uint32_t kNoRow = std::numeric_limits<std::uint32_t>::max();

  // One non-empty cell of a device's row: the tag (column) and its value.
  struct Cell {
    std::uint32_t offset;  // of the value in the value buffer
    std::uint16_t size;
    std::uint16_t column;  // index into tag_keys()
  };

  // Parses CSV text. `source` names it in errors: "<source>:<line>: <what>".
  static Result<DeviceRegistry> parse(std::string_view text, std::string_view source,
                                      const RegistryLimits& limits = {});
  // Reads and parses a file: kNotFound / kIoError when it cannot be read, kInvalidArgument when
  // it is larger than limits.max_bytes or does not parse.
  static Result<DeviceRegistry> load(const std::string& path, const RegistryLimits& limits = {});

  // The row of `device`, or kNoRow. O(log devices).
  std::uint32_t find(std::string_view device) const;
  // A row's non-empty cells, sorted by tag key.
  std::span<const Cell> cells(std::uint32_t row) const {
    return {cells_.data() + row_begin_[row], cells_.data() + row_begin_[row + 1]};
  }
  std::string_view key(const Cell& c) const { return tag_keys_[c.column]; }
  std::string_view value(const Cell& c) const { return {values_.data() + c.offset, c.size}; }

  // Rows are numbered 0..devices()-1 in file order; a row's device id.
  std::size_t devices() const { return devices_.size(); }
  std::string_view device(std::uint32_t row) const {
    return {values_.data() + devices_[row].offset, devices_[row].size};
  }
  // The tag columns (every column but `device`), sorted.
  const std::vector<std::string>& tag_keys() const { return tag_keys_; }

 private:
  struct Span {
    std::uint32_t offset;
    std::uint32_t size;
  };
  DeviceRegistry() = default;

  std::string values_;                    // device ids and values, back to back
  std::vector<std::string> tag_keys_;     // sorted
  std::vector<Span> devices_;             // [row]
  std::vector<std::uint32_t> row_begin_;  // [row] -> first cell; one more entry than rows
  std::vector<Cell> cells_;
  std::vector<std::uint32_t> by_device_;  // rows sorted by device id
};

}  // namespace edgesketch::agent
