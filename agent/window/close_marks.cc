// Close marks codec (layout in close_marks.h).
#include "window/close_marks.h"

#include <string>

namespace edgesketch::agent {

Bytes encode_close_marks(std::span<const CloseMark> marks) {
  Bytes out;
  out.reserve(2 + marks.size() * 16);
  put_u8(out, kCloseMarksVersion);
  put_varint(out, marks.size());
  for (const CloseMark& m : marks) {
    put_u64(out, m.series_hash);
    put_svarint(out, m.window_start_ms);
    put_varint(out, m.fed_upto);
  }
  return out;
}

Result<std::vector<CloseMark>> decode_close_marks(ByteSpan bytes) {
  ByteReader in(bytes);
  const std::uint8_t version = in.u8();
  if (!in.ok() || version != kCloseMarksVersion) {
    return Status::corruption("close marks: version " + std::to_string(version) + " is not " +
                              std::to_string(kCloseMarksVersion));
  }
  const std::uint64_t count = in.varint();
  if (!in.ok() || count > kMaxCloseMarks || count > in.remaining() / 10) {
    return Status::corruption("close marks: count " + std::to_string(count) + " does not fit " +
                              std::to_string(in.remaining()) + " bytes");
  }
  std::vector<CloseMark> marks;
  marks.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    CloseMark m;
    m.series_hash = in.u64();
    m.window_start_ms = in.svarint();
    m.fed_upto = in.varint();
    if (!in.ok() || m.fed_upto == 0) {
      return Status::corruption("close marks: mark " + std::to_string(i) +
                                " is truncated or "
                                "has fed_upto 0");
    }
    marks.push_back(m);
  }
  if (!in.at_end()) {
    return Status::corruption("close marks: " + std::to_string(in.remaining()) +
                              " bytes after the last mark");
  }
  return marks;
}

}  // namespace edgesketch::agent
