// Writes a record file (record_format.h). The file appears under its final name only when
// finish() succeeds: it is written to "<path>.tmp", fsynced and renamed.
// Not thread-safe: one writer per file, used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::sim {

// One reading as the record stores it: dictionary ids, not strings.
struct RecordedReading {
  std::uint32_t metric_id = 0;
  std::int64_t ts_ms = 0;
  double value = 0;            // numeric metrics
  std::uint32_t label_id = 0;  // categorical metrics
};

struct RecordedMessageHeader {
  std::uint32_t device_id = 0;
  std::uint64_t batch_seq = 0;
  std::int64_t sent_ms = 0;
  std::uint8_t flags = 0;  // record::kFlag*
};

using RecordTags = std::vector<std::pair<std::string, std::string>>;

class RecordWriter {
 public:
  // Creates "<path>.tmp" and writes the header.
  static Result<std::unique_ptr<RecordWriter>> create(const std::string& path);
  ~RecordWriter();  // an unfinished file is removed

  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Definitions; each id once, before the first message that uses it.
  void define_device(std::uint32_t id, std::string_view name, const RecordTags& tags);
  void define_metric(std::uint32_t id, std::string_view name, bool categorical);
  void define_label(std::uint32_t id, std::string_view text);
  bool metric_is_categorical(std::uint32_t id) const;

  void add_message(const RecordedMessageHeader& header, std::span<const RecordedReading> readings);

  // Writes END, flushes, fsyncs and renames to the final path. The first I/O error of any
  // earlier call is reported here.
  Status finish();

  std::uint64_t messages() const { return messages_; }
  std::uint64_t readings() const { return readings_; }

 private:
  RecordWriter(std::string path, int fd);
  void flush_if_full();
  Status flush();

  std::string path_;
  int fd_;
  std::vector<std::uint8_t> buf_;
  std::vector<std::uint8_t> categorical_;  // by metric id: 0 numeric, 1 categorical
  std::uint64_t messages_ = 0;
  std::uint64_t readings_ = 0;
  Status error_;
  bool finished_ = false;
};

}  // namespace edgesketch::sim
