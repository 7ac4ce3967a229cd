// Outbox: seq monotonic across restarts, ack, lanes, exact coarsening within the byte bound,
// counted drops, crash safety (kill -9, uncommitted transactions), fsyncs per batch, and
// hostile database files.
#include "outbox/outbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "edgesketch/sketch/hash.h"
#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/compression.h"
#include "outbox/coarsen.h"

namespace edgesketch::agent {
namespace {

namespace fs = std::filesystem;
using wire::WindowBatch;
using wire::WindowRecord;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // the fake clock's start
constexpr std::int64_t kHour = 3'600'000;
// Windows start an hour before kT0, on an hour boundary.
constexpr std::int64_t kBase = (kT0 - kHour) / kHour * kHour;

class TempDir : public testbed::TempDir {
 public:
  TempDir() : testbed::TempDir("es-outbox-test") {}
};

sketch::AggregateSpec full_spec() {
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  spec.distinct = true;
  spec.topk = true;
  return spec;
}

// A record of `device` for the 10 s window starting at `start`, with `n` seeded readings.
WindowRecord make_record(int device, std::int64_t start, int n, std::mt19937_64& rng) {
  WindowRecord r;
  r.key.metric = "vibration";
  char dev[16];
  std::snprintf(dev, sizeof dev, "d%02d", device);
  r.key.tags = {{"device", dev}, {"site", "s1"}};
  r.window_start_ms = start;
  r.window_ms = 10'000;
  r.distinct_of = "code";
  r.topk_of = "code";
  r.agg = sketch::WindowAggregate(full_spec());
  std::lognormal_distribution<double> value(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    r.agg.add_value(value(rng));
    std::string code = "E" + std::to_string(rng() % 12);
    r.agg.add_distinct(sketch::hash_key(code));
    r.agg.add_top(sketch::hash_key(code), code);
  }
  return r;
}

// Batch w: one 10 s window (kBase + w * 10 s) of `devices` series.
WindowBatch make_batch(int w, int devices, std::mt19937_64& rng, int readings = 40) {
  WindowBatch b;
  b.gateway_id = "gw-1";
  b.tenant = "acme";
  for (int d = 0; d < devices; ++d) {
    b.records.push_back(make_record(d, kBase + w * 10'000, readings + d % 5, rng));
  }
  return b;
}

OutboxOptions options_for(const TempDir& dir, const Clock* clock, std::uint64_t max_bytes) {
  OutboxOptions o;
  o.path = dir.file("outbox.db");
  o.max_bytes = max_bytes;
  o.clock = clock;
  return o;
}

std::unique_ptr<Outbox> open_outbox(const OutboxOptions& o) {
  auto r = Outbox::open(o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

OutboxStats stats_of(Outbox& o) {
  auto s = o.stats();
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? *s : OutboxStats{};
}

// Every stored batch (decoded, checked to carry its row's seq), handing them all out.
std::vector<std::pair<OutboxBatch, WindowBatch>> drain(Outbox& o, const Clock& clock) {
  std::vector<std::pair<OutboxBatch, WindowBatch>> all;
  EXPECT_TRUE(o.requeue_unacked().ok());
  for (Lane lane : {Lane::kLive, Lane::kBacklog}) {
    auto batches = o.next_to_send(lane, 1'000'000);
    EXPECT_TRUE(batches.ok()) << batches.status().to_string();
    if (!batches.ok()) continue;
    for (OutboxBatch& b : *batches) {
      wire::Limits limits;
      auto decoded = wire::decode_window_batch(b.payload, limits, clock.now_ms());
      EXPECT_TRUE(decoded.ok()) << decoded.status().to_string();
      if (!decoded.ok()) continue;
      EXPECT_EQ(decoded->seq, b.seq);
      all.emplace_back(std::move(b), std::move(decoded).value());
    }
  }
  return all;
}

// first_seq = 0 (the agent's setting): a fresh file starts at a random seq of at least 2^32, so
// a file replacing a lost one does not reuse the seqs the collector has already seen; reopening
// continues where it was.
TEST(OutboxTest, ARandomFirstSeqKeepsAReplacedFileFromReusingSeqs) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(2);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  o.first_seq = 0;
  std::uint64_t first = 0;
  {
    auto ob = open_outbox(o);
    auto seq = ob->append(make_batch(0, 3, rng), 1);
    ASSERT_TRUE(seq.ok()) << seq.status().to_string();
    first = *seq;
    EXPECT_GE(first, std::uint64_t{1} << 32);
    EXPECT_LT(first, std::uint64_t{1} << 62);
  }
  {
    auto ob = open_outbox(o);
    auto seq = ob->append(make_batch(1, 3, rng), 2);
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, first + 1);
  }
  // The file is lost and replaced: the new one starts elsewhere.
  std::filesystem::remove(o.path);
  std::filesystem::remove(o.path + "-wal");
  std::filesystem::remove(o.path + "-shm");
  auto ob = open_outbox(o);
  auto seq = ob->append(make_batch(2, 3, rng), 3);
  ASSERT_TRUE(seq.ok());
  EXPECT_GE(*seq, std::uint64_t{1} << 32);
  EXPECT_NE(*seq, first);
  EXPECT_NE(*seq, first + 1);
  EXPECT_NE(*seq, first + 2);
}

TEST(OutboxTest, SeqIsMonotonicAcrossReopenAndNeverReused) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(1);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  std::vector<std::uint64_t> seqs;
  {
    auto ob = open_outbox(o);
    for (int i = 0; i < 5; ++i) {
      auto seq = ob->append(make_batch(i, 3, rng), /*journal_upto=*/100 + i);
      ASSERT_TRUE(seq.ok()) << seq.status().to_string();
      seqs.push_back(*seq);
    }
  }
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  {
    auto ob = open_outbox(o);
    OutboxStats st = stats_of(*ob);
    EXPECT_EQ(st.rows, 5u);
    EXPECT_EQ(st.next_seq, 6u);
    EXPECT_EQ(st.journal_upto, 104u);
    ASSERT_TRUE(ob->ack(std::vector<std::uint64_t>{1, 2, 3, 4, 5}).ok());
    EXPECT_EQ(stats_of(*ob).rows, 0u);
  }
  {
    // Empty after the acks: the next seq still continues.
    auto ob = open_outbox(o);
    auto seq = ob->append(make_batch(9, 3, rng), 90);  // a lower journal_upto never lowers it
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, 6u);
    EXPECT_EQ(stats_of(*ob).journal_upto, 104u);
    auto all = drain(*ob, clock);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].second.seq, 6u);
    EXPECT_EQ(all[0].second.created_ms, kT0);
    EXPECT_EQ(all[0].first.window_start_ms, kBase + 90'000);
    EXPECT_EQ(all[0].first.window_end_ms, kBase + 100'000);
    EXPECT_EQ(all[0].first.records, 3u);
  }
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::vector<Bytes> marks_of(Outbox& o) {
  auto m = o.close_marks();
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : std::vector<Bytes>{};
}

TEST(OutboxTest, CloseMarksCommitWithTheirBatchAndGoOnceJournalUptoPassesThem) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(3);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  {
    auto ob = open_outbox(o);
    ASSERT_TRUE(ob->append(make_batch(0, 2, rng), 0, Lane::kLive, {bytes_of("m10"), 10}).ok());
    ASSERT_TRUE(ob->append(make_batch(1, 2, rng), 0, Lane::kLive, {bytes_of("m20"), 20}).ok());
    ASSERT_TRUE(ob->append(make_batch(2, 2, rng), 0).ok());  // no marks
  }
  auto ob = open_outbox(o);
  EXPECT_EQ(marks_of(*ob), (std::vector<Bytes>{bytes_of("m10"), bytes_of("m20")}));
  EXPECT_EQ(*ob->close_marks_fed_upto(), 20u);
  // journal_upto reaches 10: the first marks guard nothing replayable any more; marks already
  // covered by the new journal_upto are not stored at all.
  ASSERT_TRUE(ob->append(make_batch(3, 2, rng), 10, Lane::kLive, {bytes_of("m7"), 7}).ok());
  EXPECT_EQ(marks_of(*ob), (std::vector<Bytes>{bytes_of("m20")}));
  // Acks do not touch marks: they live as long as the journal records they guard.
  ASSERT_TRUE(ob->ack(std::vector<std::uint64_t>{1, 2, 3, 4}).ok());
  EXPECT_EQ(marks_of(*ob), (std::vector<Bytes>{bytes_of("m20")}));
  ASSERT_TRUE(ob->append(make_batch(4, 2, rng), 25, Lane::kLive, {bytes_of("m30"), 30}).ok());
  EXPECT_EQ(marks_of(*ob), (std::vector<Bytes>{bytes_of("m30")}));
  // A batch the outbox refuses stores no marks either.
  WindowBatch empty;
  EXPECT_FALSE(ob->append(empty, 40, Lane::kLive, {bytes_of("m50"), 50}).ok());
  EXPECT_EQ(marks_of(*ob), (std::vector<Bytes>{bytes_of("m30")}));
  EXPECT_EQ(*ob->close_marks_fed_upto(), 30u);
  ASSERT_TRUE(ob->append(make_batch(5, 2, rng), 30).ok());
  EXPECT_EQ(*ob->close_marks_fed_upto(), 0u);  // none left
}

TEST(OutboxOpenTest, UpgradesAVersionOneFileInPlace) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(4);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  {
    auto ob = open_outbox(o);
    ASSERT_TRUE(ob->append(make_batch(0, 2, rng), 5).ok());
  }
  {
    // What version 1 wrote: no close_marks table.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE close_marks; PRAGMA user_version=1", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto ob = open_outbox(o);
  ASSERT_NE(ob, nullptr);
  EXPECT_TRUE(marks_of(*ob).empty());
  EXPECT_EQ(stats_of(*ob).rows, 1u);
  EXPECT_EQ(stats_of(*ob).journal_upto, 5u);
  ASSERT_TRUE(ob->append(make_batch(1, 2, rng), 5, Lane::kLive, {bytes_of("m9"), 9}).ok());
  EXPECT_EQ(marks_of(*ob), (std::vector<Bytes>{bytes_of("m9")}));
  ob.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(st, 0), kOutboxSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(OutboxTest, StoresZstdFramesAndReadsBothKinds) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(3);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  std::vector<WindowBatch> sent;
  {
    auto ob = open_outbox(o);  // zstd_level 0: stored as protobuf
    WindowBatch b = make_batch(1, 40, rng);
    sent.push_back(b);
    ASSERT_TRUE(ob->append(std::move(b), 1).ok());
  }
  o.zstd_level = 3;
  auto ob = open_outbox(o);
  WindowBatch b = make_batch(2, 40, rng);
  sent.push_back(b);
  ASSERT_TRUE(ob->append(std::move(b), 2).ok());
  auto all = drain(*ob, clock);
  ASSERT_EQ(all.size(), 2u);
  std::sort(all.begin(), all.end(),
            [](const auto& x, const auto& y) { return x.first.seq < y.first.seq; });
  EXPECT_FALSE(wire::is_compressed_payload(all[0].first.payload));
  EXPECT_TRUE(wire::is_compressed_payload(all[1].first.payload));
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(all[i].second.records, sent[i].records);
  }
  // The compressed one is smaller for the same kind of content, and the byte bound counts what
  // is stored.
  EXPECT_LT(all[1].first.payload.size(), all[0].first.payload.size());
  EXPECT_EQ(stats_of(*ob).bytes, all[0].first.payload.size() + all[1].first.payload.size());
}

TEST(OutboxTest, AckIsIdempotent) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(2);
  auto ob = open_outbox(options_for(dir, &clock, 64u << 20));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ob->append(make_batch(i, 2, rng), 0).ok());
  const std::uint64_t bytes_before = stats_of(*ob).bytes;
  ASSERT_TRUE(ob->ack(2).ok());
  ASSERT_TRUE(ob->ack(2).ok());
  ASSERT_TRUE(ob->ack(99).ok());
  ASSERT_TRUE(ob->ack(std::vector<std::uint64_t>{2, 2, 3, 1000}).ok());
  OutboxStats st = stats_of(*ob);
  EXPECT_EQ(st.rows, 1u);
  EXPECT_LT(st.bytes, bytes_before);
  auto all = drain(*ob, clock);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first.seq, 1u);
  // Acks are not drops.
  for (const DropCounts& d : st.dropped) EXPECT_EQ(d.batches, 0u);
}

