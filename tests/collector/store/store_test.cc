// The Store facade: exactly-once ingest under duplicates and reordering, rollup equality,
// retention, quarantine of corrupt parts, crash recovery (kill -9 of a child that ingests) and
// scan semantics.
#include "edgesketch/store/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "collector/store_test_util.h"
#include "edgesketch/wire/codec.h"

namespace edgesketch::store {
namespace {

using testing::kNowMs;
using testing::TempDir;

std::string series_name(const wire::SeriesKey& k) {
  std::string s = k.metric;
  for (const auto& t : k.tags) s += "," + t.key + "=" + t.value;
  return s;
}

// What a scan of the 10 s tier must return: per series name and point time, the straight merge of
// every record whose window ends in (t - step, t].
using Expected = std::map<std::pair<std::string, std::int64_t>, sketch::WindowAggregate>;

void add_expected(Expected& e, const wire::WindowBatch& b, std::int64_t start, std::int64_t step) {
  for (const auto& r : b.records) {
    const std::int64_t rel = r.window_start_ms + 10'000 - start + step - 1;
    if (rel < 0) continue;
    const std::int64_t t = start + rel / step * step;
    auto [it, fresh] = e.try_emplace({series_name(r.key), t}, r.agg);
    if (!fresh) {
      ASSERT_TRUE(it->second.merge(r.agg).ok());
    }
  }
}

Expected scan_map(const Store& s, const ScanRequest& req) {
  auto res = s.scan(req);
  EXPECT_TRUE(res.ok()) << res.status().to_string();
  Expected out;
  if (!res.ok()) return out;
  for (const auto& sp : res->series) {
    for (const auto& p : sp.points) out.emplace(std::make_pair(series_name(sp.key), p.t_ms), p.agg);
  }
  return out;
}

void expect_equal(const Expected& got, const Expected& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    ASSERT_NE(it, got.end()) << k.first << " @ " << k.second;
    EXPECT_TRUE(it->second == v) << k.first << " @ " << k.second << ": count " << it->second.count()
                                 << " vs " << v.count();
  }
}

StoreOptions test_options(const Clock* clock) {
  StoreOptions o;
  o.clock = clock;
  o.background_merge = false;
  o.merge_min_parts = 2;
  o.block_rows = 64;  // many blocks, so the sparse index is exercised
  return o;
}

ScanRequest all_of(std::int64_t start, std::int64_t end, std::int64_t step,
                   std::optional<std::uint32_t> tier = std::nullopt) {
  ScanRequest r;
  r.tenant = "acme";
  r.start_ms = start;
  r.end_ms = end;
  r.step_ms = step;
  r.tier_ms = tier;
  return r;
}

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kMinute = 60'000;
const std::int64_t kRangeStart = (kNowMs / kHour - 2) * kHour;
const std::int64_t kRangeEnd = (kNowMs / kHour + 1) * kHour;

TEST(StoreTest, DuplicateAndReorderedBatchesApplyExactlyOnce) {
  TempDir dir;
  FakeClock clock(kNowMs);
  std::mt19937_64 rng(42);
  std::vector<wire::WindowBatch> batches;
  for (std::uint64_t seq = 1; seq <= 40; ++seq) {
    batches.push_back(
        testing::make_batch(rng, seq % 2 ? "gw-a" : "gw-b", seq, 30, 12, 90, seq % 3 == 0));
  }
  Expected want;
  for (const auto& b : batches) add_expected(want, b, kRangeStart, 10'000);

  // Every batch twice or three times, shuffled, with flushes and merges in between.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    order.insert(order.end(), {i, i});
    if (i % 4 == 0) order.push_back(i);
  }
  std::shuffle(order.begin(), order.end(), rng);
  std::size_t duplicates = 0;
  {
    auto store = Store::open(dir.path(), test_options(&clock));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    for (std::size_t n = 0; n < order.size(); ++n) {
      const Bytes enc = wire::encode_window_batch(batches[order[n]]);
      auto r = (*store)->ingest("acme", enc);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->seq, batches[order[n]].seq);
      duplicates += r->duplicate;
      if (n % 23 == 22) {
        ASSERT_TRUE((*store)->flush().ok());
      }
      if (n % 41 == 40) {
        ASSERT_TRUE((*store)->compact().ok());
      }
    }
    EXPECT_EQ(duplicates, order.size() - batches.size());
    expect_equal(scan_map(**store, all_of(kRangeStart, kRangeEnd, 10'000, 10'000)), want);
    const StoreStats st = (*store)->stats();
    EXPECT_EQ(st.batches_applied, batches.size());
    EXPECT_EQ(st.batches_duplicate, duplicates);
    EXPECT_GT(st.flushes, 0u);
  }
  // After a restart (memtable rebuilt from the WAL) and once more after a full merge.
  auto store = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  expect_equal(scan_map(**store, all_of(kRangeStart, kRangeEnd, 10'000, 10'000)), want);
  for (const auto& b : batches) {
    auto r = (*store)->ingest("acme", wire::encode_window_batch(b));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->duplicate);
  }
  ASSERT_TRUE((*store)->flush().ok());
  ASSERT_TRUE((*store)->compact(true).ok());
  expect_equal(scan_map(**store, all_of(kRangeStart, kRangeEnd, 10'000, 10'000)), want);
}

