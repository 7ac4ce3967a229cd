// Close marks: what replay needs to know so a journal record is never counted twice.
//
// A journal record (one payload) can feed several windows that close at different times, so the
// journal_upto committed with a batch stays below such a record until all of its windows are
// closed. After a crash the journal is replayed from journal_upto + 1, and the readings of that
// record that went into an already committed window would be counted again. A CloseMark says
// "window (series, start) was committed holding everything fed to it up to journal record
// fed_upto": replay skips exactly those readings (Aggregator::set_replay_fence).
//
// The app commits the marks of each batch from take_batches() (encode_close_marks) in the
// outbox, in the batch's own transaction (Outbox::append's CloseMarksBlob), so no crash or power
// loss can separate a committed window from its mark; on start it reads them back
// (Outbox::close_marks) and replays the readings with the fence set.
//
// Byte layout (version 1, little-endian; varint = LEB128, svarint = zig-zag LEB128):
//   | field           | encoding | notes                                        |
//   |-----------------|----------|----------------------------------------------|
//   | version         | u8       | 1                                            |
//   | count           | varint   | marks that follow, at most kMaxCloseMarks    |
//   | per mark:       |          |                                              |
//   |   series_hash   | u64      | the aggregator's series hash                 |
//   |   window_start  | svarint  | Unix ms                                      |
//   |   fed_upto      | varint   | journal record number, >= 1                  |
// Nothing may follow the last mark. The decoder rejects anything else with kCorruption and
// allocates only after checking that the input can hold `count` marks (10 bytes each at least).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::agent {

inline constexpr std::uint8_t kCloseMarksVersion = 1;
inline constexpr std::uint64_t kMaxCloseMarks = 1u << 20;

struct CloseMark {
  std::uint64_t series_hash = 0;
  std::int64_t window_start_ms = 0;
  std::uint64_t fed_upto = 0;

  friend bool operator==(const CloseMark&, const CloseMark&) = default;
};

Bytes encode_close_marks(std::span<const CloseMark> marks);
Result<std::vector<CloseMark>> decode_close_marks(ByteSpan bytes);

}  // namespace edgesketch::agent
