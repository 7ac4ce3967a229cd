// Manifest encoding.
#include "manifest.h"

#include <cstring>

#include "edgesketch/common/crc32c.h"

namespace edgesketch::store {
namespace {
constexpr char kMagic[8] = {'E', 'S', 'M', 'A', 'N', 'I', 'F', '1'};
constexpr std::uint32_t kVersion = 1;
}  // namespace

Bytes Manifest::encode() const {
  Bytes out;
  for (char c : kMagic) out.push_back(static_cast<std::uint8_t>(c));
  put_u32(out, kVersion);
  put_u64(out, wal_replay_from);
  put_u64(out, next_part_id);
  put_varint(out, parts.size());
  for (const auto& p : parts) {
    put_string(out, p.path);
    put_string(out, p.tenant);
    put_u32(out, p.tier_ms);
    put_u64(out, static_cast<std::uint64_t>(p.day));
    put_u64(out, p.rows);
    put_u64(out, p.bytes);
    put_u64(out, static_cast<std::uint64_t>(p.min_ws));
    put_u64(out, static_cast<std::uint64_t>(p.max_ws));
  }
  put_varint(out, ledger.size());
  put_bytes(out, ledger);
  put_u32(out, crc32c(out));
  return out;
}

Result<Manifest> Manifest::decode(ByteSpan bytes) {
  if (bytes.size() < 12 || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    return Status::corruption("manifest: bad magic or truncated");
  }
  std::uint32_t crc;
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  if (crc32c(bytes.data(), bytes.size() - 4) != crc) {
    return Status::corruption("manifest: checksum mismatch");
  }
  ByteReader r(bytes.subspan(8, bytes.size() - 12));
  Manifest m;
  if (r.u32() != kVersion) return Status::corruption("manifest: unknown version");
  m.wal_replay_from = r.u64();
  m.next_part_id = r.u64();
  const std::uint64_t n = r.varint();
  if (!r.ok() || n > r.remaining() / 40) return Status::corruption("manifest: bad part count");
  m.parts.resize(n);
  for (auto& p : m.parts) {
    p.path = std::string(r.string(4096));
    p.tenant = std::string(r.string(1024));
    p.tier_ms = r.u32();
    p.day = static_cast<std::int64_t>(r.u64());
    p.rows = r.u64();
    p.bytes = r.u64();
    p.min_ws = static_cast<std::int64_t>(r.u64());
    p.max_ws = static_cast<std::int64_t>(r.u64());
  }
  const std::uint64_t ledger_len = r.varint();
  if (!r.ok() || ledger_len != r.remaining()) return Status::corruption("manifest: bad ledger");
  ByteSpan l = r.bytes(ledger_len);
  m.ledger.assign(l.begin(), l.end());
  return m;
}

}  // namespace edgesketch::store
