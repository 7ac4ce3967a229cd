// Interval sets of applied batch seqs per gateway, and their encoding.
#include "dedupe_ledger.h"

#include <iterator>

namespace edgesketch::store {

std::string DedupeLedger::key(std::string_view tenant, std::string_view gateway) {
  std::string k(tenant);
  k.push_back('\0');
  k.append(gateway);
  return k;
}

bool DedupeLedger::contains(std::string_view tenant, std::string_view gateway,
                            std::uint64_t seq) const {
  scratch_.assign(tenant);
  scratch_.push_back('\0');
  scratch_.append(gateway);
  auto g = gateways_.find(scratch_);
  if (g == gateways_.end()) return false;
  const Intervals& iv = g->second;
  auto it = iv.upper_bound(seq);
  if (it == iv.begin()) return false;
  --it;
  return seq <= it->second;
}

void DedupeLedger::insert(std::string_view tenant, std::string_view gateway, std::uint64_t seq) {
  Intervals& iv = gateways_[key(tenant, gateway)];
  auto next = iv.upper_bound(seq);
  if (next != iv.begin()) {
    auto prev = std::prev(next);
    if (seq <= prev->second) return;  // present
    if (prev->second + 1 == seq) {
      prev->second = seq;
      if (next != iv.end() && next->first == seq + 1) {
        prev->second = next->second;
        iv.erase(next);
      }
      return;
    }
  }
  if (next != iv.end() && next->first == seq + 1) {
    const std::uint64_t last = next->second;
    iv.erase(next);
    iv.emplace(seq, last);
    return;
  }
  iv.emplace(seq, seq);
  if (iv.size() > max_intervals_) {
    auto first = iv.begin();
    auto second = std::next(first);
    first->second = second->second;
    iv.erase(second);
    ++forced_gaps_;
  }
}

void DedupeLedger::encode(Bytes& out) const {
  // Sorted by key so that equal ledgers encode to equal bytes.
  std::map<std::string_view, const Intervals*> sorted;
  for (const auto& [k, iv] : gateways_) sorted.emplace(k, &iv);
  put_varint(out, sorted.size());
  for (const auto& [k, iv] : sorted) {
    put_string(out, k);
    put_varint(out, iv->size());
    std::uint64_t prev = 0;
    for (const auto& [first, last] : *iv) {
      put_varint(out, first - prev);
      put_varint(out, last - first);
      prev = last;
    }
  }
}

Result<DedupeLedger> DedupeLedger::decode(ByteSpan bytes, std::size_t max_intervals) {
  DedupeLedger ledger(max_intervals);
  if (bytes.empty()) return ledger;  // a store that never flushed
  ByteReader r(bytes);
  const std::uint64_t n = r.varint();
  if (!r.ok() || n > r.remaining()) return Status::corruption("ledger: bad gateway count");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string k(r.string(4096));
    const std::uint64_t m = r.varint();
    if (!r.ok() || m > r.remaining() / 2 || m > max_intervals) {
      return Status::corruption("ledger: bad interval count for gateway " + std::to_string(i));
    }
    Intervals& iv = ledger.gateways_[k];
    std::uint64_t prev = 0;
    for (std::uint64_t j = 0; j < m; ++j) {
      const std::uint64_t gap = r.varint();
      const std::uint64_t len = r.varint();
      const std::uint64_t first = prev + gap;
      if (!r.ok() || first < prev || (j > 0 && gap < 2) || first + len < first) {
        return Status::corruption("ledger: bad interval " + std::to_string(j) + " of gateway " +
                                  std::to_string(i));
      }
      iv.emplace_hint(iv.end(), first, first + len);
      prev = first + len;
    }
  }
  if (!r.ok() || !r.at_end()) return Status::corruption("ledger: truncated or trailing bytes");
  return ledger;
}

}  // namespace edgesketch::store
