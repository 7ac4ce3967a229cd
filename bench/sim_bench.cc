// The `sim` suite: speed of the firmware-sim pieces. encode_readings_per_s is the acceptance
// figure of the device encoder (standard-fleet batches of 100 readings, fast nanopb path).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "edgesketch/common/clock.h"
#include "es_device/device.h"
#include "es_device/encode.h"
#include "payload_format.h"
#include "record_writer.h"
#include "sim_runner.h"
#include "simulation.h"
#include "transport.h"
#include "truth.h"

namespace edgesketch::bench {
namespace {

constexpr std::int64_t kStartMs = 1'700'000'000'000;

// Batches of `batch` readings from standard-fleet devices, as the simulator produces them.
std::vector<es_batch> make_batches(std::size_t count, std::uint16_t batch) {
  auto codes = std::make_unique<es_zipf>();
  es_zipf_init(codes.get(), 200, 1.1);
  es_device_config c{};
  c.site_count = 10;
  c.line_count = 5;
  c.seed = 1;
  c.start_ms = kStartMs;
  c.rate_mhz[ES_METRIC_TEMPERATURE] = 1000;
  c.rate_mhz[ES_METRIC_HUMIDITY] = 1000;
  c.rate_mhz[ES_METRIC_PRESSURE] = 1000;
  c.rate_mhz[ES_METRIC_VIBRATION] = 100000;
  c.rate_mhz[ES_METRIC_EVENT] = 100;
  c.batch_readings = batch;
  c.max_delay_ms = 1000;
  c.event_codes = codes.get();
  std::vector<es_batch> out(count);
  auto device = std::make_unique<es_device>();
  std::size_t n = 0;
  for (std::uint32_t d = 0; n < count; ++d) {
    c.device_index = d;
    es_device_init(device.get(), &c);
    for (std::int64_t t = kStartMs; n < count && t < kStartMs + 60'000; t += 1000) {
      while (n < count && es_device_poll(device.get(), t, &out[n])) ++n;
    }
  }
  return out;
}

std::uint64_t total_readings(const std::vector<es_batch>& batches) {
  std::uint64_t n = 0;
  for (const es_batch& b : batches) n += b.count;
  return n;
}

void add_encoder_figures(const BenchOptions& options, nlohmann::json& out) {
  const std::vector<es_batch> batches = make_batches(options.quick ? 200 : 4000, 100);
  const double readings = static_cast<double>(total_readings(batches));
  std::vector<std::uint8_t> buf(64 << 10);
  std::size_t bytes = 0;
  double ns = median_ns(options.repetitions, [&] {
    bytes = 0;
    for (const es_batch& b : batches) {
      std::size_t len = 0;
      es_encode_batch(&b, buf.data(), buf.size(), &len);
      bytes += len;
      do_not_optimize(buf[0]);
    }
  });
  out["encode_readings_per_s"] = readings / ns * 1e9;
  out["encode_bytes_per_reading"] = static_cast<double>(bytes) / readings;
  out["encode_batch_readings"] = readings / static_cast<double>(batches.size());

  auto scratch = std::make_unique<edgesketch_v1_ReadingBatch>();
  ns = median_ns(options.repetitions, [&] {
    for (const es_batch& b : batches) {
      std::size_t len = 0;
      es_encode_batch_reference(&b, scratch.get(), buf.data(), buf.size(), &len);
      do_not_optimize(buf[0]);
    }
  });
  out["encode_reference_readings_per_s"] = readings / ns * 1e9;

  std::string payload;
  for (auto [key, format] : {std::pair{"json_encode_readings_per_s", sim::PayloadFormat::kJson},
                             {"line_encode_readings_per_s", sim::PayloadFormat::kLine}}) {
    ns = median_ns(options.repetitions, [&] {
      for (const es_batch& b : batches) {
        (void)sim::encode_payload(b, format, payload);
        do_not_optimize(payload.data());
      }
    });
    out[key] = readings / ns * 1e9;
  }
}

void add_generator_figures(const BenchOptions& options, nlohmann::json& out) {
  // The device core alone: sensor models and batching of one standard device over simulated
  // time.
  const std::int64_t seconds = options.quick ? 20 : 600;
  std::uint64_t readings = 0;
  double ns = median_ns(options.repetitions, [&] {
    readings = 0;
    auto b = make_batches(static_cast<std::size_t>(seconds * 103.1 / 100), 100);
    readings = total_readings(b);
    do_not_optimize(b.back().values[0]);
  });
  out["generate_readings_per_s"] = static_cast<double>(readings) / ns * 1e9;
}

// The whole simulation loop with no transport (what --dry-run measures): fleet, batching,
// nanopb encoding and, optionally, the record file.
void add_loop_figures(const BenchOptions& options, nlohmann::json& out) {
  const std::int64_t duration_ms = options.quick ? 2'000 : 20'000;
  const std::string record_path =
      "/tmp/edgesketch-bench-sim-" + std::to_string(::getpid()) + ".rec";
  std::uint64_t sent = 0;
  for (bool record : {false, true}) {
    double ns = median_ns(std::max(1, options.repetitions / 2), [&] {
      sim::NullTransport transport;
      std::unique_ptr<sim::RecordWriter> writer;
      if (record) writer = std::move(sim::RecordWriter::create(record_path)).value();
      auto stats = simulate(standard_fleet(kStartMs, duration_ms), transport, writer.get());
      sent = stats.ok() ? stats->readings_sent : 0;
    });
    out[record ? "loop_with_record_readings_per_s" : "loop_readings_per_s"] =
        static_cast<double>(sent) / ns * 1e9;
  }
  // Truth over the record just written: vibration per (site, line), 10 s windows.
  sim::TruthOptions truth;
  truth.record_path = record_path;
  truth.group_by = {"site", "line"};
  truth.metrics = {"vibration"};
  truth.distinct_of = {"device"};
  truth.topk_of = "device";
  std::FILE* sink = std::fopen("/dev/null", "w");
  std::uint64_t scanned = 0;
  double ns = median_ns(std::max(1, options.repetitions / 2), [&] {
    auto s = sim::compute_truth(truth, sink);
    scanned = s.ok() ? s->readings_scanned : 0;
  });
  std::fclose(sink);
  std::remove(record_path.c_str());
  out["truth_readings_per_s"] = static_cast<double>(scanned) / ns * 1e9;
}

}  // namespace

nlohmann::json run_sim_bench(const BenchOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  add_encoder_figures(options, out);
  add_generator_figures(options, out);
  add_loop_figures(options, out);
  return out;
}

}  // namespace edgesketch::bench
