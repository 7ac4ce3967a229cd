// DedupeLedger: which (tenant, gateway_id, seq) batches have been applied, as a set of closed
// seq intervals per gateway. Agents number batches consecutively, so the set stays a handful of
// intervals even while a backlog drains out of order next to live batches.
//
// Runs: an agent numbers its batches consecutively from where its outbox file started (1, or a
// random point in [2^32, 2^62) for a fresh file, so that a replaced file never reuses seqs). The
// intervals of a gateway therefore form a few *runs*: groups whose neighbouring intervals are at
// most max_run_gap apart. A seq is plausible when it lies in [1, 2^63) and either extends a run
// (within max_run_gap of one of its intervals) or starts a new run while the gateway has fewer
// than max_runs. check() refuses anything else, so a gateway's history (or a hostile client)
// cannot plant seqs that make a later gap look applied.
//
// Bound: at most max_intervals intervals per gateway. Past it the two neighbouring intervals of
// one run with the smallest gap between them are joined, i.e. that gap is declared applied
// (counted in forced_gaps()): a batch from it arriving later is taken for a duplicate. A forced
// join never crosses runs and never covers a seq above the highest one applied, so the seqs an
// agent has yet to send stay open. With the default of 4,096 intervals it takes more than 4,096
// separate holes in one gateway's sequence.
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

struct LedgerLimits {
  std::size_t max_intervals = 4096;
  // Neighbouring intervals at most this far apart belong to one run (an outbox file's seqs).
  std::uint64_t max_run_gap = std::uint64_t{1} << 20;
  // Runs one gateway may have (each one a replaced outbox file).
  std::size_t max_runs = 16;
};

// Seqs an agent can produce lie in [kMinSeq, kMaxSeq].
inline constexpr std::uint64_t kMinSeq = 1;
inline constexpr std::uint64_t kMaxSeq = (std::uint64_t{1} << 63) - 1;

class DedupeLedger {
 public:
  explicit DedupeLedger(LedgerLimits limits = {}) : limits_(limits) {}

  bool contains(std::string_view tenant, std::string_view gateway, std::uint64_t seq) const;
  // OK when `seq` is applied already or plausible for the gateway (see "Runs" above);
  // kInvalidArgument tagged [seq_out_of_range] otherwise.
  Status check(std::string_view tenant, std::string_view gateway, std::uint64_t seq) const;
  // Adds seq (a no-op when present). Does not check(): WAL replay re-inserts what was accepted.
  void insert(std::string_view tenant, std::string_view gateway, std::uint64_t seq);

  void encode(Bytes& out) const;
  // Decodes untrusted bytes (bounded allocation); kCorruption on anything malformed.
  static Result<DedupeLedger> decode(ByteSpan bytes, LedgerLimits limits = {});

  std::size_t gateways() const { return gateways_.size(); }
  std::uint64_t forced_gaps() const { return forced_gaps_; }
  friend bool operator==(const DedupeLedger& a, const DedupeLedger& b) {
    return a.gateways_ == b.gateways_;
  }

 private:
  using Intervals = std::map<std::uint64_t, std::uint64_t>;  // first -> last (inclusive)
  static std::string key(std::string_view tenant, std::string_view gateway);
  const Intervals* find(std::string_view tenant, std::string_view gateway) const;
  std::size_t runs(const Intervals& iv) const;
  void force_join(Intervals& iv);

  LedgerLimits limits_;
  std::unordered_map<std::string, Intervals> gateways_;
  std::uint64_t forced_gaps_ = 0;
  mutable std::string scratch_;
};

}  // namespace edgesketch::store
