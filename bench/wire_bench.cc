// Figures of the wire codec for the sketch suite: WindowBatch decode and encode speed for a
// 500-record batch with histograms (the agent's typical 10 s flush of vibration series).
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "bench.h"
#include "edgesketch/wire/codec.h"

namespace edgesketch::bench {
namespace {

// The receiver's clock; the batch's windows end just before it.
constexpr std::int64_t kNowMs = 1'700'000'000'000;
constexpr std::size_t kRecords = 500;

// 500 records of 10 s windows with tags, count/sum/min/max and a histogram of `values` heavy-
// tailed readings each (1,000 = a 100 Hz signal over 10 s).
wire::WindowBatch make_batch(int values) {
  std::mt19937_64 rng(17);
  std::lognormal_distribution<double> lognormal(0, 1);
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  wire::WindowBatch batch;
  batch.tenant = "acme";
  batch.gateway_id = "gw-0001";
  batch.seq = 123456;
  batch.created_ms = kNowMs;
  batch.records.reserve(kRecords);
  for (std::size_t i = 0; i < kRecords; ++i) {
    wire::WindowRecord r;
    r.key.metric = "vibration";
    r.key.tags = {{"device", std::string("dev-") + std::to_string(i)},
                  {"line", std::string("line-") + std::to_string(i % 5)},
                  {"site", std::string("site-") + std::to_string(i % 10)}};
    r.window_ms = 10'000;
    r.window_start_ms = kNowMs - 10'000;
    r.agg = sketch::WindowAggregate(spec);
    for (int v = 0; v < values; ++v) r.agg.add_value(lognormal(rng));
    batch.records.push_back(std::move(r));
  }
  return batch;
}

}  // namespace

void add_wire_figures(const BenchOptions& options, nlohmann::json& out) {
  const wire::WindowBatch batch = make_batch(options.quick ? 100 : 1000);
  const Bytes bytes = wire::encode_window_batch(batch);
  const wire::Limits limits;
  if (!wire::decode_window_batch(bytes, limits, kNowMs).ok()) {
    out["wire_error"] = "the benchmark batch does not decode";
    return;
  }
  const double decode_ns = median_ns(options.repetitions, [&] {
    auto decoded = wire::decode_window_batch(bytes, limits, kNowMs);
    do_not_optimize(decoded.ok());
  });
  const double encode_ns = median_ns(options.repetitions, [&] {
    Bytes encoded = wire::encode_window_batch(batch);
    do_not_optimize(encoded.size());
  });
  out["wire_decode_records_per_s"] = std::round(kRecords / (decode_ns * 1e-9));
  out["wire_encode_records_per_s"] = std::round(kRecords / (encode_ns * 1e-9));
  out["wire_window_batch_bytes_per_record"] = std::round(double(bytes.size()) / kRecords);
}

}  // namespace edgesketch::bench
