// The simulated fleet: one es_device per device index, sharing one Zipf table of event codes.
// Not thread-safe; the simulation loop owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "edgesketch/common/status.h"
#include "es_device/device.h"
#include "sim_options.h"

namespace edgesketch::sim {

class Fleet {
 public:
  // Validates the options and sets every device up; clock_skew_ms has one entry per device (or
  // is empty for no skew).
  static Result<std::unique_ptr<Fleet>> create(const FleetOptions& options,
                                               std::span<const std::int64_t> clock_skew_ms);

  std::uint32_t size() const { return static_cast<std::uint32_t>(devices_.size()); }
  const es_device& device(std::uint32_t index) const { return devices_[index]; }
  const FleetOptions& options() const { return options_; }
  // Enabled metrics, ascending.
  const std::vector<es_metric>& metrics() const { return metrics_; }

  // See es_device_poll / es_device_flush.
  bool poll(std::uint32_t index, std::int64_t now_ms, es_batch& out) {
    return es_device_poll(&devices_[index], now_ms, &out) != 0;
  }
  bool flush(std::uint32_t index, std::int64_t now_ms, es_batch& out) {
    return es_device_flush(&devices_[index], now_ms, &out) != 0;
  }

 private:
  Fleet() = default;

  FleetOptions options_;
  std::unique_ptr<es_zipf> codes_;  // stable address: every device points at it
  std::vector<es_device> devices_;
  std::vector<es_metric> metrics_;
};

// Checks ranges (devices >= 1, rates in [0, 1000] Hz, batch 1..256, ...); the message says which
// option is wrong and what is allowed.
Status validate(const FleetOptions& options);

}  // namespace edgesketch::sim
