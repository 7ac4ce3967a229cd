// Fault injection: decides, per device and message, whether the message is lost (device
// offline), corrupted, duplicated or held back for a late burst, and which devices have skewed
// clocks. Every device has its own stream seeded from (seed, device), and every decision draws
// the same number of values whatever the outcome, so runs are reproducible.
// Not thread-safe; owned by the simulation loop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "es_device/rng.h"
#include "sim_options.h"

namespace edgesketch::sim {

struct MessageFate {
  bool offline = false;    // never sent
  bool malformed = false;  // sent as a corrupted payload, not recorded
  bool duplicate = false;  // sent twice
  bool hold = false;       // queued until hold_until(device)
};

class FaultInjector {
 public:
  FaultInjector(const FaultOptions& options, std::uint64_t seed, std::uint32_t devices);

  // One entry per device; 0 for devices with a correct clock.
  const std::vector<std::int64_t>& clock_skews_ms() const { return skew_ms_; }

  // The fate of the device's next message, which became ready at ready_ms.
  MessageFate decide(std::uint32_t device, std::int64_t ready_ms);

  // Until when (simulated ms) the device holds messages back; held messages are released once
  // the simulation reaches this time.
  std::int64_t hold_until(std::uint32_t device) const { return states_[device].hold_until; }

  // Replaces payload by a malformed one that no decoder of `format` accepts: either a prefix cut
  // inside the first reading (nanopb: inside the first Samples; JSON and json_fields: any strict
  // prefix; line: inside the first line's measurement and tags) or garbage bytes starting with
  // 0x07 (an invalid protobuf key, not JSON, no line-protocol field set, a control character
  // where a value or label belongs). value payloads are always garbage (a prefix of a number is
  // a number).
  void corrupt(std::uint32_t device, PayloadFormat format, std::string& payload);

  bool enabled() const { return any_; }

 private:
  struct DeviceState {
    es_rng rng;
    std::int64_t offline_until = INT64_MIN;
    std::int64_t hold_until = INT64_MIN;
  };

  FaultOptions options_;
  bool any_;
  std::vector<DeviceState> states_;
  std::vector<std::int64_t> skew_ms_;
};

}  // namespace edgesketch::sim
