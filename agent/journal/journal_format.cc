// Encoding and tolerant scanning of journal segments (layout in journal_format.h).
#include "journal/journal_format.h"

#include <cstdio>
#include <cstring>

#include "edgesketch/common/crc32c.h"

namespace edgesketch::agent {

namespace {

constexpr std::string_view kNamePrefix = "journal-";
constexpr std::string_view kNameSuffix = ".log";

std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::uint32_t record_crc(const std::uint8_t* record_no_type, ByteSpan payload) {
  std::uint32_t crc = crc32c_extend(0, record_no_type, 9);
  return crc32c_extend(crc, payload.data(), payload.size());
}

// The record at `off` if it is valid with number `want`, else nullopt-equivalent: its size or 0.
std::size_t valid_record_at(ByteSpan data, std::size_t off, std::uint64_t want) {
  if (data.size() - off < kRecordHeaderBytes) return 0;
  const std::uint8_t* p = data.data() + off;
  std::uint32_t n = load_u32(p);
  if (n > kMaxJournalPayload || n > data.size() - off - kRecordHeaderBytes) return 0;
  if (load_u64(p + 8) != want) return 0;
  if (record_crc(p + 8, ByteSpan(p + kRecordHeaderBytes, n)) != load_u32(p + 4)) return 0;
  return kRecordHeaderBytes + n;
}

// True when some valid record with a plausible number starts after `bad_off`: then the invalid
// record at `bad_off` is damage in the middle rather than a torn tail. A record numbered
// `next` or later, but not beyond what the remaining bytes could hold, is plausible.
bool valid_record_follows(ByteSpan data, std::size_t bad_off, std::uint64_t next) {
  const std::uint64_t max_no = next + (data.size() - bad_off) / kRecordHeaderBytes;
  for (std::size_t off = bad_off + 1; off + kRecordHeaderBytes <= data.size(); ++off) {
    std::uint64_t no = load_u64(data.data() + off + 8);
    if (no < next || no > max_no) continue;  // cheap filter before the CRC
    if (valid_record_at(data, off, no) != 0) return true;
  }
  return false;
}

}  // namespace

std::string segment_file_name(std::uint64_t first_record_no) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "journal-%016llx.log",
                static_cast<unsigned long long>(first_record_no));
  return buf;
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != kNamePrefix.size() + 16 + kNameSuffix.size()) return std::nullopt;
  if (!name.starts_with(kNamePrefix) || !name.ends_with(kNameSuffix)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : name.substr(kNamePrefix.size(), 16)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return v;
}

void append_segment_header(Bytes& out, std::uint64_t first_record_no) {
  const std::size_t start = out.size();
  out.insert(out.end(), kJournalMagic, kJournalMagic + sizeof kJournalMagic);
  put_u32(out, kJournalVersion);
  put_u64(out, first_record_no);
  put_u32(out, crc32c(out.data() + start, out.size() - start));
}

void append_record(Bytes& out, std::uint64_t record_no, std::uint8_t type, ByteSpan payload) {
  std::uint8_t no_type[9];
  std::memcpy(no_type, &record_no, 8);
  no_type[8] = type;
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, record_crc(no_type, payload));
  out.insert(out.end(), no_type, no_type + sizeof no_type);
  put_bytes(out, payload);
}

SegmentScan scan_segment(ByteSpan data,
                         const std::function<void(std::uint64_t record_no, std::uint8_t type,
                                                  ByteSpan payload)>& on_record) {
  SegmentScan scan;
  if (data.size() < kSegmentHeaderBytes ||
      std::memcmp(data.data(), kJournalMagic, sizeof kJournalMagic) != 0 ||
      crc32c(data.data(), 20) != load_u32(data.data() + 20)) {
    scan.end = SegmentEnd::kBadHeader;
    return scan;
  }
  scan.version = load_u32(data.data() + 8);
  scan.first_record_no = load_u64(data.data() + 12);
  if (scan.version != kJournalVersion) {
    scan.end = SegmentEnd::kBadHeader;
    return scan;
  }
  std::size_t off = kSegmentHeaderBytes;
  std::uint64_t next = scan.first_record_no;
  while (off < data.size()) {
    std::size_t n = valid_record_at(data, off, next);
    if (n == 0) {
      scan.end =
          valid_record_follows(data, off, next) ? SegmentEnd::kCorrupt : SegmentEnd::kTornTail;
      break;
    }
    if (on_record) {
      const std::uint8_t* p = data.data() + off;
      on_record(next, p[16], ByteSpan(p + kRecordHeaderBytes, n - kRecordHeaderBytes));
    }
    scan.last_record_no = next;
    ++scan.records;
    ++next;
    off += n;
  }
  scan.valid_bytes = off;
  return scan;
}

}  // namespace edgesketch::agent
