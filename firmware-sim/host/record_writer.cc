// Buffered record writer: entries are appended to a memory buffer written out in 1 MiB chunks.
#include "record_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "edgesketch/common/byte_coding.h"
#include "record_format.h"

namespace edgesketch::sim {
namespace {

constexpr std::size_t kFlushBytes = 1 << 20;

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Result<std::unique_ptr<RecordWriter>> RecordWriter::create(const std::string& path) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::io_error("record: cannot create '" + tmp + "': " + errno_text() +
                            " (check that the directory exists and is writable)");
  }
  std::unique_ptr<RecordWriter> w(new RecordWriter(path, fd));
  w->buf_.insert(w->buf_.end(), record::kMagic, record::kMagic + sizeof record::kMagic);
  put_u16(w->buf_, record::kVersion);
  put_u16(w->buf_, 0);
  put_u32(w->buf_, 0);
  return w;
}

RecordWriter::RecordWriter(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
  buf_.reserve(kFlushBytes + (64 << 10));
}

RecordWriter::~RecordWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink((path_ + ".tmp").c_str());
}

void RecordWriter::define_device(std::uint32_t id, std::string_view name, const RecordTags& tags) {
  put_u8(buf_, static_cast<std::uint8_t>(record::EntryKind::kDevice));
  put_varint(buf_, id);
  put_string(buf_, name);
  put_varint(buf_, tags.size());
  for (const auto& [key, value] : tags) {
    put_string(buf_, key);
    put_string(buf_, value);
  }
  flush_if_full();
}

void RecordWriter::define_metric(std::uint32_t id, std::string_view name, bool categorical) {
  put_u8(buf_, static_cast<std::uint8_t>(record::EntryKind::kMetric));
  put_varint(buf_, id);
  put_string(buf_, name);
  put_u8(buf_, categorical ? 1 : 0);
  if (categorical_.size() <= id) categorical_.resize(id + 1, 0);
  categorical_[id] = categorical ? 1 : 0;
  flush_if_full();
}

bool RecordWriter::metric_is_categorical(std::uint32_t id) const {
  return id < categorical_.size() && categorical_[id] != 0;
}

void RecordWriter::define_label(std::uint32_t id, std::string_view text) {
  put_u8(buf_, static_cast<std::uint8_t>(record::EntryKind::kLabel));
  put_varint(buf_, id);
  put_string(buf_, text);
  flush_if_full();
}

void RecordWriter::add_message(const RecordedMessageHeader& header,
                               std::span<const RecordedReading> readings) {
  put_u8(buf_, static_cast<std::uint8_t>(record::EntryKind::kMessage));
  put_varint(buf_, header.device_id);
  put_varint(buf_, header.batch_seq);
  put_svarint(buf_, header.sent_ms);
  put_u8(buf_, header.flags);
  put_varint(buf_, readings.size());
  std::int64_t prev = header.sent_ms;
  for (const RecordedReading& r : readings) {
    put_varint(buf_, r.metric_id);
    put_svarint(buf_, r.ts_ms - prev);
    prev = r.ts_ms;
    if (metric_is_categorical(r.metric_id)) {
      put_varint(buf_, r.label_id);
    } else {
      put_f64(buf_, r.value);
    }
  }
  ++messages_;
  readings_ += readings.size();
  flush_if_full();
}

void RecordWriter::flush_if_full() {
  if (buf_.size() >= kFlushBytes) {
    Status s = flush();
    if (!s.ok() && error_.ok()) error_ = s;
  }
}

Status RecordWriter::flush() {
  std::size_t off = 0;
  while (off < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      buf_.clear();
      return Status::io_error("record: write to '" + path_ + ".tmp' failed: " + errno_text());
    }
    off += static_cast<std::size_t>(n);
  }
  buf_.clear();
  return Status();
}

Status RecordWriter::finish() {
  if (finished_) return Status::failed_precondition("record: finish() called twice");
  put_u8(buf_, static_cast<std::uint8_t>(record::EntryKind::kEnd));
  put_varint(buf_, messages_);
  put_varint(buf_, readings_);
  ES_RETURN_IF_ERROR(error_);
  ES_RETURN_IF_ERROR(flush());
  if (::fsync(fd_) != 0) {
    return Status::io_error("record: fsync of '" + path_ + ".tmp' failed: " + errno_text());
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Status::io_error("record: close of '" + path_ + ".tmp' failed: " + errno_text());
  }
  fd_ = -1;
  std::string tmp = path_ + ".tmp";
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return Status::io_error("record: rename '" + tmp + "' -> '" + path_ +
                            "' failed: " + errno_text());
  }
  finished_ = true;
  // Make the rename itself durable.
  std::string dir = ".";
  if (auto slash = path_.rfind('/'); slash != std::string::npos) dir = path_.substr(0, slash + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status();
}

}  // namespace edgesketch::sim
