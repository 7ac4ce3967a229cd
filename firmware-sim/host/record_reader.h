// Reads a record file (record_format.h) front to back with large buffered reads. The file is
// untrusted input: every count and id is bounded, and a malformed or truncated file yields a
// CORRUPTION status naming the byte offset. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"
#include "record_writer.h"

namespace edgesketch::sim {

struct RecordDevice {
  std::string name;
  RecordTags tags;
  bool defined = false;
};

struct RecordMetric {
  std::string name;
  bool categorical = false;
  bool defined = false;
};

struct RecordMessage {
  RecordedMessageHeader header;
  std::vector<RecordedReading> readings;
};

class RecordReader {
 public:
  static Result<std::unique_ptr<RecordReader>> open(const std::string& path);
  ~RecordReader();

  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Reads entries up to the next MESSAGE and fills *message (its vector is reused). Returns
  // false once the END entry has been read and its totals checked. Definitions read on the way
  // are available below as soon as next() returns.
  Result<bool> next(RecordMessage& message);

  // Indexed by id; entries that were never defined have defined == false.
  const std::vector<RecordDevice>& devices() const { return devices_; }
  const std::vector<RecordMetric>& metrics() const { return metrics_; }
  const std::vector<std::string>& labels() const { return labels_; }

 private:
  RecordReader(std::string path, int fd);
  Status fill();  // keeps at least kWindow bytes buffered unless at end of file
  Status corrupt(const std::string& what) const;

  std::string path_;
  int fd_;
  std::vector<std::uint8_t> buf_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::uint64_t file_offset_ = 0;  // of buf_[0]
  bool eof_ = false;
  bool done_ = false;
  std::uint64_t messages_ = 0;
  std::uint64_t readings_ = 0;
  std::vector<RecordDevice> devices_;
  std::vector<RecordMetric> metrics_;
  std::vector<std::string> labels_;
};

}  // namespace edgesketch::sim
