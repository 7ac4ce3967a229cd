// Byte layout of the reading journal's segment files, and a parser that tolerates torn and
// corrupt data (it never reads out of bounds and never allocates from a length it read).
//
// Segment file `journal-<first_record_no as 16 lowercase hex digits>.log`:
//
//   segment header (24 bytes)
//     0  u8[8]  magic "ESJOURNL"
//     8  u32    format version (kJournalVersion = 1)
//    12  u64    first_record_no (equals the number in the file name)
//    20  u32    crc32c of bytes 0..19
//   then records, back to back:
//     0  u32    payload length n (<= kMaxJournalPayload)
//     4  u32    crc32c of bytes 8..(17+n-1), i.e. of (record_no, type, payload)
//     8  u64    record_no
//    16  u8     input/format type (opaque to the journal)
//    17  u8[n]  payload
//
// All integers are little-endian. Within a segment record numbers are consecutive, starting at
// first_record_no; across segments they increase but may have gaps (after a corrupt segment the
// journal skips numbers rather than risk reusing one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "edgesketch/common/byte_coding.h"

namespace edgesketch::agent {

inline constexpr char kJournalMagic[8] = {'E', 'S', 'J', 'O', 'U', 'R', 'N', 'L'};
inline constexpr std::uint32_t kJournalVersion = 1;
inline constexpr std::size_t kSegmentHeaderBytes = 24;
inline constexpr std::size_t kRecordHeaderBytes = 17;
// Upper bound on one payload; bigger lengths in a file are treated as corruption.
inline constexpr std::uint32_t kMaxJournalPayload = 16u << 20;

// "journal-00000000000000ff.log" for 255.
std::string segment_file_name(std::uint64_t first_record_no);
// The inverse; nullopt for any other name.
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name);

void append_segment_header(Bytes& out, std::uint64_t first_record_no);
void append_record(Bytes& out, std::uint64_t record_no, std::uint8_t type, ByteSpan payload);

// How a segment's bytes end.
enum class SegmentEnd {
  kClean,      // the last record ends exactly at the end of the data
  kTornTail,   // after the last valid record come bytes that hold no valid record: the prefix
               // of a record cut short by a crash (or garbage where it would have been)
  kCorrupt,    // an invalid record is followed by a valid one: damage in the middle
  kBadHeader,  // the segment header is missing, short or does not check out
};

struct SegmentScan {
  SegmentEnd end = SegmentEnd::kClean;
  // Header fields (meaningful unless end == kBadHeader).
  std::uint32_t version = 0;
  std::uint64_t first_record_no = 0;
  // Valid records and the number of the last one (0 when there is none).
  std::uint64_t records = 0;
  std::uint64_t last_record_no = 0;
  // Offset just past the last valid record (the header size when there is none; 0 on
  // kBadHeader). Truncating to it removes a torn tail.
  std::size_t valid_bytes = 0;
};

// Walks `data` (a whole segment file) and calls `on_record` for each valid record in order,
// stopping at the first invalid one. A record is valid when its length is within bounds and
// inside the data, its CRC matches and its record_no is the next consecutive number.
// A header with an unknown version ends the scan with kBadHeader and version set.
SegmentScan scan_segment(ByteSpan data,
                         const std::function<void(std::uint64_t record_no, std::uint8_t type,
                                                  ByteSpan payload)>& on_record);

}  // namespace edgesketch::agent
