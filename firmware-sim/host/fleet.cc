// Fleet setup: translates FleetOptions into one es_device_config per device.
#include "fleet.h"

#include <cmath>
#include <string>

namespace edgesketch::sim {

Status validate(const FleetOptions& o) {
  if (o.devices == 0 || o.devices > 1'000'000) {
    return Status::invalid_argument("devices must be in 1..1000000, not " +
                                    std::to_string(o.devices));
  }
  if (o.sites == 0 || o.lines == 0) {
    return Status::invalid_argument("sites and lines must be at least 1");
  }
  bool any = false;
  for (int m = 0; m < ES_METRIC_COUNT; ++m) {
    double hz = o.rate_hz[m];
    if (!(hz >= 0.0 && hz <= 1000.0) || (hz > 0.0 && hz < 0.001)) {
      return Status::invalid_argument(
          std::string("rate of ") + es_metric_name(static_cast<es_metric>(m)) +
          " must be 0 (off) or in [0.001, 1000] Hz, not " + std::to_string(hz));
    }
    any = any || hz > 0.0;
  }
  if (!any) return Status::invalid_argument("every metric rate is 0: nothing to simulate");
  if (o.duration_ms <= 0) return Status::invalid_argument("duration must be positive");
  if (o.batch == 0 || o.batch > ES_BATCH_MAX_READINGS) {
    return Status::invalid_argument("batch must be in 1..256 readings, not " +
                                    std::to_string(o.batch));
  }
  if (o.max_delay_ms <= 0 || o.max_delay_ms > 3'600'000) {
    return Status::invalid_argument("max delay must be in (0, 1h]");
  }
  if (o.event_codes == 0 || o.event_codes > ES_ZIPF_MAX_CODES || !(o.zipf_s > 0.0)) {
    return Status::invalid_argument("event codes must be in 1..256 with a Zipf exponent > 0");
  }
  return Status();
}

Result<std::unique_ptr<Fleet>> Fleet::create(const FleetOptions& options,
                                             std::span<const std::int64_t> clock_skew_ms) {
  ES_RETURN_IF_ERROR(validate(options));
  if (!clock_skew_ms.empty() && clock_skew_ms.size() != options.devices) {
    return Status::invalid_argument("fleet: one clock skew per device expected");
  }
  std::unique_ptr<Fleet> fleet(new Fleet());
  fleet->options_ = options;
  fleet->codes_ = std::make_unique<es_zipf>();
  if (es_zipf_init(fleet->codes_.get(), options.event_codes, options.zipf_s) != 0) {
    return Status::invalid_argument("fleet: bad Zipf parameters");
  }
  es_device_config config{};
  config.site_count = options.sites;
  config.line_count = options.lines;
  config.seed = options.seed;
  config.start_ms = options.start_ms;
  for (int m = 0; m < ES_METRIC_COUNT; ++m) {
    config.rate_mhz[m] = static_cast<std::uint32_t>(std::llround(options.rate_hz[m] * 1000.0));
    if (config.rate_mhz[m] != 0) fleet->metrics_.push_back(static_cast<es_metric>(m));
  }
  config.batch_readings = static_cast<std::uint16_t>(options.batch);
  config.max_delay_ms = static_cast<std::uint32_t>(options.max_delay_ms);
  config.event_codes = fleet->codes_.get();
  fleet->devices_.resize(options.devices);
  for (std::uint32_t i = 0; i < options.devices; ++i) {
    config.device_index = i;
    config.clock_skew_ms = clock_skew_ms.empty() ? 0 : clock_skew_ms[i];
    if (es_device_init(&fleet->devices_[i], &config) != ES_DEVICE_OK) {
      return Status::invalid_argument("fleet: device " + std::to_string(i) +
                                      " rejected its configuration");
    }
  }
  return fleet;
}

}  // namespace edgesketch::sim
