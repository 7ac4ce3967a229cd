// A full disk, an I/O error or a failed fsync at any write site of the store (WAL, parts,
// MANIFEST, catalog, directories) is held back and resumed from, never turned into a loss, a
// double count or a permanent rejection. Faults come from FaultEnv (tests/support).
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <random>

#include "collector/store_test_util.h"
#include "edgesketch/env/env.h"
#include "edgesketch/store/store.h"
#include "edgesketch/wire/codec.h"
#include "support/fault_env.h"

namespace edgesketch::store {
namespace {

using edgesketch::testing::FaultEnv;
using testing::kNowMs;
using testing::TempDir;

struct Site {
  const char* name;
  FaultEnv::Op op;
  const char* path_part;
  bool by_flush;  // the site is written by a flush (else by ingest)
};

const Site kSites[] = {
    {"wal_write", FaultEnv::Op::kWrite, "/wal/", false},
    {"wal_sync", FaultEnv::Op::kSync, "/wal/", false},
    {"wal_new_segment", FaultEnv::Op::kOpen, ".wal", true},
    {"wal_dir_sync", FaultEnv::Op::kSyncDir, "/wal", true},
    {"part_open", FaultEnv::Op::kOpen, ".part", true},
    {"part_write", FaultEnv::Op::kWrite, ".part", true},
    {"part_sync", FaultEnv::Op::kSync, ".part", true},
    {"part_rename", FaultEnv::Op::kRename, ".part", true},
    {"part_dir_create", FaultEnv::Op::kCreateDir, "/parts/", true},
    {"part_dir_sync", FaultEnv::Op::kSyncDir, "/parts", true},
    {"manifest_write", FaultEnv::Op::kWrite, "MANIFEST", true},
    {"manifest_sync", FaultEnv::Op::kSync, "MANIFEST", true},
    {"manifest_rename", FaultEnv::Op::kRename, "MANIFEST", true},
    {"catalog_write", FaultEnv::Op::kWrite, "catalog.db", false},
    {"catalog_sync", FaultEnv::Op::kSync, "catalog.db", false},
};

// Per series and window start: the count and sum every batch put there.
using Totals = std::map<std::pair<std::string, std::int64_t>, std::pair<std::uint64_t, double>>;

std::string name_of(const wire::SeriesKey& k) {
  std::string s = k.metric;
  for (const auto& t : k.tags) s += "," + t.key + "=" + t.value;
  return s;
}

void add(Totals& t, const wire::WindowBatch& b) {
  for (const auto& r : b.records) {
    auto& v = t[{name_of(r.key), r.window_start_ms}];
    v.first += r.agg.count();
    v.second += r.agg.sum();
  }
}

Totals scan_totals(const Store& s) {
  ScanRequest req;
  req.tenant = "acme";
  req.start_ms = kNowMs - 3 * 3'600'000;
  req.end_ms = kNowMs + 3'600'000;
  req.step_ms = 10'000;
  req.tier_ms = 10'000;
  auto res = s.scan(req);
  EXPECT_TRUE(res.ok()) << res.status().to_string();
  Totals out;
  if (!res.ok()) return out;
  for (const auto& sp : res->series) {
    // A point at t covers the window that ends at t.
    for (const auto& p : sp.points) {
      out[{name_of(sp.key), p.t_ms - 10'000}] = {p.agg.count(), p.agg.sum()};
    }
  }
  return out;
}

class StoreFaultTest : public ::testing::TestWithParam<std::tuple<Site, int>> {};

TEST_P(StoreFaultTest, FaultIsHeldReportedAndResumedFromWithNothingLostOrCountedTwice) {
  const auto [site, err] = GetParam();
  TempDir dir;
  FakeClock clock(kNowMs);
  FaultEnv fenv;
  StoreOptions o;
  o.clock = &clock;
  o.env = &fenv;
  o.background_merge = false;
  o.stall_retry_ms = 0;  // retry on every call: the test drives the retries

  std::mt19937_64 rng(7);
  std::vector<wire::WindowBatch> batches;
  for (std::uint64_t seq = 1; seq <= 30; ++seq) {
    // More devices as seq grows: later batches create series (catalog writes).
    batches.push_back(testing::make_batch(rng, "gw", seq, 12, 2 + static_cast<int>(seq), 20));
  }
  Totals want;
  for (const auto& b : batches) add(want, b);

  auto store = Store::open(dir.path(), o);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  std::vector<bool> acked(batches.size(), false);
  auto send = [&](std::size_t i) {
    auto r = (*store)->ingest("acme", wire::encode_window_batch(batches[i]));
    if (r.ok()) {
      acked[i] = true;
    } else {
      // Never a permanent answer for a temporary fault.
      EXPECT_TRUE(env::is_temporary(r.status())) << site.name << ": " << r.status().to_string();
    }
    return r.ok();
  };
  for (std::size_t i = 0; i < 10; ++i) ASSERT_TRUE(send(i));
  ASSERT_TRUE((*store)->flush().ok());

  fenv.fail(site.op, site.path_part, err);
  std::uint64_t max_stalled = 0;
  std::size_t refused = 0;
  for (std::size_t i = 10; i < 25; ++i) {
    refused += !send(i);
    if (i % 5 == 4) {
      const Status f = (*store)->flush();
      if (!f.ok()) {
        EXPECT_TRUE(env::is_temporary(f)) << f.to_string();
      }
    }
    const StoreStats st = (*store)->stats();
    max_stalled = std::max({max_stalled, st.stalled_wal, st.stalled_catalog, st.stalled_flush});
  }
  EXPECT_GT(fenv.injected(), 0u) << site.name << " was never reached";
  EXPECT_EQ(max_stalled, 1u) << site.name << ": the stall was not reported";
  EXPECT_GE((*store)->stats().stalls, 1u);
  if (!site.by_flush) {
    EXPECT_GT(refused, 0u) << site.name << ": ingest went on as if nothing failed";
  }

  // The disk is back: the agent resends what was not acked (and, as after a lost ack, some
  // that were).
  fenv.heal();
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (acked[i] && i % 3 != 0) continue;
    ASSERT_TRUE(send(i)) << site.name << ": batch " << i << " still refused after healing";
  }
  ASSERT_TRUE((*store)->flush().ok());
  const StoreStats st = (*store)->stats();
  EXPECT_EQ(st.stalled_wal + st.stalled_catalog + st.stalled_flush, 0u) << st.stall_reason;
  EXPECT_EQ(st.batches_applied, batches.size());
  EXPECT_EQ(scan_totals(**store), want) << site.name;
  for (std::size_t i = 25; i < batches.size(); ++i) ASSERT_TRUE(send(i));

  // And after a restart: replay and parts agree, nothing twice, nothing quarantined.
  store = Result<std::unique_ptr<Store>>(Status::internal("closed"));
  StoreOptions plain = o;
  plain.env = nullptr;
  auto again = Store::open(dir.path(), plain);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(scan_totals(**again), want) << site.name;
  EXPECT_EQ((*again)->stats().wal_segments_quarantined, 0u);
  EXPECT_EQ((*again)->stats().parts_quarantined, 0u);
}

INSTANTIATE_TEST_SUITE_P(EveryWriteSite, StoreFaultTest,
                         ::testing::Combine(::testing::ValuesIn(kSites),
                                            ::testing::Values(ENOSPC, EIO)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) +
                                  (std::get<1>(info.param) == ENOSPC ? "_ENOSPC" : "_EIO");
                         });

}  // namespace
}  // namespace edgesketch::store
