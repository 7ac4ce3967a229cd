// Record reader: a sliding 8 MiB buffer; every entry is parsed from memory with ByteReader.
#include "record_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "edgesketch/common/byte_coding.h"
#include "record_format.h"

namespace edgesketch::sim {
namespace {

// The largest entry the bounds allow is below 2 MiB (65,536 readings of at most 23 bytes).
constexpr std::size_t kWindow = 2u << 20;
constexpr std::size_t kBufferSize = 8u << 20;

}  // namespace

Result<std::unique_ptr<RecordReader>> RecordReader::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::io_error("record: cannot open '" + path + "': " + std::strerror(errno));
  }
  std::unique_ptr<RecordReader> r(new RecordReader(path, fd));
  // A small file is read whole; a large one through the 8 MiB window.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < kBufferSize) {
    r->buf_.resize(static_cast<std::size_t>(st.st_size) + 1);
  }
  ES_RETURN_IF_ERROR(r->fill());
  if (r->end_ < record::kHeaderSize) {
    return Status::corruption("record '" + path + "': shorter than its 16-byte header");
  }
  ByteReader in(ByteSpan(r->buf_.data(), record::kHeaderSize));
  ByteSpan magic = in.bytes(sizeof record::kMagic);
  std::uint16_t version = in.u16();
  if (std::memcmp(magic.data(), record::kMagic, sizeof record::kMagic) != 0) {
    return Status::corruption("record '" + path + "': not a record file (bad magic)");
  }
  if (version != record::kVersion) {
    return Status::corruption("record '" + path + "': version " + std::to_string(version) +
                              " is not supported (this reader knows version 1)");
  }
  r->pos_ = record::kHeaderSize;
  return r;
}

RecordReader::RecordReader(std::string path, int fd)
    : path_(std::move(path)), fd_(fd), buf_(kBufferSize) {}

RecordReader::~RecordReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status RecordReader::fill() {
  if (eof_ || end_ - pos_ >= kWindow) return Status();
  std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
  file_offset_ += pos_;
  end_ -= pos_;
  pos_ = 0;
  while (end_ < buf_.size()) {
    ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io_error("record: read of '" + path_ + "' failed: " + std::strerror(errno));
    }
    if (n == 0) {
      eof_ = true;
      break;
    }
    end_ += static_cast<std::size_t>(n);
  }
  return Status();
}

Status RecordReader::corrupt(const std::string& what) const {
  return Status::corruption("record '" + path_ + "': " + what + " (entry at byte " +
                            std::to_string(file_offset_ + pos_) + ")");
}

Result<bool> RecordReader::next(RecordMessage& message) {
  while (!done_) {
    ES_RETURN_IF_ERROR(fill());
    if (pos_ == end_) {
      return corrupt("file ends without an END entry (was the simulator killed?)");
    }
    ByteReader in(ByteSpan(buf_.data() + pos_, end_ - pos_));
    auto kind = static_cast<record::EntryKind>(in.u8());
    switch (kind) {
      case record::EntryKind::kDevice: {
        std::uint64_t id = in.varint();
        std::string_view name = in.string(record::kMaxString);
        std::uint64_t ntags = in.varint();
        if (!in.ok() || id >= record::kMaxId || ntags > record::kMaxTags) {
          return corrupt("bad DEVICE entry");
        }
        RecordTags tags;
        for (std::uint64_t i = 0; i < ntags; ++i) {
          std::string_view k = in.string(record::kMaxString);
          std::string_view v = in.string(record::kMaxString);
          tags.emplace_back(std::string(k), std::string(v));
        }
        if (!in.ok()) return corrupt("bad DEVICE tags");
        if (devices_.size() <= id) devices_.resize(id + 1);
        devices_[id] = RecordDevice{std::string(name), std::move(tags), true};
        break;
      }
      case record::EntryKind::kMetric: {
        std::uint64_t id = in.varint();
        std::string_view name = in.string(record::kMaxString);
        std::uint8_t categorical = in.u8();
        if (!in.ok() || id >= record::kMaxId || categorical > 1) {
          return corrupt("bad METRIC entry");
        }
        if (metrics_.size() <= id) metrics_.resize(id + 1);
        metrics_[id] = RecordMetric{std::string(name), categorical == 1, true};
        break;
      }
      case record::EntryKind::kLabel: {
        std::uint64_t id = in.varint();
        std::string_view text = in.string(record::kMaxString);
        if (!in.ok() || id >= record::kMaxId) return corrupt("bad LABEL entry");
        if (labels_.size() <= id) labels_.resize(id + 1);
        labels_[id] = std::string(text);
        break;
      }
      case record::EntryKind::kMessage: {
        RecordedMessageHeader& h = message.header;
        std::uint64_t device = in.varint();
        h.batch_seq = in.varint();
        h.sent_ms = in.svarint();
        h.flags = in.u8();
        std::uint64_t n = in.varint();
        if (!in.ok() || device >= devices_.size() || !devices_[device].defined ||
            n > record::kMaxReadingsPerMessage) {
          return corrupt("bad MESSAGE header (undefined device or too many readings)");
        }
        h.device_id = static_cast<std::uint32_t>(device);
        message.readings.resize(n);
        std::int64_t prev = h.sent_ms;
        for (RecordedReading& r : message.readings) {
          std::uint64_t metric = in.varint();
          if (metric >= metrics_.size() || !metrics_[metric].defined) {
            return corrupt("reading of an undefined metric " + std::to_string(metric));
          }
          r.metric_id = static_cast<std::uint32_t>(metric);
          r.ts_ms = prev + in.svarint();
          prev = r.ts_ms;
          if (metrics_[metric].categorical) {
            std::uint64_t label = in.varint();
            if (label >= labels_.size()) return corrupt("reading of an undefined label");
            r.label_id = static_cast<std::uint32_t>(label);
            r.value = 0;
          } else {
            r.value = in.f64();
            r.label_id = 0;
          }
        }
        if (!in.ok()) return corrupt("truncated MESSAGE entry");
        pos_ += static_cast<std::size_t>(in.position() - (buf_.data() + pos_));
        ++messages_;
        readings_ += n;
        return true;
      }
      case record::EntryKind::kEnd: {
        std::uint64_t messages = in.varint();
        std::uint64_t readings = in.varint();
        if (!in.ok()) return corrupt("truncated END entry");
        if (messages != messages_ || readings != readings_) {
          return corrupt("END says " + std::to_string(messages) + " messages and " +
                         std::to_string(readings) + " readings but the file holds " +
                         std::to_string(messages_) + " and " + std::to_string(readings_));
        }
        pos_ += static_cast<std::size_t>(in.position() - (buf_.data() + pos_));
        ES_RETURN_IF_ERROR(fill());
        if (pos_ != end_) return corrupt("bytes after the END entry");
        done_ = true;
        return false;
      }
      default:
        return corrupt("unknown entry kind " + std::to_string(static_cast<int>(kind)));
    }
    pos_ += static_cast<std::size_t>(in.position() - (buf_.data() + pos_));
  }
  return false;
}

}  // namespace edgesketch::sim
