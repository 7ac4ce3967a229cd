// A simulated fleet's window records, as agents ship them to the collector: the standard fleet
// (1,000 devices; temperature, humidity and pressure at 1 Hz and vibration at 100 Hz, from the
// firmware-sim sensor models) or the low-rate one, per device and metric 10 s windows with
// count/sum/min/max and a quantile histogram; cut into encoded WindowBatches. For the store and
// clickhouse suites.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/wire/types.h"
#include "es_device/names.h"
#include "es_device/sensor.h"

namespace edgesketch::bench {

inline constexpr std::size_t kRecordsPerBatch = 500;
inline constexpr std::uint32_t kWindowMs = 10'000;

// The shape of a simulated fleet: how often vibration is sampled and whether readings arrive
// at sensor resolution.
struct FleetShape {
  // The standard fleet samples vibration at 100 Hz; the low-rate fleet at 1 Hz like the rest.
  double vibration_period_s = 0.01;
  // Readings rounded as edgesketch-sim's row formats send them (0.01; vibration 0.001): what a
  // fleet of JSON-publishing sensors delivers. The standard fleet keeps the models' doubles.
  bool sensor_resolution = false;
};

inline constexpr FleetShape kStandardFleet{};
inline constexpr FleetShape kLowRateFleet{1.0, true};

// A fleet's numeric sensors, window by window.
class Fleet {
 public:
  explicit Fleet(std::uint32_t devices, FleetShape shape = kStandardFleet)
      : devices_(devices), shape_(shape), sensors_(devices * 4) {
    for (std::uint32_t d = 0; d < devices; ++d) {
      const std::uint32_t site = es_device_site_index(d, 10);
      for (int m = 0; m < 4; ++m) {
        es_sensor_init(&sensors_[d * 4 + m], static_cast<es_metric>(m), 20'231'114, d, site,
                       period_s(m), nullptr);
      }
      char id[ES_NAME_MAX], s[ES_NAME_MAX], l[ES_NAME_MAX];
      es_format_device_id(d, id, sizeof id);
      es_format_site(site, s, sizeof s);
      es_format_line(es_device_line_index(d, 10, 5), l, sizeof l);
      tags_.push_back({{"device", id}, {"line", l}, {"site", s}});
    }
  }

  // One record per device and metric for the window starting at ws.
  std::vector<wire::WindowRecord> window(std::int64_t ws, std::uint64_t& readings) {
    sketch::AggregateSpec spec;
    spec.quantiles = true;
    std::vector<wire::WindowRecord> out;
    out.reserve(devices_ * 4);
    for (std::uint32_t d = 0; d < devices_; ++d) {
      for (int m = 0; m < 4; ++m) {
        wire::WindowRecord r;
        r.key.metric = es_metric_name(static_cast<es_metric>(m));
        r.key.tags = tags_[d];
        r.window_start_ms = ws;
        r.window_ms = kWindowMs;
        r.agg = sketch::WindowAggregate(spec);
        const int n = static_cast<int>(std::lround(kWindowMs / 1000.0 / period_s(m)));
        const double steps = m == ES_METRIC_VIBRATION ? 1000.0 : 100.0;
        for (int i = 0; i < n; ++i) {
          const double v = es_sensor_sample(&sensors_[d * 4 + m]);
          r.agg.add_value(shape_.sensor_resolution ? std::round(v * steps) / steps : v);
        }
        readings += static_cast<std::uint64_t>(n);
        out.push_back(std::move(r));
      }
    }
    return out;
  }

 private:
  double period_s(int metric) const {
    return metric == ES_METRIC_VIBRATION ? shape_.vibration_period_s : 1.0;
  }

  std::uint32_t devices_;
  FleetShape shape_;
  std::vector<es_sensor> sensors_;
  std::vector<std::vector<wire::Tag>> tags_;
};

struct EncodedBatch {
  wire::WindowBatch batch;
  Bytes bytes;
};

// Cuts records into batches of kRecordsPerBatch from gateway `gw`, numbering them from `seq`;
// created_ms is `created_ms`.
void append_batches(std::vector<wire::WindowRecord>&& records, const std::string& gw,
                    std::uint64_t& seq, std::int64_t created_ms, std::vector<EncodedBatch>& out);

}  // namespace edgesketch::bench
