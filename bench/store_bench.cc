// The `store` suite: the collector store's ingest, size, scan and recovery figures on the
// standard fleet (1,000 devices; temperature, humidity and pressure at 1 Hz and vibration at
// 100 Hz from the firmware-sim sensor models; per device and metric 10 s windows with
// count/sum/min/max and a quantile histogram).
//
//   ingest_rows_per_s    encoded WindowBatches of 500 vibration records with histograms ->
//                        decode, dedupe, catalog, WAL append with group commit, memtable; one
//                        thread keeps batches in flight and waits for the last to be durable
//   bytes_per_row_10s    on-disk bytes of the 10 s tier / its rows, after flush + full merge
//   bytes_per_reading    on-disk bytes of all tiers / raw readings represented
//   scan_rows_per_s      stored rows decoded and merged per second by a scan of every series
//                        (10 s tier, 1 min step) over the stored range
//   recovery_s_1m_rows   Store::open() with 1,000,000 rows (2,000 batches) in the WAL
//   bytes_per_reading_1hz[_10s|_1m|_1h]
//                        the low-rate fleet (all four metrics at 1 Hz, readings at sensor
//                        resolution, 14.4M readings in 1 h): on-disk bytes of all tiers (or one)
//                        / readings, after flush + full merge. With ES_BENCH_COLUMNS=1 also
//                        <fleet>_col_10s_<column>_B_per_row: what each column of the 10 s rows
//                        costs, compressed alone (1hz_: the low-rate fleet, std_: the standard)
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "bench.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/daemon/daemon.h"
#include "edgesketch/store/part_block.h"
#include "edgesketch/store/store.h"
#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/codec.h"
#include "es_device/names.h"
#include "es_device/sensor.h"
#include "fleet_windows.h"