TEST(StoreTest, RollupTiersEqualMergeOfTenSecondRows) {
  TempDir dir;
  FakeClock clock(kNowMs);
  std::mt19937_64 rng(7);
  auto store = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  for (std::uint64_t seq = 1; seq <= 30; ++seq) {
    auto b = testing::make_batch(rng, "gw", seq, 40, 8, 700, seq % 2 == 0);
    // Late deltas for windows that earlier batches already filled.
    if (seq > 20) {
      for (auto& r : b.records) r.delta = true;
    }
    ASSERT_TRUE((*store)->ingest("acme", wire::encode_window_batch(b)).ok());
    if (seq % 10 == 0) {
      ASSERT_TRUE((*store)->flush().ok());
    }
  }
  auto check = [&] {
    for (std::int64_t step : {kMinute, kHour}) {
      const auto fine = scan_map(**store, all_of(kRangeStart, kRangeEnd, step, 10'000));
      const auto coarse =
          scan_map(**store, all_of(kRangeStart, kRangeEnd, step, static_cast<std::uint32_t>(step)));
      ASSERT_FALSE(fine.empty());
      expect_equal(coarse, fine);
      auto chosen = (*store)->scan(all_of(kRangeStart, kRangeEnd, step));
      ASSERT_TRUE(chosen.ok());
      EXPECT_EQ(chosen->tier_ms, step);
    }
  };
  check();
  ASSERT_TRUE((*store)->flush().ok());
  ASSERT_TRUE((*store)->compact(true).ok());
  check();
}

TEST(StoreTest, ScanPointMergesWindowsInHalfOpenStep) {
  TempDir dir;
  FakeClock clock(kNowMs);
  auto store = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  std::mt19937_64 rng(1);
  const std::int64_t t0 = (kNowMs / 60'000 - 10) * 60'000;
  wire::WindowBatch b;
  b.gateway_id = "gw";
  b.seq = 1;
  b.created_ms = kNowMs;
  for (int w = 0; w < 12; ++w) {
    b.records.push_back(testing::make_record(rng, "m", 1, t0 + w * 10'000, 10'000, 1));
  }
  ASSERT_TRUE((*store)->ingest("acme", wire::encode_window_batch(b)).ok());
  auto res = (*store)->scan(all_of(t0 + 30'000, t0 + 120'000, 30'000, 10'000));
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->series.size(), 1u);
  const auto& pts = res->series[0].points;
  // Points at t0+30 s (windows starting at t0+0, 10, 20 s), +60 s (30, 40, 50), +90 s (60, 70,
  // 80); the windows from t0+90 s on end after the last point.
  ASSERT_EQ(pts.size(), 3u);
  EXPECT_EQ(pts[0].t_ms, t0 + 30'000);
  for (const auto& p : pts) EXPECT_EQ(p.agg.count(), 3u);
  EXPECT_EQ(res->tier_ms, 10'000u);
}

TEST(StoreTest, RetentionDropsExpiredPartitionsOnly) {
  TempDir dir;
  FakeClock clock(kNowMs);
  StoreOptions o = test_options(&clock);
  o.retention_ms = {2 * 86'400'000LL, 0, 0};
  o.limits.max_past_ms = 10LL * 86'400'000;
  auto store = Store::open(dir.path(), o);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  std::mt19937_64 rng(9);
  const std::int64_t today = kNowMs / 86'400'000;
  // One record per day for days today-5 .. today.
  wire::WindowBatch b;
  b.gateway_id = "gw";
  b.seq = 1;
  b.created_ms = kNowMs;
  for (int d = 5; d >= 0; --d) {
    b.records.push_back(
        testing::make_record(rng, "m", 1, (today - d) * 86'400'000 + 3'600'000, 10'000, 2));
  }
  ASSERT_TRUE((*store)->ingest("acme", wire::encode_window_batch(b)).ok());
  ASSERT_TRUE((*store)->flush().ok());
  const auto before = (*store)->stats();
  ASSERT_TRUE((*store)->apply_retention().ok());
  const auto after = (*store)->stats();
  // 10 s tier: days today-5 .. today-3 end more than 2 days ago (today-2 ends 1-2 days ago).
  EXPECT_EQ(after.partitions_dropped, 3u);
  EXPECT_EQ(after.part_rows_per_tier[0], 3u);
  EXPECT_EQ(after.part_rows_per_tier[1], before.part_rows_per_tier[1]);
  EXPECT_EQ(after.part_rows_per_tier[2], before.part_rows_per_tier[2]);
  auto fine = (*store)->scan(
      all_of((today - 6) * 86'400'000, (today + 2) * 86'400'000, 86'400'000, 10'000));
  ASSERT_TRUE(fine.ok());
  ASSERT_EQ(fine->series.size(), 1u);
  EXPECT_EQ(fine->series[0].points.size(), 3u);
  auto coarse = (*store)->scan(
      all_of((today - 6) * 86'400'000, (today + 2) * 86'400'000, 86'400'000, 60'000));
  ASSERT_TRUE(coarse.ok());
  EXPECT_EQ(coarse->series[0].points.size(), 6u);
  // The dropped partitions' directories are gone.
  EXPECT_EQ(testing::find_files(dir.path() + "/parts", ".part").size(), 3u + 6u + 6u);
}

class CorruptPartTest : public ::testing::TestWithParam<bool> {};

TEST_P(CorruptPartTest, StoreOpensQuarantinesAndServesTheRest) {
  const bool truncate = GetParam();
  TempDir dir;
  FakeClock clock(kNowMs);
  std::mt19937_64 rng(21);
  Expected want_other;
  {
    auto store = Store::open(dir.path(), test_options(&clock));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    auto a = testing::make_batch(rng, "gw", 1, 200, 5, 50);
    ASSERT_TRUE((*store)->ingest("acme", wire::encode_window_batch(a)).ok());
    auto b = testing::make_batch(rng, "gw", 2, 200, 5, 50);
    ASSERT_TRUE((*store)->ingest("globex", wire::encode_window_batch(b)).ok());
    add_expected(want_other, b, kRangeStart, 10'000);
    ASSERT_TRUE((*store)->flush().ok());
  }
  auto victims = testing::find_files(dir.path() + "/parts/acme/10000", ".part");
  ASSERT_EQ(victims.size(), 1u);
  std::string data = testing::read_all(victims[0]);
  if (truncate) {
    data.resize(data.size() * 2 / 3);
  } else {
    data[data.size() / 2] ^= 0x5a;
  }
  testing::write_all(victims[0], data);

  auto store = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ((*store)->stats().parts_quarantined, 1u);
  EXPECT_EQ(testing::find_files(dir.path() + "/quarantine", ".part").size(), 1u);
  auto other = all_of(kRangeStart, kRangeEnd, 10'000, 10'000);
  other.tenant = "globex";
  expect_equal(scan_map(**store, other), want_other);
  auto lost = (*store)->scan(all_of(kRangeStart, kRangeEnd, 10'000, 10'000));
  ASSERT_TRUE(lost.ok());
  EXPECT_TRUE(lost->series.empty());
  // The coarser tiers of the same tenant are intact.
  auto coarse = (*store)->scan(all_of(kRangeStart, kRangeEnd, 60'000, 60'000));
  ASSERT_TRUE(coarse.ok());
  EXPECT_FALSE(coarse->series.empty());
  // A second open finds nothing more to quarantine.
  store->reset();
  auto again = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->stats().parts_quarantined, 0u);
}

INSTANTIATE_TEST_SUITE_P(StoreFlipOrTruncate, CorruptPartTest, ::testing::Bool());

TEST(StoreTest, TornWalTailIsTruncatedAndReported) {
  TempDir dir;
  FakeClock clock(kNowMs);
  std::mt19937_64 rng(3);
  Expected want;
  {
    auto store = Store::open(dir.path(), test_options(&clock));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    for (std::uint64_t seq = 1; seq <= 5; ++seq) {
      auto b = testing::make_batch(rng, "gw", seq, 20, 4, 30);
      add_expected(want, b, kRangeStart, 10'000);
      ASSERT_TRUE((*store)->ingest("acme", wire::encode_window_batch(b)).ok());
    }
  }
  auto segs = testing::find_files(dir.path() + "/wal", ".wal");
  ASSERT_FALSE(segs.empty());
  testing::write_all(segs.back(), testing::read_all(segs.back()) + std::string("\x30\x00\x00", 3));
  auto store = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ((*store)->stats().wal_torn_bytes, 3u);
  EXPECT_EQ((*store)->stats().wal_replayed_batches, 5u);
  expect_equal(scan_map(**store, all_of(kRangeStart, kRangeEnd, 10'000, 10'000)), want);
}

TEST(StoreTest, SeriesLimitRejectsTheWholeBatch) {
  TempDir dir;
  FakeClock clock(kNowMs);
  StoreOptions o = test_options(&clock);
  o.max_series_per_tenant = 3;
  auto store = Store::open(dir.path(), o);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  std::mt19937_64 rng(4);
  auto b = testing::make_batch(rng, "gw", 1, 40, 10, 5);
  auto r = (*store)->ingest("acme", wire::encode_window_batch(b));
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ((*store)->stats().series, 0u);
  EXPECT_EQ((*store)->stats().batches_applied, 0u);
}

// Batch s of gateway "gw" (seq s + 1): one record of series dev-(s % 16) in its own window
// first + s * 10 s with `readings` readings, so a scan shows each batch's presence and
// multiplicity.
wire::WindowBatch window_batch(std::mt19937_64& rng, int s, std::int64_t first, int readings) {
  wire::WindowBatch b;
  b.gateway_id = "gw";
  b.seq = static_cast<std::uint64_t>(s + 1);
  b.created_ms = kNowMs;
  b.records.push_back(
      testing::make_record(rng, "m", s % 16, first + s * 10'000LL, 10'000, readings));
  return b;
}

// A child process ingests batches and reports each seq on a pipe once ingest() returned; the
// parent kills it with SIGKILL mid-stream, reopens the store and checks that every reported
// batch is present exactly once (and unreported ones at most once). Repeated 3 times on the
// same store, resending everything each round as an agent would.
TEST(StoreTest, KillNineDuringIngestLosesNoAckedBatch) {
  TempDir dir;
  std::mt19937_64 rng(99);
  constexpr int kBatches = 400;
  std::vector<wire::WindowBatch> batches;
  std::vector<Bytes> encoded;
  // Batch s writes count s+1 into series dev-(s % 16) at window s: presence and multiplicity of
  // every batch is visible in a scan.
  const std::int64_t first = (kNowMs / 10'000 - kBatches - 10) * 10'000;
  for (int s = 0; s < kBatches; ++s) {
    batches.push_back(window_batch(rng, s, first, s + 1));
    encoded.push_back(wire::encode_window_batch(batches.back()));
  }
  std::set<std::uint64_t> acked;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      FakeClock clock(kNowMs);
      StoreOptions o = test_options(&clock);
      o.memtable_bytes = 64 << 10;  // frequent flushes: crashes land inside them too
      o.background_merge = true;
      o.merge_min_parts = 3;
      auto store = Store::open(dir.path(), o);
      if (!store.ok()) ::_exit(3);
      for (int s = 0; s < kBatches; ++s) {
        auto r = (*store)->ingest("acme", encoded[static_cast<std::size_t>(s)]);
        if (!r.ok()) ::_exit(4);
        const std::uint64_t seq = r->seq;
        if (::write(fds[1], &seq, sizeof seq) != sizeof seq) ::_exit(5);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    std::uint64_t seq;
    int got = 0;
    const int kill_after = 60 + round * 97;
    while (::read(fds[0], &seq, sizeof seq) == sizeof seq) {
      acked.insert(seq);
      if (++got == kill_after) ::kill(pid, SIGKILL);
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "child status " << status;
  }
  FakeClock clock(kNowMs);
  auto store = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  auto res = (*store)->scan(all_of(first, first + (kBatches + 2) * 10'000LL, 10'000, 10'000));
  ASSERT_TRUE(res.ok());
  std::map<std::int64_t, std::uint64_t> count_at;
  for (const auto& sp : res->series) {
    for (const auto& p : sp.points) count_at[p.t_ms] += p.agg.count();
  }
  for (int s = 0; s < kBatches; ++s) {
    // The point at t holds the window ending at t.
    const std::uint64_t c = count_at[first + (s + 1) * 10'000LL];
    const bool was_acked = acked.count(static_cast<std::uint64_t>(s + 1)) > 0;
    if (was_acked) {
      EXPECT_EQ(c, static_cast<std::uint64_t>(s + 1)) << "acked batch " << s + 1;
    } else {
      EXPECT_TRUE(c == 0 || c == static_cast<std::uint64_t>(s + 1)) << "batch " << s + 1;
    }
  }
  EXPECT_GT(acked.size(), 100u);
}

// backup_store() while another thread ingests with frequent flushes and background merges:
// the copy opens as a store holding every batch acknowledged before the backup started exactly
// once (later ones at most once), and after every batch is sent again, all exactly once.
TEST(StoreTest, OnlineBackupDuringIngestAndMergesRestoresEveryAckedBatchOnce) {
  TempDir dir;
  TempDir backups;
  constexpr int kBatches = 1500;
  std::mt19937_64 rng(5);
  std::vector<Bytes> encoded;
  const std::int64_t first = (kNowMs / 10'000 - kBatches - 10) * 10'000;
  for (int s = 0; s < kBatches; ++s) {
    encoded.push_back(wire::encode_window_batch(window_batch(rng, s, first, s % 7 + 1)));
  }
  auto counts = [&](const Store& st) {
    auto res = st.scan(all_of(first, first + (kBatches + 2) * 10'000LL, 10'000, 10'000));
    EXPECT_TRUE(res.ok());
    std::map<std::int64_t, std::uint64_t> at;
    if (!res.ok()) return at;
    for (const auto& sp : res->series) {
      for (const auto& p : sp.points) at[p.t_ms] += p.agg.count();
    }
    return at;
  };
  auto count_of = [&](std::map<std::int64_t, std::uint64_t>& at, int s) {
    return at[first + (s + 1) * 10'000LL];
  };

  FakeClock clock(kNowMs);
  StoreOptions o = test_options(&clock);
  o.memtable_bytes = 32 << 10;  // a flush every few batches
  o.background_merge = true;
  o.merge_min_parts = 3;
  auto store = Store::open(dir.path(), o);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  std::atomic<int> acked{0};
  std::thread writer([&] {
    for (int s = 0; s < kBatches; ++s) {
      auto r = (*store)->ingest("acme", encoded[static_cast<std::size_t>(s)]);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      acked.store(s + 1);
    }
  });
  std::vector<int> acked_before;
  std::vector<std::string> dests;
  for (int b = 0; b < 3; ++b) {
    while (acked.load() < (b + 1) * kBatches / 4) std::this_thread::yield();
    acked_before.push_back(acked.load());
    dests.push_back(backups.path() + "/copy-" + std::to_string(b));
    BackupReport report;
    Status s = backup_store(dir.path(), dests.back(), report);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_GT(report.parts + report.wal_segments, 0u);
  }
  writer.join();
  EXPECT_GT((*store)->stats().merges, 0u);
  store = Result<std::unique_ptr<Store>>(Status::internal("closed"));

  for (std::size_t b = 0; b < dests.size(); ++b) {
    StoreOptions ro = test_options(&clock);
    auto restored = Store::open(dests[b], ro);
    ASSERT_TRUE(restored.ok()) << restored.status().to_string();
    EXPECT_EQ((*restored)->stats().wal_segments_quarantined, 0u);
    EXPECT_EQ((*restored)->stats().parts_quarantined, 0u);
    auto at = counts(**restored);
    for (int s = 0; s < kBatches; ++s) {
      const std::uint64_t c = count_of(at, s);
      const std::uint64_t want = static_cast<std::uint64_t>(s % 7 + 1);
      if (s < acked_before[b]) {
        ASSERT_EQ(c, want) << "copy " << b << ": batch acked before the backup, seq " << s + 1;
      } else {
        ASSERT_TRUE(c == 0 || c == want) << "copy " << b << ", seq " << s + 1;
      }
    }
    // Agents resend what the restored store lacks; the ledger keeps the rest once.
    for (int s = 0; s < kBatches; ++s) {
      ASSERT_TRUE((*restored)->ingest("acme", encoded[static_cast<std::size_t>(s)]).ok());
    }
    at = counts(**restored);
    for (int s = 0; s < kBatches; ++s) {
      ASSERT_EQ(count_of(at, s), static_cast<std::uint64_t>(s % 7 + 1)) << "seq " << s + 1;
    }
  }
  BackupReport again;
  EXPECT_EQ(backup_store(dir.path(), dests[0], again).code(), StatusCode::kAlreadyExists);
}

// A store that has not flushed yet (no MANIFEST: everything is in the WAL) backs up too.
TEST(StoreTest, BackupOfAStoreThatNeverFlushedKeepsItsWal) {
  TempDir dir;
  TempDir backups;
  FakeClock clock(kNowMs);
  std::mt19937_64 rng(8);
  const std::int64_t first = (kNowMs / 10'000 - 50) * 10'000;
  auto store = Store::open(dir.path(), test_options(&clock));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  for (int s = 0; s < 20; ++s) {
    ASSERT_TRUE(
        (*store)->ingest("acme", wire::encode_window_batch(window_batch(rng, s, first, 3))).ok());
  }
  BackupReport report;
  ASSERT_TRUE(backup_store(dir.path(), backups.path() + "/copy", report).ok());
  EXPECT_EQ(report.parts, 0u);
  EXPECT_GE(report.wal_segments, 1u);
  auto restored = Store::open(backups.path() + "/copy", test_options(&clock));
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_EQ((*restored)->stats().wal_replayed_batches, 20u);
  EXPECT_EQ((*restored)->stats().batches_applied + (*restored)->stats().wal_replayed_batches, 20u);
  BackupReport none;
  EXPECT_EQ(backup_store(backups.path() + "/nothing-here", backups.path() + "/x", none).code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace edgesketch::store