TEST(OutboxTest, RejectDeletesAndCounts) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(3);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  {
    auto ob = open_outbox(o);
    ASSERT_TRUE(ob->append(make_batch(0, 4, rng, 10), 0).ok());
    ASSERT_TRUE(ob->reject(1).ok());
    ASSERT_TRUE(ob->reject(1).ok());  // already gone: nothing more counted
  }
  auto ob = open_outbox(o);
  OutboxStats st = stats_of(*ob);
  const DropCounts& d = st.dropped[static_cast<int>(DropReason::kRejected)];
  EXPECT_EQ(d.batches, 1u);
  EXPECT_EQ(d.records, 4u);
  EXPECT_EQ(d.readings, 4u * 10 + (0 + 1 + 2 + 3));
  EXPECT_EQ(st.rows, 0u);
}

TEST(OutboxTest, LanesLiveNewestFirstBacklogOldestFirst) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(4);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  o.live_window_ms = 60'000;
  o.resend_after_ms = 30'000;
  auto ob = open_outbox(o);
  // Old windows appended during an outage, then two live ones after it.
  ASSERT_TRUE(ob->append(make_batch(20, 1, rng), 0).ok());  // seq 1, window 20
  ASSERT_TRUE(ob->append(make_batch(10, 1, rng), 0).ok());  // seq 2, window 10
  clock.advance_ms(120'000);
  ASSERT_TRUE(ob->append(make_batch(100, 1, rng), 0).ok());                // seq 3
  ASSERT_TRUE(ob->append(make_batch(101, 1, rng), 0).ok());                // seq 4
  ASSERT_TRUE(ob->append(make_batch(5, 1, rng), 0, Lane::kBacklog).ok());  // seq 5

  auto seqs_of = [](const Result<std::vector<OutboxBatch>>& r) {
    std::vector<std::uint64_t> s;
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (r.ok()) {
      for (const auto& b : *r) s.push_back(b.seq);
    }
    return s;
  };
  EXPECT_EQ(seqs_of(ob->next_to_send(Lane::kLive, 1)), (std::vector<std::uint64_t>{4}));
  EXPECT_EQ(seqs_of(ob->next_to_send(Lane::kLive, 10)), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(seqs_of(ob->next_to_send(Lane::kBacklog, 10)),
            (std::vector<std::uint64_t>{5, 2, 1}));  // by window start
  // In flight: nothing is handed out again before resend_after_ms.
  EXPECT_TRUE(seqs_of(ob->next_to_send(Lane::kLive, 10)).empty());
  EXPECT_TRUE(seqs_of(ob->next_to_send(Lane::kBacklog, 10)).empty());
  EXPECT_EQ(stats_of(*ob).in_flight, 5u);
  clock.advance_ms(30'000);
  auto again = ob->next_to_send(Lane::kLive, 10);
  EXPECT_EQ(seqs_of(again), (std::vector<std::uint64_t>{4, 3}));
  EXPECT_EQ((*again)[0].sent_count, 2u);
  // After a reconnect everything unacked goes again at once; live batches age into the backlog.
  ASSERT_TRUE(ob->ack(3).ok());
  ASSERT_TRUE(ob->requeue_unacked().ok());
  clock.advance_ms(60'000);
  EXPECT_TRUE(seqs_of(ob->next_to_send(Lane::kLive, 10)).empty());
  EXPECT_EQ(seqs_of(ob->next_to_send(Lane::kBacklog, 10)),
            (std::vector<std::uint64_t>{5, 2, 1, 4}));
}

// Ground truth: every appended record merged per (device, coarse window).
using Truth = std::map<std::pair<std::string, std::int64_t>, sketch::WindowAggregate>;

void add_truth(Truth& truth, const WindowBatch& b, std::int64_t window_ms) {
  for (const WindowRecord& r : b.records) {
    auto key = std::make_pair(r.key.tags[0].value, r.window_start_ms / window_ms * window_ms);
    auto [it, fresh] = truth.try_emplace(key, r.agg);
    if (!fresh) {
      ASSERT_TRUE(it->second.merge(r.agg).ok());
    }
  }
}

// Equal buckets, scale, count, min and max; the sum (a floating-point sum, so it depends on the
// merge order) within 1e-9 relative.
void expect_same_buckets(const sketch::ExpHistogram& got, const sketch::ExpHistogram& want) {
  EXPECT_EQ(got.scale(), want.scale());
  EXPECT_EQ(got.count(), want.count());
  EXPECT_EQ(got.zero_count(), want.zero_count());
  EXPECT_EQ(got.min(), want.min());
  EXPECT_EQ(got.max(), want.max());
  EXPECT_NEAR(got.sum(), want.sum(), 1e-9 * std::abs(want.sum()));
  EXPECT_EQ(got.positive_offset(), want.positive_offset());
  EXPECT_TRUE(std::ranges::equal(got.positive_counts(), want.positive_counts()));
  EXPECT_EQ(got.negative_offset(), want.negative_offset());
  EXPECT_TRUE(std::ranges::equal(got.negative_counts(), want.negative_counts()));
  EXPECT_EQ(got.quantile(0.99), want.quantile(0.99));
}

void expect_same(const sketch::WindowAggregate& got, const sketch::WindowAggregate& want,
                 const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(got.count(), want.count());
  EXPECT_NEAR(got.sum(), want.sum(), 1e-9 * std::abs(want.sum()));
  EXPECT_EQ(got.min(), want.min());
  EXPECT_EQ(got.max(), want.max());
  ASSERT_NE(got.histogram(), nullptr);
  expect_same_buckets(*got.histogram(), *want.histogram());
  ASSERT_NE(got.distinct(), nullptr);
  EXPECT_EQ(got.distinct()->estimate(), want.distinct()->estimate());
  ASSERT_NE(got.topk(), nullptr);
  EXPECT_EQ(got.topk()->top(20), want.topk()->top(20));
  EXPECT_EQ(got.topk()->total(), want.topk()->total());
}

// Merges what the outbox holds per (device, coarse window) and compares with the truth.
void expect_matches_truth(const std::vector<std::pair<OutboxBatch, WindowBatch>>& stored,
                          const Truth& truth, std::int64_t window_ms) {
  Truth got;
  for (const auto& [row, batch] : stored) {
    for (const WindowRecord& r : batch.records) {
      EXPECT_EQ(r.window_start_ms % r.window_ms, 0);
      EXPECT_LE(r.window_ms, window_ms);
      auto key = std::make_pair(r.key.tags[0].value, r.window_start_ms / window_ms * window_ms);
      auto [it, fresh] = got.try_emplace(key, r.agg);
      if (!fresh) {
        ASSERT_TRUE(it->second.merge(r.agg).ok());
      }
    }
  }
  ASSERT_EQ(got.size(), truth.size());
  for (const auto& [key, want] : truth) {
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << key.first << " " << key.second;
    expect_same(it->second, want, key.first + " @" + std::to_string(key.second));
  }
}

TEST(CoarsenTest, MergesExactlyAndSplitsWithinLimits) {
  std::mt19937_64 rng(5);
  std::vector<WindowBatch> inputs;
  Truth truth;
  for (int w = 0; w < 18; ++w) {  // 3 minutes of 10 s windows, 7 series
    inputs.push_back(make_batch(w, 7, rng));
    add_truth(truth, inputs.back(), 60'000);
  }
  wire::Limits limits;
  limits.max_records_per_batch = 5;
  auto r = coarsen_window_batches(inputs, 60'000, limits);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->records_in, 18u * 7);
  EXPECT_EQ(r->records_out, 3u * 7);
  EXPECT_EQ(r->unmergeable_records, 0u);
  EXPECT_EQ(r->batches.size(), 5u);  // 21 records, at most 5 per batch
  std::vector<std::pair<OutboxBatch, WindowBatch>> as_stored;
  for (WindowBatch& b : r->batches) {
    EXPECT_LE(b.records.size(), 5u);
    EXPECT_EQ(b.gateway_id, "gw-1");
    EXPECT_EQ(b.tenant, "acme");
    for (const auto& rec : b.records) EXPECT_EQ(rec.window_ms, 60'000u);
    b.seq = 1;
    b.created_ms = kT0;
    auto decoded = wire::decode_window_batch(wire::encode_window_batch(b), limits, kT0);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    as_stored.emplace_back(OutboxBatch{}, std::move(decoded).value());
  }
  expect_matches_truth(as_stored, truth, 60'000);

  // Byte limit: every output batch fits it.
  limits = wire::Limits();
  limits.max_payload_bytes = 4096;
  r = coarsen_window_batches(inputs, 60'000, limits);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GT(r->batches.size(), 1u);
  for (WindowBatch& b : r->batches) {
    b.seq = UINT64_MAX;
    b.created_ms = kT0;
    EXPECT_LE(wire::encode_window_batch(b).size(), 4096u);
  }
  limits.max_payload_bytes = 50;
  EXPECT_EQ(coarsen_window_batches(inputs, 60'000, limits).status().code(),
            StatusCode::kOutOfRange);
}

// Appends `n` 10 s batches of `devices` series and returns the truth per `truth_window_ms`.
Truth fill(Outbox& ob, int n, int devices, std::int64_t truth_window_ms, std::uint64_t seed,
           std::uint64_t* readings = nullptr) {
  std::mt19937_64 rng(seed);
  Truth truth;
  for (int w = 0; w < n; ++w) {
    WindowBatch b = make_batch(w, devices, rng);
    add_truth(truth, b, truth_window_ms);
    if (readings != nullptr) {
      for (const auto& r : b.records) *readings += r.agg.count();
    }
    auto seq = ob.append(std::move(b), static_cast<std::uint64_t>(w));
    EXPECT_TRUE(seq.ok()) << seq.status().to_string();
  }
  return truth;
}

std::size_t batch_bytes(int devices) {
  std::mt19937_64 rng(99);
  WindowBatch b = make_batch(0, devices, rng);
  b.seq = 1000;
  b.created_ms = kT0;
  return wire::encode_window_batch(b).size();
}

TEST(OutboxCoarsenTest, FullOutboxCoarsensToMinutesExactlyWithinMaxBytes) {
  TempDir dir;
  FakeClock clock(kT0);
  const std::size_t one = batch_bytes(8);
  // Room for a third of the hour at 10 s; at 1 min the hour needs about a sixth of it.
  const std::uint64_t max_bytes = one * 120;
  OutboxOptions o = options_for(dir, &clock, max_bytes);
  o.coarsen_chunk_bytes = one * 30;
  auto ob = open_outbox(o);
  Truth truth = fill(*ob, 360, 8, 60'000, 6);
  OutboxStats st = stats_of(*ob);
  EXPECT_LE(st.bytes, max_bytes);
  EXPECT_GT(st.by_level[1].rows, 0u);
  EXPECT_GT(st.by_level[0].rows, 0u);  // the newest stay as produced
  EXPECT_EQ(st.by_level[2].rows, 0u);
  EXPECT_GT(st.coarsened_batches, 0u);
  for (const DropCounts& d : st.dropped) EXPECT_EQ(d.batches, 0u);
  EXPECT_EQ(st.journal_upto, 359u);
  auto stored = drain(*ob, clock);
  ASSERT_EQ(stored.size(), st.rows);
  for (const auto& [row, batch] : stored) {
    EXPECT_EQ(row.level == 0, batch.records[0].window_ms == 10'000u);
    if (row.level == 1) {
      EXPECT_EQ(row.lane, Lane::kBacklog);
    }
  }
  expect_matches_truth(stored, truth, 60'000);
}

TEST(OutboxCoarsenTest, StillFullCoarsensToHoursThenDropsOnlyWhenNothingIsLeft) {
  TempDir dir;
  FakeClock clock(kT0);
  const std::size_t one = batch_bytes(8);
  const std::uint64_t max_bytes = one * 12;
  OutboxOptions o = options_for(dir, &clock, max_bytes);
  o.coarsen_chunk_bytes = one * 30;
  {
    auto ob = open_outbox(o);
    Truth truth = fill(*ob, 360, 8, kHour, 7);  // one hour: fits once at 1 h
    OutboxStats st = stats_of(*ob);
    EXPECT_LE(st.bytes, max_bytes);
    EXPECT_GT(st.by_level[2].rows, 0u);
    for (const DropCounts& d : st.dropped) EXPECT_EQ(d.batches, 0u);
    expect_matches_truth(drain(*ob, clock), truth, kHour);
  }
  fs::remove(o.path);
  fs::remove(o.path + "-wal");
  fs::remove(o.path + "-shm");
  {
    // Far too small for even one hour per series at 1 h: the oldest go, and are counted.
    o.max_bytes = one * 2;
    auto ob = open_outbox(o);
    std::uint64_t appended = 0;
    fill(*ob, 360, 8, kHour, 8, &appended);
    OutboxStats st = stats_of(*ob);
    EXPECT_LE(st.bytes, o.max_bytes);
    const DropCounts& d = st.dropped[static_cast<int>(DropReason::kOverflow)];
    EXPECT_GT(d.batches, 0u);
    std::uint64_t kept = 0;
    for (const auto& [row, batch] : drain(*ob, clock)) kept += row.readings;
    EXPECT_EQ(kept + d.readings, appended);  // nothing lost without being counted
  }
}

TEST(OutboxCoarsenTest, BatchesHandedOutAreNeverCoarsened) {
  TempDir dir;
  FakeClock clock(kT0);
  const std::size_t one = batch_bytes(8);
  OutboxOptions o = options_for(dir, &clock, one * 60);
  o.coarsen_chunk_bytes = one * 30;
  auto ob = open_outbox(o);
  fill(*ob, 12, 8, 60'000, 9);
  clock.advance_ms(120'000);
  auto sent = ob->next_to_send(Lane::kBacklog, 6);  // the six oldest are now in flight
  ASSERT_TRUE(sent.ok());
  ASSERT_EQ(sent->size(), 6u);
  std::mt19937_64 rng(10);
  for (int w = 12; w < 200; ++w) ASSERT_TRUE(ob->append(make_batch(w, 8, rng), 0).ok());
  OutboxStats st = stats_of(*ob);
  EXPECT_GT(st.by_level[1].rows, 0u);
  EXPECT_EQ(st.in_flight, 6u);
  std::set<std::uint64_t> in_flight;
  for (const auto& b : *sent) in_flight.insert(b.seq);
  for (const auto& [row, batch] : drain(*ob, clock)) {
    if (in_flight.count(row.seq)) {
      EXPECT_EQ(row.level, 0);
      in_flight.erase(row.seq);
    }
  }
  EXPECT_TRUE(in_flight.empty());  // all six still there, as they were
}

TEST(OutboxTest, RejectsEmptyAndOversizedBatches) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(11);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  o.limits.max_payload_bytes = 2000;
  auto ob = open_outbox(o);
  EXPECT_EQ(ob->append(WindowBatch{}, 0).status().code(), StatusCode::kInvalidArgument);
  auto r = ob->append(make_batch(0, 20, rng), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("split it"), std::string::npos);
  EXPECT_EQ(stats_of(*ob).rows, 0u);

  o.coarsen_levels = {60'000, 7'000};
  EXPECT_EQ(Outbox::open(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(OutboxTest, FsyncsPerBatchIsAboutOne) {
  TempDir dir;
  FakeClock clock(kT0);
  std::mt19937_64 rng(12);
  auto ob = open_outbox(options_for(dir, &clock, 64u << 20));
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(ob->append(make_batch(i, 4, rng), 0).ok());
  OutboxStats st = stats_of(*ob);
  EXPECT_EQ(st.appends, 300u);
  EXPECT_GE(st.fsyncs_per_batch, 1.0);  // synchronous=FULL: the commit syncs the WAL
  EXPECT_LE(st.fsyncs_per_batch, 1.1);  // plus the odd auto-checkpoint (2 syncs each)
  EXPECT_GE(st.wal_fsyncs, 300u);
  // Acks cost no fsync of their own.
  const std::uint64_t before = st.wal_fsyncs + st.db_fsyncs;
  for (std::uint64_t seq = 1; seq <= 50; ++seq) ASSERT_TRUE(ob->ack(seq).ok());
  st = stats_of(*ob);
  EXPECT_LE(st.wal_fsyncs + st.db_fsyncs - before, 2u);
  ASSERT_TRUE(ob->checkpoint().ok());
  EXPECT_GT(stats_of(*ob).db_fsyncs, 0u);
}

TEST(OutboxTest, AppenderAndForwarderThreads) {
  TempDir dir;
  FakeClock clock(kT0);
  auto ob = open_outbox(options_for(dir, &clock, 64u << 20));
  constexpr int kBatches = 200;
  std::atomic<bool> appended{false};
  std::thread aggregator([&] {
    std::mt19937_64 rng(18);
    for (int w = 0; w < kBatches; ++w) {
      EXPECT_TRUE(ob->append(make_batch(w, 2, rng, 5), static_cast<std::uint64_t>(w)).ok());
    }
    appended = true;
  });
  std::set<std::uint64_t> acked;
  std::thread forwarder([&] {
    for (;;) {
      const bool last_round = appended.load();
      auto batches = ob->next_to_send(Lane::kLive, 16);
      ASSERT_TRUE(batches.ok()) << batches.status().to_string();
      std::vector<std::uint64_t> seqs;
      for (const auto& b : *batches) seqs.push_back(b.seq);
      ASSERT_TRUE(ob->ack(seqs).ok());
      acked.insert(seqs.begin(), seqs.end());
      if (last_round && batches->empty()) break;
    }
  });
  aggregator.join();
  forwarder.join();
  EXPECT_EQ(acked.size(), static_cast<std::size_t>(kBatches));
  OutboxStats st = stats_of(*ob);
  EXPECT_EQ(st.rows, 0u);
  EXPECT_EQ(st.journal_upto, kBatches - 1u);
}

// Runs `child` in a forked process that ends with _exit(0) (no destructors, no close).
pid_t fork_child(const std::function<void()>& child) {
  pid_t pid = ::fork();
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  return pid;
}

TEST(OutboxCrashTest, EveryCommittedAppendSurvivesKillNine) {
  TempDir dir;
  FakeClock clock(kT0);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = fork_child([&] {
    ::close(fds[0]);
    auto ob = Outbox::open(o);
    if (!ob.ok()) ::_exit(1);
    std::mt19937_64 rng(13);
    for (int w = 0;; ++w) {
      auto seq = (*ob)->append(make_batch(w % 300, 3, rng), 0);
      if (!seq.ok()) ::_exit(2);
      std::uint64_t v = *seq;
      if (::write(fds[1], &v, sizeof v) != sizeof v) ::_exit(3);
    }
  });
  ASSERT_GT(pid, 0);
  ::close(fds[1]);
  std::vector<std::uint64_t> acknowledged;
  std::uint64_t v;
  while (acknowledged.size() < 60 && ::read(fds[0], &v, sizeof v) == sizeof v) {
    acknowledged.push_back(v);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  while (::read(fds[0], &v, sizeof v) == sizeof v) acknowledged.push_back(v);
  ::close(fds[0]);
  ASSERT_GE(acknowledged.size(), 60u);

  auto ob = open_outbox(o);
  std::set<std::uint64_t> present;
  for (const auto& [row, batch] : drain(*ob, clock)) present.insert(row.seq);
  for (std::uint64_t seq : acknowledged) EXPECT_TRUE(present.count(seq)) << seq;
  // New seqs continue past everything the killed process committed.
  std::mt19937_64 rng(1);
  auto seq = ob->append(make_batch(1, 1, rng), 0);
  ASSERT_TRUE(seq.ok());
  EXPECT_GT(*seq, *present.rbegin());
}

TEST(OutboxCrashTest, UncommittedTransactionLeavesNoTrace) {
  TempDir dir;
  FakeClock clock(kT0);
  OutboxOptions o = options_for(dir, &clock, 64u << 20);
  pid_t pid = fork_child([&] {
    auto ob = Outbox::open(o);
    if (!ob.ok()) ::_exit(1);
    std::mt19937_64 rng(14);
    for (int w = 0; w < 3; ++w) {
      if (!(*ob)->append(make_batch(w, 2, rng), 0).ok()) ::_exit(2);
    }
    // A writer that dies in the middle of its transaction, after its pages reached the WAL.
    sqlite3* db = nullptr;
    if (sqlite3_open(o.path.c_str(), &db) != SQLITE_OK) ::_exit(3);
    const char* sql =
        "PRAGMA cache_size=1; BEGIN IMMEDIATE;"
        "INSERT INTO batches(seq, created_ms, window_start_ms, window_end_ms, level, lane,"
        " bytes, journal_upto, records, readings, payload)"
        " VALUES(4, 0, 0, 0, 0, 0, 100000, 0, 1, 1, zeroblob(100000));"
        "UPDATE meta SET value = 5 WHERE key = 'next_seq';";
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) ::_exit(4);
  });
  ASSERT_GT(pid, 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto ob = open_outbox(o);
  OutboxStats st = stats_of(*ob);
  EXPECT_EQ(st.rows, 3u);
  EXPECT_EQ(st.next_seq, 4u);  // 4 was never committed, so it was never handed to anyone
  std::mt19937_64 rng(15);
  auto seq = ob->append(make_batch(7, 2, rng), 0);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 4u);
  EXPECT_EQ(drain(*ob, clock).size(), 4u);
}

TEST(OutboxOpenTest, HostileFilesGiveClearErrors) {
  TempDir dir;
  OutboxOptions o;
  // Not a database at all.
  o.path = dir.file("garbage.db");
  {
    std::ofstream f(o.path, std::ios::binary);
    std::mt19937_64 rng(16);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>(rng()));
  }
  auto r = Outbox::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("garbage.db"), std::string::npos) << r.status().message();

  // Another application's SQLite database.
  o.path = dir.file("foreign.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  r = Outbox::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("another application"), std::string::npos);

  // Our own file from a newer version.
  o.path = dir.file("newer.db");
  ASSERT_NE(open_outbox(o), nullptr);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
    const std::string newer = "PRAGMA user_version=" + std::to_string(kOutboxSchemaVersion + 1);
    ASSERT_EQ(sqlite3_exec(db, newer.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  r = Outbox::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("newer"), std::string::npos);

  // Our own file, damaged: pages overwritten in the middle.
  o.path = dir.file("damaged.db");
  {
    FakeClock clock(kT0);
    o.clock = &clock;
    auto ob = open_outbox(o);
    fill(*ob, 40, 8, 60'000, 17);
    ASSERT_TRUE(ob->checkpoint().ok());
    o.clock = nullptr;
  }
  {
    const auto size = fs::file_size(o.path);
    std::fstream f(o.path, std::ios::in | std::ios::out | std::ios::binary);
    for (std::uintmax_t off = 4096; off + 4096 < size; off += 3 * 4096) {
      f.seekp(static_cast<std::streamoff>(off));
      for (int i = 0; i < 64; ++i) f.put('\xA5');
    }
  }
  r = Outbox::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();

  // An empty file is simply a new outbox.
  o.path = dir.file("empty.db");
  std::ofstream(o.path).close();
  EXPECT_NE(open_outbox(o), nullptr);
}

}  // namespace
}  // namespace edgesketch::agent
