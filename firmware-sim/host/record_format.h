// The record file: every reading edgesketch-sim sent, in send order, in a compact binary layout
// that `edgesketch-sim truth` scans at hundreds of MB/s.
//
// Layout, version 1 (all integers little-endian; varint = LEB128; svarint = zig-zag LEB128;
// string = varint length + bytes; f64 = IEEE 754 binary64):
//
//   header   8 bytes magic "ESSIMREC", u16 version (1), u16 flags (0), u32 reserved (0)
//   entries  each starts with a u8 kind:
//     1 DEVICE   varint device_id, string name, varint tag_count, tag_count x (string key,
//                string value)              -- batch tags (site, line); `device` is the name
//     2 METRIC   varint metric_id, string name, u8 categorical (0 numeric, 1 labels)
//     3 LABEL    varint label_id, string text
//     4 MESSAGE  varint device_id, varint batch_seq, svarint sent_ms, u8 flags,
//                varint reading_count, then reading_count readings:
//                  varint metric_id, svarint ts_ms - previous ts (the first: - sent_ms),
//                  then f64 value (numeric metric) or varint label_id (categorical metric)
//     5 END      varint message_count, varint reading_count   -- the file is complete
//
// Definitions come before first use; ids are small dense integers. sent_ms is the simulated
// (true) time the message was sent. Message flags: bit 0 = duplicate copy of the previous
// message with this (device, batch_seq), bit 1 = late (held back, sent in a burst). A file
// without END was cut short (the simulator was killed) and readers reject it.
#pragma once

#include <cstdint>

namespace edgesketch::sim::record {

inline constexpr char kMagic[8] = {'E', 'S', 'S', 'I', 'M', 'R', 'E', 'C'};
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 16;

enum class EntryKind : std::uint8_t {
  kDevice = 1,
  kMetric = 2,
  kLabel = 3,
  kMessage = 4,
  kEnd = 5,
};

inline constexpr std::uint8_t kFlagDuplicate = 1;
inline constexpr std::uint8_t kFlagLate = 2;

// Bounds a reader enforces on hostile files.
inline constexpr std::uint64_t kMaxId = 1u << 20;  // the simulator allows 1,000,000 devices
inline constexpr std::uint64_t kMaxString = 4096;
inline constexpr std::uint64_t kMaxTags = 64;
inline constexpr std::uint64_t kMaxReadingsPerMessage = 1u << 16;

}  // namespace edgesketch::sim::record
