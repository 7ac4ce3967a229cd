// The self source's readings and its built-in rule.
#include "window/self_metrics.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

namespace edgesketch::agent {
namespace {

struct Field {
  SelfMetricInfo info;
  double SelfSample::*gauge;
  std::uint64_t SelfSample::*counter;
};

constexpr std::array<Field, 13> kFields = {{
    {{"outbox_rows", false}, &SelfSample::outbox_rows, nullptr},
    {{"outbox_bytes", false}, &SelfSample::outbox_bytes, nullptr},
    {{"outbox_oldest_age_seconds", false}, &SelfSample::outbox_oldest_age_seconds, nullptr},
    {{"unacked_batches", false}, &SelfSample::unacked_batches, nullptr},
    {{"open_windows", false}, &SelfSample::open_windows, nullptr},
    {{"open_series", false}, &SelfSample::open_series, nullptr},
    {{"uplink_state", false}, &SelfSample::uplink_state, nullptr},
    {{"readings_accepted", true}, nullptr, &SelfSample::readings_accepted},
    {{"readings_dropped", true}, nullptr, &SelfSample::readings_dropped},
    {{"readings_rejected", true}, nullptr, &SelfSample::readings_rejected},
    {{"payloads_bad", true}, nullptr, &SelfSample::payloads_bad},
    {{"windows_closed", true}, nullptr, &SelfSample::windows_closed},
    {{"outbox_dropped_readings", true}, nullptr, &SelfSample::outbox_dropped_readings},
}};

constexpr std::array<SelfMetricInfo, kFields.size()> kInfos = [] {
  std::array<SelfMetricInfo, kFields.size()> out{};
  for (std::size_t i = 0; i < kFields.size(); ++i) out[i] = kFields[i].info;
  return out;
}();

}  // namespace

std::span<const SelfMetricInfo> self_metric_infos() { return kInfos; }

std::uint32_t self_metrics_window_ms(std::int64_t interval_ms) {
  // Each divides 24 h and lines up with the collector's default tiers (divides 10 s, or is a
  // multiple of 10 s dividing 1 min, or of 1 min dividing 1 h), so a point of any tier holds
  // whole windows.
  static constexpr std::uint32_t kWindows[] = {1'000,   2'000,   5'000,     10'000,    20'000,
                                               30'000,  60'000,  120'000,   180'000,   300'000,
                                               600'000, 900'000, 1'200'000, 1'800'000, 3'600'000};
  for (std::uint32_t w : kWindows) {
    if (w >= interval_ms) return w;
  }
  return kWindows[std::size(kWindows) - 1];
}

RuleSpec self_metrics_rule(std::int64_t interval_ms) {
  return RuleSpec{.name = std::string(kSelfRuleName),
                  .match = std::string(kSelfMetricPrefix) + "*",
                  .group_by = {std::string(kGatewayTag)},
                  .window_ms = self_metrics_window_ms(interval_ms)};
}

SelfMetrics::SelfMetrics(std::string gateway_id, std::int64_t interval_ms)
    : interval_ms_(interval_ms > 0 ? interval_ms : 1) {
  readings_.resize(kFields.size());
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    wire::Reading& r = readings_[i];
    r.device_id = gateway_id;
    r.metric = std::string(kSelfMetricPrefix) + std::string(kFields[i].info.name);
    r.tags = {wire::Tag{std::string(kGatewayTag), gateway_id}};
  }
}

std::span<const wire::Reading> SelfMetrics::sample(const SelfSample& s, std::int64_t now_ms) {
  last_slot_ = now_ms / interval_ms_;
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    const Field& f = kFields[i];
    wire::Reading& r = readings_[i];
    r.ts_ms = now_ms;
    if (f.gauge != nullptr) {
      r.value = s.*f.gauge;
    } else {
      const std::uint64_t now = s.*f.counter, before = previous_.*f.counter;
      // A counter below its previous value was reset: count it from zero.
      r.value = static_cast<double>(now >= before ? now - before : now);
    }
  }
  previous_ = s;
  return readings_;
}

}  // namespace edgesketch::agent
