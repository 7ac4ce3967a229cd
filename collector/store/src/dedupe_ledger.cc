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

const DedupeLedger::Intervals* DedupeLedger::find(std::string_view tenant,
                                                  std::string_view gateway) const {
  scratch_.assign(tenant);
  scratch_.push_back('\0');
  scratch_.append(gateway);
  auto g = gateways_.find(scratch_);
  return g == gateways_.end() ? nullptr : &g->second;
}

bool DedupeLedger::contains(std::string_view tenant, std::string_view gateway,
                            std::uint64_t seq) const {
  const Intervals* iv = find(tenant, gateway);
  if (iv == nullptr) return false;
  auto it = iv->upper_bound(seq);
  if (it == iv->begin()) return false;
  --it;
  return seq <= it->second;
}

std::size_t DedupeLedger::runs(const Intervals& iv) const {
  std::size_t n = 0;
  std::uint64_t prev_last = 0;
  for (const auto& [first, last] : iv) {
    if (n == 0 || first - prev_last > limits_.max_run_gap) ++n;
    prev_last = last;
  }
  return n;
}

Status DedupeLedger::check(std::string_view tenant, std::string_view gateway,
                           std::uint64_t seq) const {
  const auto refuse = [&](const std::string& why) {
    return Status::invalid_argument("seq " + std::to_string(seq) + " of gateway '" +
                                    std::string(gateway) + "': " + why + " [seq_out_of_range]");
  };
  if (seq < kMinSeq || seq > kMaxSeq) {
    return refuse("outside [1, 2^63), where every agent numbers its batches");
  }
  const Intervals* iv = find(tenant, gateway);
  if (iv == nullptr || iv->empty()) return Status();
  auto next = iv->upper_bound(seq);
  if (next != iv->begin()) {
    auto prev = std::prev(next);
    if (seq <= prev->second) return Status();  // applied: a duplicate
    if (seq - prev->second <= limits_.max_run_gap) return Status();
  }
  if (next != iv->end() && next->first - seq <= limits_.max_run_gap) return Status();
  const std::size_t have = runs(*iv);
  if (have < limits_.max_runs) return Status();
  return refuse("more than " + std::to_string(limits_.max_run_gap) +
                " from every seq applied before, and the gateway has " + std::to_string(have) +
                " runs of seqs already (the most allowed; each run is an outbox file)");
}

// Joins the two neighbouring intervals of one run with the smallest gap between them. The gap
// lies below the run's highest applied seq, so no seq still to come is declared applied.
void DedupeLedger::force_join(Intervals& iv) {
  auto best = iv.end();
  std::uint64_t best_gap = 0;
  for (auto it = iv.begin(), nx = std::next(it); nx != iv.end(); it = nx++) {
    const std::uint64_t gap = nx->first - it->second;
    if (gap > limits_.max_run_gap) continue;  // another run
    if (best == iv.end() || gap < best_gap) {
      best = it;
      best_gap = gap;
    }
  }
  if (best == iv.end()) {
    // Only single-interval runs (max_runs >= max_intervals): join the two closest ones.
    for (auto it = iv.begin(), nx = std::next(it); nx != iv.end(); it = nx++) {
      const std::uint64_t gap = nx->first - it->second;
      if (best == iv.end() || gap < best_gap) {
        best = it;
        best_gap = gap;
      }
    }
  }
  auto nx = std::next(best);
  best->second = nx->second;
  iv.erase(nx);
  ++forced_gaps_;
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
  if (iv.size() > limits_.max_intervals) force_join(iv);
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

Result<DedupeLedger> DedupeLedger::decode(ByteSpan bytes, LedgerLimits limits) {
  DedupeLedger ledger(limits);
  if (bytes.empty()) return ledger;  // a store that never flushed
  ByteReader r(bytes);
  const std::uint64_t n = r.varint();
  if (!r.ok() || n > r.remaining()) return Status::corruption("ledger: bad gateway count");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string k(r.string(4096));
    const std::uint64_t m = r.varint();
    if (!r.ok() || m > r.remaining() / 2 || m > limits.max_intervals) {
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
