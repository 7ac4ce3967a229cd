// Fault decisions and payload corruption (see fault_injector.h).
#include "fault_injector.h"

namespace edgesketch::sim {
namespace {

constexpr std::uint64_t kFaultStream = 0xFA017;
constexpr std::uint64_t kSkewStream = 0x5CE3;

// Offset of the first byte after the length prefix of the first top-level field 3 (samples) of a
// ReadingBatch, and its length; false when there is none.
bool find_first_samples(const std::string& p, std::size_t& start, std::size_t& len) {
  std::size_t i = 0;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && i < p.size(); shift += 7) {
      auto b = static_cast<std::uint8_t>(p[i++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return true;
    }
    return false;
  };
  while (i < p.size()) {
    std::uint64_t key = 0, v = 0;
    if (!varint(key)) return false;
    switch (key & 7) {
      case 0:
        if (!varint(v)) return false;
        break;
      case 2:
        if (!varint(v) || v > p.size() - i) return false;
        if ((key >> 3) == 3) {
          start = i;
          len = static_cast<std::size_t>(v);
          return true;
        }
        i += static_cast<std::size_t>(v);
        break;
      default:
        return false;  // ReadingBatch has no fixed-width top-level fields
    }
  }
  return false;
}

}  // namespace

FaultInjector::FaultInjector(const FaultOptions& options, std::uint64_t seed, std::uint32_t devices)
    : options_(options),
      any_(options.skew_ratio > 0 || options.late_ratio > 0 || options.duplicate_ratio > 0 ||
           options.offline_ratio > 0 || options.malformed_ratio > 0),
      states_(devices),
      skew_ms_(devices, 0) {
  for (std::uint32_t d = 0; d < devices; ++d) {
    es_rng_seed(&states_[d].rng, es_seed_mix(seed, d, kFaultStream));
    es_rng skew;
    es_rng_seed(&skew, es_seed_mix(seed, d, kSkewStream));
    double u = es_rng_uniform(&skew);
    std::uint32_t span = static_cast<std::uint32_t>(2 * options.skew_ms + 1);
    std::int64_t offset = static_cast<std::int64_t>(es_rng_below(&skew, span)) - options.skew_ms;
    if (u < options.skew_ratio && options.skew_ms > 0) skew_ms_[d] = offset;
  }
}

MessageFate FaultInjector::decide(std::uint32_t device, std::int64_t ready_ms) {
  MessageFate fate;
  if (!any_) return fate;
  DeviceState& s = states_[device];
  const double u_offline = es_rng_uniform(&s.rng);
  const double u_malformed = es_rng_uniform(&s.rng);
  const double u_duplicate = es_rng_uniform(&s.rng);
  const double u_late = es_rng_uniform(&s.rng);
  if (ready_ms < s.offline_until) {
    fate.offline = true;
    return fate;
  }
  if (u_offline < options_.offline_ratio) {
    s.offline_until = ready_ms + options_.offline_ms;
    fate.offline = true;
    return fate;
  }
  fate.malformed = u_malformed < options_.malformed_ratio;
  if (fate.malformed) return fate;  // sent at once, never held or duplicated
  fate.duplicate = u_duplicate < options_.duplicate_ratio;
  if (ready_ms < s.hold_until) {
    fate.hold = true;
  } else if (u_late < options_.late_ratio && options_.late_ms > 0) {
    s.hold_until = ready_ms + options_.late_ms;
    fate.hold = true;
  }
  return fate;
}

void FaultInjector::corrupt(std::uint32_t device, PayloadFormat format, std::string& payload) {
  es_rng& rng = states_[device].rng;
  const bool truncate = es_rng_below(&rng, 2) == 0;
  if (truncate) {
    std::size_t cut = 0;
    bool ok = false;
    switch (format) {
      case PayloadFormat::kNanopb: {
        std::size_t start = 0, len = 0;
        if (find_first_samples(payload, start, len) && len > 0) {
          cut = start + es_rng_below(&rng, static_cast<std::uint32_t>(len));
          ok = true;
        }
        break;
      }
      case PayloadFormat::kJson:
      case PayloadFormat::kJsonFields:
        if (payload.size() > 1) {
          cut = 1 + es_rng_below(&rng, static_cast<std::uint32_t>(payload.size() - 1));
          ok = true;
        }
        break;
      case PayloadFormat::kLine: {
        std::size_t space = payload.find(' ');
        if (space != std::string::npos && space > 1) {
          cut = 1 + es_rng_below(&rng, static_cast<std::uint32_t>(space - 1));
          ok = true;
        }
        break;
      }
      case PayloadFormat::kValue:
        break;  // a prefix of a number is a number: garbage only
    }
    if (ok) {
      payload.resize(cut);
      return;
    }
  }
  const std::size_t n = 1 + es_rng_below(&rng, 64);
  payload.assign(1, '\x07');
  for (std::size_t i = 1; i < n; ++i) {
    payload.push_back(static_cast<char>(0x80 | es_rng_below(&rng, 0x80)));
  }
}

}  // namespace edgesketch::sim