namespace edgesketch::bench {
namespace {

constexpr std::int64_t kStartMs = 1'700'000'000'000 / 3'600'000 * 3'600'000;  // an hour boundary
// StoreOptions::merge_zstd_level's default: the level of compacted parts.
const int kMergeZstdLevel = store::StoreOptions{}.merge_zstd_level;

}  // namespace

void use_collector_allocator() {
  if (std::getenv("ES_BENCH_DEFAULT_MALLOC") == nullptr) {
    daemon::tune_allocator(collector::kDefaultRetainedMemoryBytes, 1);
  }
}

namespace {

store::StoreOptions bench_options(const Clock* clock) {
  store::StoreOptions o;
  o.clock = clock;
  // ES_BENCH_ROLLUPS=1 adds the packaged config's label rollups (by site, by line and site),
  // to see what they cost (the figures are without them).
  if (const char* r = std::getenv("ES_BENCH_ROLLUPS"); r != nullptr && *r == '1') {
    o.rollups = {{"site"}, {"line", "site"}};
  }
  o.background_merge = false;
  o.memtable_bytes = std::size_t{4} << 30;
  // Accept the simulated hours however far they lie from the fake clock.
  o.limits.max_past_ms = std::int64_t{365} * 86'400'000;
  return o;
}

// Stores `windows` 10 s windows of `fleet` from gateway `gw` (tenant "acme"), waiting for each
// window's batches to be durable, then flushes and fully merges; counts the readings. The first
// 2,000 batches are kept in `keep` when it is not null.
Status store_fleet(store::Store& st, Fleet& fleet, int windows, const std::string& gw,
                   std::uint64_t& readings, std::vector<EncodedBatch>* keep) {
  std::uint64_t seq = 1;
  for (int w = 0; w < windows; ++w) {
    std::vector<EncodedBatch> batches;
    append_batches(fleet.window(kStartMs + w * std::int64_t{kWindowMs}, readings), gw, seq,
                   kStartMs, batches);
    std::uint64_t last = 0;
    for (auto& b : batches) {
      ES_ASSIGN_OR_RETURN(store::IngestReceipt receipt, st.submit("acme", b.batch, b.bytes));
      last = receipt.lsn;
      if (keep != nullptr && keep->size() < 2000) keep->push_back(std::move(b));
    }
    ES_RETURN_IF_ERROR(st.wait_durable(last));
  }
  ES_RETURN_IF_ERROR(st.flush());
  return st.compact(true);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The 10 s rows the store writes for `fleet` (series = device * 4 + metric), in key order, as
// blocks of 8,192 rows at the merge level: what each column of the block format costs per row.
// Adds col_10s_<column>_B_per_row (each column compressed alone) to `out`.
void add_column_breakdown(Fleet& fleet, std::uint32_t devices, int windows,
                          const std::string& prefix, nlohmann::json& out) {
  struct Row {
    store::PartRow row;
    Bytes histogram;
  };
  std::vector<Row> rows(static_cast<std::size_t>(devices) * 4 * static_cast<std::size_t>(windows));
  std::uint64_t readings = 0;
  for (int w = 0; w < windows; ++w) {
    auto recs = fleet.window(kStartMs + w * std::int64_t{kWindowMs}, readings);
    for (std::size_t k = 0; k < recs.size(); ++k) {
      Row& r = rows[k * static_cast<std::size_t>(windows) + static_cast<std::size_t>(w)];
      const sketch::WindowAggregate& a = recs[k].agg;
      r.row.series_id = k + 1;
      r.row.window_start = recs[k].window_start_ms;
      r.row.count = a.count();
      r.row.sum = a.sum();
      r.row.min = a.min();
      r.row.max = a.max();
      a.histogram()->serialize(r.histogram);
    }
  }
  std::vector<store::PartRow> block;
  std::map<std::string, std::size_t> raw, packed;
  std::size_t framed = 0;
  Bytes out_block;
  for (std::size_t i = 0; i < rows.size(); i += 8192) {
    block.clear();
    for (std::size_t j = i; j < std::min(rows.size(), i + 8192); ++j) {
      rows[j].row.histogram = rows[j].histogram;
      block.push_back(rows[j].row);
    }
    for (const auto& c : store::measure_part_block_columns(block, kMergeZstdLevel)) {
      raw[c.name] += c.raw_bytes;
      packed[c.name] += c.zstd_bytes;
    }
    out_block.clear();
    store::encode_part_block(block, kMergeZstdLevel, out_block);
    framed += out_block.size();
  }
  const auto per_row = [&rows](std::size_t bytes) {
    return std::round(1000.0 * static_cast<double>(bytes) / static_cast<double>(rows.size())) /
           1000.0;
  };
  for (const auto& [name, bytes] : packed) {
    out[prefix + "col_10s_" + name + "_B_per_row"] = per_row(bytes);
    out[prefix + "col_10s_" + name + "_raw_B_per_row"] = per_row(raw[name]);
  }
  out[prefix + "col_10s_blocks_B_per_row"] = per_row(framed);
}

}  // namespace

nlohmann::json run_store_bench(const BenchOptions& options) {
  spdlog::set_level(spdlog::level::warn);
  use_collector_allocator();
  nlohmann::json out;
  FakeClock clock(kStartMs + 2 * 3'600'000);
  const int reps = std::max(1, std::min(options.repetitions, 5));

  const std::string& only = options.only;
  if (!only.empty() && only != "ingest" && only != "scan" && only != "recovery" &&
      only != "lowrate") {
    out["store_error"] = "unknown part '" + only + "' (ingest, scan, recovery, lowrate)";
    return out;
  }
  auto want = [&only](const char* part) { return only.empty() || only == part; };

  // ---- ingest: 500-record vibration batches with histograms ----
  if (want("ingest")) {
    const int windows = options.quick ? 4 : 40;
    Fleet fleet(500);
    std::vector<EncodedBatch> batches;
    std::uint64_t seq = 1, readings = 0;
    for (int w = 0; w < windows; ++w) {
      auto recs = fleet.window(kStartMs + w * std::int64_t{kWindowMs}, readings);
      std::vector<wire::WindowRecord> vib;
      for (auto& r : recs) {
        if (r.key.metric == "vibration") vib.push_back(std::move(r));
      }
      append_batches(std::move(vib), "gw-0001", seq, kStartMs, batches);
    }
    std::vector<double> rates;
    for (int r = 0; r < reps; ++r) {
      testbed::TempDir dir("es-store-bench");
      auto store = store::Store::open(dir.path(), bench_options(&clock));
      if (!store.ok()) {
        out["store_error"] = store.status().to_string();
        return out;
      }
      const auto t0 = std::chrono::steady_clock::now();
      std::uint64_t last = 0;
      std::size_t rows = 0;
      for (const auto& b : batches) {
        auto receipt = (*store)->submit("acme", b.bytes);
        if (!receipt.ok()) {
          out["store_error"] = receipt.status().to_string();
          return out;
        }
        last = receipt->lsn;
        rows += receipt->records;
      }
      if (!(*store)->wait_durable(last).ok()) {
        out["store_error"] = "wal fsync failed";
        return out;
      }
      rates.push_back(static_cast<double>(rows) / seconds_since(t0));
      out["ingest_fsyncs_per_batch"] =
          static_cast<double>((*store)->stats().wal_fsyncs) / static_cast<double>(batches.size());
    }
    out["ingest_rows_per_s"] = std::round(median(rates));
  }

  // ---- the standard fleet: size and scan ----
  const std::uint32_t devices = options.quick ? 100 : 1000;
  const int windows = options.quick ? 60 : 360;  // 10 min / 1 h of 10 s windows
  const std::size_t recovery_batches_wanted = options.quick ? 200 : 2000;
  testbed::TempDir fleet_dir("es-store-bench");
  std::uint64_t readings = 0;
  std::vector<EncodedBatch> recovery_batches;
  if (!want("scan") && want("recovery")) {
    // Recovery alone: only the fleet batches it replays, without storing the fleet.
    Fleet fleet(devices);
    std::uint64_t seq = 1;
    for (int w = 0; w < windows && recovery_batches.size() < recovery_batches_wanted; ++w) {
      append_batches(fleet.window(kStartMs + w * std::int64_t{kWindowMs}, readings), "gw-fleet",
                     seq, kStartMs, recovery_batches);
    }
  }
  if (want("scan")) {
    store::StoreOptions o = bench_options(&clock);
    o.memtable_bytes = std::size_t{256} << 20;
    // ES_BENCH_SCAN_THREADS overrides the store's scan_threads (to see its effect).
    if (const char* t = std::getenv("ES_BENCH_SCAN_THREADS")) {
      o.scan_threads = static_cast<std::size_t>(std::max(0, std::atoi(t)));
    }
    auto store = store::Store::open(fleet_dir.path(), o);
    if (!store.ok()) {
      out["store_error"] = store.status().to_string();
      return out;
    }
    Fleet fleet(devices);
    if (Status s = store_fleet(**store, fleet, windows, "gw-fleet", readings, &recovery_batches);
        !s.ok()) {
      out["store_error"] = s.to_string();
      return out;
    }
    const store::StoreStats st = (*store)->stats();
    out["fleet_devices"] = devices;
    out["fleet_hours"] = windows * kWindowMs / 3.6e6;
    out["fleet_readings"] = readings;
    out["rows_10s"] = st.part_rows_per_tier[0];
    out["bytes_10s"] = st.part_bytes_per_tier[0];
    out["bytes_1m"] = st.part_bytes_per_tier[1];
    out["bytes_1h"] = st.part_bytes_per_tier[2];
    out["bytes_per_row_10s"] = std::round(100.0 * static_cast<double>(st.part_bytes_per_tier[0]) /
                                          static_cast<double>(st.part_rows_per_tier[0])) /
                               100.0;
    out["bytes_per_reading"] =
        std::round(1e4 * static_cast<double>(st.part_bytes) / static_cast<double>(readings)) / 1e4;

    store::ScanRequest req;
    req.tenant = "acme";
    req.start_ms = kStartMs;
    req.end_ms = kStartMs + windows * std::int64_t{kWindowMs} + 60'000;
    req.step_ms = 60'000;
    req.tier_ms = 10'000;
    std::vector<double> rates, cpu_ns_per_row, faults;
    for (int r = 0; r < reps; ++r) {
      rusage u0{}, u1{};
      ::getrusage(RUSAGE_SELF, &u0);
      const auto t0 = std::chrono::steady_clock::now();
      auto res = (*store)->scan(req);
      const double s = seconds_since(t0);
      ::getrusage(RUSAGE_SELF, &u1);
      if (!res.ok()) {
        out["store_error"] = res.status().to_string();
        return out;
      }
      const auto rows = static_cast<double>(res->rows_read);
      rates.push_back(rows / s);
      const auto cpu_us = [](const rusage& u) {
        return 1e6 * static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
               static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
      };
      cpu_ns_per_row.push_back(1e3 * (cpu_us(u1) - cpu_us(u0)) / rows);
      faults.push_back(static_cast<double>(u1.ru_minflt - u0.ru_minflt));
      out["scan_rows"] = res->rows_read;
    }
    out["scan_rows_per_s"] = std::round(median(rates));
    out["scan_rows_per_s_reps"] = rates;
    // Machine-load-insensitive companions: CPU time (all threads) per row, page faults per scan.
    out["scan_cpu_ns_per_row"] = std::round(10 * median(cpu_ns_per_row)) / 10;
    out["scan_page_faults"] = median(faults);
  }

  // ---- the low-rate fleet: every metric at 1 Hz, at sensor resolution ----
  if (want("lowrate")) {
    testbed::TempDir dir("es-store-bench");
    store::StoreOptions o = bench_options(&clock);
    o.memtable_bytes = std::size_t{256} << 20;
    // ES_BENCH_MERGE_LEVEL overrides merge_zstd_level (to see what a stronger level buys).
    if (const char* l = std::getenv("ES_BENCH_MERGE_LEVEL")) o.merge_zstd_level = std::atoi(l);
    auto store = store::Store::open(dir.path(), o);
    if (!store.ok()) {
      out["store_error"] = store.status().to_string();
      return out;
    }
    Fleet fleet(devices, kLowRateFleet);
    std::uint64_t lr_readings = 0;
    if (Status s = store_fleet(**store, fleet, windows, "gw-1hz", lr_readings, nullptr); !s.ok()) {
      out["store_error"] = s.to_string();
      return out;
    }
    const store::StoreStats st = (*store)->stats();
    const auto per_reading = [lr_readings](std::uint64_t bytes) {
      return std::round(1e4 * static_cast<double>(bytes) / static_cast<double>(lr_readings)) / 1e4;
    };
    out["fleet_readings_1hz"] = lr_readings;
    out["bytes_per_reading_1hz"] = per_reading(st.part_bytes);
    out["bytes_per_reading_1hz_10s"] = per_reading(st.part_bytes_per_tier[0]);
    out["bytes_per_reading_1hz_1m"] = per_reading(st.part_bytes_per_tier[1]);
    out["bytes_per_reading_1hz_1h"] = per_reading(st.part_bytes_per_tier[2]);
    if (std::getenv("ES_BENCH_COLUMNS") != nullptr) {
      Fleet again(devices, kLowRateFleet);
      add_column_breakdown(again, devices, windows, "1hz_", out);
      Fleet standard(devices);
      add_column_breakdown(standard, devices, windows, "std_", out);
    }
  }

  // ---- recovery: reopen with 1M rows (2,000 batches of 500) in the WAL ----
  if (want("recovery")) {
    const std::size_t target_batches = recovery_batches_wanted;
    testbed::TempDir dir("es-store-bench");
    {
      auto store = store::Store::open(dir.path(), bench_options(&clock));
      if (!store.ok()) return out;
      std::uint64_t last = 0, seq = 1;
      std::size_t rows = 0;
      for (std::size_t i = 0; i < target_batches; ++i) {
        // Reuse the fleet's batches, shifted by whole hours per pass so every row is new.
        EncodedBatch b = recovery_batches[i % recovery_batches.size()];
        const std::int64_t shift =
            static_cast<std::int64_t>(i / recovery_batches.size()) * 3'600'000;
        for (auto& r : b.batch.records) r.window_start_ms += shift;
        b.batch.seq = seq++;
        b.bytes = wire::encode_window_batch(b.batch);
        auto receipt = (*store)->submit("acme", b.batch, b.bytes);
        if (!receipt.ok()) return out;
        last = receipt->lsn;
        rows += receipt->records;
      }
      if (!(*store)->wait_durable(last).ok()) return out;
      out["recovery_rows"] = rows;
      out["recovery_wal_bytes"] = (*store)->stats().wal_bytes;
      // Destroyed without flush: everything is in the WAL only.
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto store = store::Store::open(dir.path(), bench_options(&clock));
    const double s = seconds_since(t0);
    if (!store.ok()) return out;
    out["recovery_s_1m_rows"] = std::round(s * 1000) / 1000;
    out["recovery_replayed_batches"] = (*store)->stats().wal_replayed_batches;
  }
  return out;
}

}  // namespace edgesketch::bench
