// DedupeLedger: which (tenant, gateway_id, seq) batches have been applied, as a set of closed
// seq intervals per gateway. Agents number batches consecutively, so the set stays a handful of
// intervals even while a backlog drains out of order next to live batches.
//
// Bound: at most max_intervals intervals per gateway. Past it the two lowest intervals are
// joined, i.e. the oldest gap is declared applied (counted in forced_gaps()): a batch from that
// gap arriving later is taken for a duplicate. With the default of 4,096 that needs more than
// 4,096 separate holes in one gateway's sequence.
//
// Encoding (inside the store's MANIFEST): varint gateways; per gateway: string key (tenant,
// NUL, gateway_id), varint n, n x (varint first - previous last, varint last - first).
//
// Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::store {

class DedupeLedger {
 public:
  explicit DedupeLedger(std::size_t max_intervals = 4096) : max_intervals_(max_intervals) {}

  bool contains(std::string_view tenant, std::string_view gateway, std::uint64_t seq) const;
  // Adds seq (a no-op when present).
  void insert(std::string_view tenant, std::string_view gateway, std::uint64_t seq);

  void encode(Bytes& out) const;
  // Decodes untrusted bytes (bounded allocation); kCorruption on anything malformed.
  static Result<DedupeLedger> decode(ByteSpan bytes, std::size_t max_intervals = 4096);

  std::size_t gateways() const { return gateways_.size(); }
  std::uint64_t forced_gaps() const { return forced_gaps_; }
  friend bool operator==(const DedupeLedger& a, const DedupeLedger& b) {
    return a.gateways_ == b.gateways_;
  }

 private:
  using Intervals = std::map<std::uint64_t, std::uint64_t>;  // first -> last (inclusive)
  static std::string key(std::string_view tenant, std::string_view gateway);

  std::size_t max_intervals_;
  std::unordered_map<std::string, Intervals> gateways_;
  std::uint64_t forced_gaps_ = 0;
  mutable std::string scratch_;
};

}  // namespace edgesketch::store
