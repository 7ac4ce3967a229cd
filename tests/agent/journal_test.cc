// Reading journal: round trips across rotation, torn tails at every offset, damage in the
// middle, trim, restart numbering, injected write/fsync/open/unlink faults (FaultEnv) and
// concurrent appends.
#include "journal/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "edgesketch/common/crc32c.h"
#include "edgesketch/testbed/temp_dir.h"
#include "journal/journal_format.h"
#include "support/fault_env.h"

namespace edgesketch::agent {
namespace {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed with its contents at the end of the test.
class TempDir : public testbed::TempDir {
 public:
  TempDir() : testbed::TempDir("es-journal-test") {}
};

Bytes make_payload(std::uint64_t i, std::size_t size) {
  Bytes b(size);
  for (std::size_t k = 0; k < size; ++k) b[k] = static_cast<std::uint8_t>(i * 131 + k * 7);
  return b;
}

struct Seen {
  std::uint64_t record_no;
  std::uint8_t type;
  Bytes payload;
};

std::vector<Seen> replay_all(Journal& j, std::uint64_t from, ReplayResult* result = nullptr) {
  std::vector<Seen> seen;
  auto r = j.replay(from, [&](std::uint64_t no, std::uint8_t type, ByteSpan payload) {
    seen.push_back({no, type, Bytes(payload.begin(), payload.end())});
  });
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (result != nullptr && r.ok()) *result = *r;
  return seen;
}

std::vector<fs::path> segment_files(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (parse_segment_file_name(e.path().filename().string())) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::unique_ptr<Journal> open_journal(JournalOptions options) {
  auto j = Journal::open(std::move(options));
  EXPECT_TRUE(j.ok()) << j.status().to_string();
  return j.ok() ? std::move(j).value() : nullptr;
}

JournalOptions small_segments(const std::string& dir, std::uint64_t segment_bytes = 1024) {
  JournalOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  return o;
}

TEST(JournalFormatTest, GoldenBytes) {
  Bytes out;
  append_segment_header(out, 0x0102030405060708ull);
  const std::uint8_t payload[] = {0xAA, 0xBB, 0xCC};
  append_record(out, 0x0102030405060708ull, 7, payload);
  const Bytes header_no_crc = {'E', 'S', 'J', 'O', 'U', 'R', 'N', 'L',  // magic
                               1,   0,   0,   0,                        // version
                               8,   7,   6,   5,   4,   3,   2,   1};   // first_record_no
  ASSERT_EQ(out.size(), kSegmentHeaderBytes + kRecordHeaderBytes + 3);
  EXPECT_TRUE(std::equal(header_no_crc.begin(), header_no_crc.end(), out.begin()));
  std::uint32_t header_crc = crc32c(header_no_crc);
  EXPECT_EQ(
      Bytes(out.begin() + 20, out.begin() + 24),
      (Bytes{static_cast<std::uint8_t>(header_crc), static_cast<std::uint8_t>(header_crc >> 8),
             static_cast<std::uint8_t>(header_crc >> 16),
             static_cast<std::uint8_t>(header_crc >> 24)}));
  const Bytes crc_input = {8, 7, 6, 5, 4, 3, 2, 1, 7, 0xAA, 0xBB, 0xCC};
  std::uint32_t record_crc = crc32c(crc_input);
  Bytes expected_record = {3,
                           0,
                           0,
                           0,  // length
                           static_cast<std::uint8_t>(record_crc),
                           static_cast<std::uint8_t>(record_crc >> 8),
                           static_cast<std::uint8_t>(record_crc >> 16),
                           static_cast<std::uint8_t>(record_crc >> 24)};
  expected_record.insert(expected_record.end(), crc_input.begin(), crc_input.end());
  EXPECT_EQ(Bytes(out.begin() + 24, out.end()), expected_record);
  EXPECT_EQ(record_crc, 0x37d7d47fu) << std::hex << record_crc;
}

TEST(JournalFormatTest, SegmentNames) {
  EXPECT_EQ(segment_file_name(255), "journal-00000000000000ff.log");
  EXPECT_EQ(parse_segment_file_name("journal-00000000000000ff.log"), 255u);
  EXPECT_EQ(parse_segment_file_name("journal-00000000000000FF.log"), std::nullopt);
  EXPECT_EQ(parse_segment_file_name("journal-ff.log"), std::nullopt);
  EXPECT_EQ(parse_segment_file_name("journal-00000000000000ff.log.tmp"), std::nullopt);
}

TEST(JournalTest, RoundTripAcrossRotation) {
  TempDir dir;
  auto j = open_journal(small_segments(dir.path()));
  std::mt19937_64 rng(42);
  std::vector<Seen> written;
  for (std::uint64_t i = 0; i < 500; ++i) {
    Bytes p = make_payload(i, rng() % 200);
    auto type = static_cast<std::uint8_t>(i % 3);
    auto no = j->append(p, type);
    ASSERT_TRUE(no.ok()) << no.status().to_string();
    EXPECT_EQ(*no, i + 1);
    written.push_back({*no, type, p});
  }
  // A payload bigger than a segment gets a segment of its own.
  Bytes big = make_payload(999, 5000);
  ASSERT_TRUE(j->append(big, 9).ok());
  written.push_back({501, 9, big});
  ASSERT_TRUE(j->sync().ok());
  JournalStats st = j->stats();
  EXPECT_GT(st.segments, 20u);
  EXPECT_EQ(st.records, 501u);
  EXPECT_EQ(st.synced_record_no, 501u);
  EXPECT_EQ(segment_files(dir.path()).size(), st.segments);
  for (const auto& f : segment_files(dir.path())) {
    if (fs::file_size(f) > 1024u) {  // only the segment holding the big record
      EXPECT_EQ(fs::file_size(f), kSegmentHeaderBytes + kRecordHeaderBytes + big.size());
    }
  }

  ReplayResult rr;
  std::vector<Seen> seen = replay_all(*j, 1, &rr);
  ASSERT_EQ(seen.size(), written.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].record_no, written[i].record_no);
    EXPECT_EQ(seen[i].type, written[i].type);
    EXPECT_EQ(seen[i].payload, written[i].payload);
  }
  EXPECT_EQ(rr.corrupt_segments, 0u);
  EXPECT_EQ(rr.last_record_no, 501u);

  seen = replay_all(*j, 300, &rr);
  ASSERT_EQ(seen.size(), 202u);
  EXPECT_EQ(seen.front().record_no, 300u);
  EXPECT_EQ(rr.skipped_records, 299u);
}

TEST(JournalTest, RecordNumbersContinueAfterReopen) {
  TempDir dir;
  {
    auto j = open_journal(small_segments(dir.path()));
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(j->append(make_payload(i, 30), 1).ok());
  }  // no sync: a process exit keeps what write() wrote
  {
    auto j = open_journal(small_segments(dir.path()));
    EXPECT_EQ(j->stats().next_record_no, 101u);
    auto no = j->append(make_payload(100, 30), 1);
    ASSERT_TRUE(no.ok());
    EXPECT_EQ(*no, 101u);
    // Everything is trimmed except the active segment: numbering still continues.
    ASSERT_TRUE(j->trim(101).ok());
    EXPECT_EQ(j->stats().segments, 1u);
  }
  {
    auto j = open_journal(small_segments(dir.path()));
    auto no = j->append(make_payload(101, 30), 1);
    ASSERT_TRUE(no.ok());
    EXPECT_EQ(*no, 102u);
    std::vector<Seen> seen = replay_all(*j, 1);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back().record_no, 102u);
  }
  {
    // The outbox committed windows up to record 5000: numbering jumps past it.
    JournalOptions o = small_segments(dir.path());
    o.min_next_record_no = 5001;
    auto j = open_journal(o);
    auto no = j->append(make_payload(5001, 30), 1);
    ASSERT_TRUE(no.ok());
    EXPECT_EQ(*no, 5001u);
    std::vector<Seen> seen = replay_all(*j, 1);
    EXPECT_EQ(seen.back().record_no, 5001u);
  }
  {
    auto j = open_journal(small_segments(dir.path()));
    EXPECT_EQ(j->stats().next_record_no, 5002u);
  }
}

// Writes records 1..n with segment rotation and returns the payloads (index = record_no - 1).
std::vector<Bytes> fill(const std::string& dir, int n, std::uint64_t segment_bytes) {
  auto j = open_journal(small_segments(dir, segment_bytes));
  std::vector<Bytes> payloads;
  for (int i = 0; i < n; ++i) {
    payloads.push_back(make_payload(i, 20 + i % 13));
    EXPECT_TRUE(j->append(payloads.back(), 2).ok());
  }
  EXPECT_TRUE(j->sync().ok());
  return payloads;
}

TEST(JournalTest, TornTailAtEveryOffsetOfTheLastRecord) {
  TempDir master;
  const int n = 40;
  std::vector<Bytes> payloads = fill(master.path(), n, 512);
  const fs::path last = segment_files(master.path()).back();
  const std::uint64_t full = fs::file_size(last);
  const std::uint64_t last_record = kRecordHeaderBytes + payloads.back().size();
  ASSERT_GT(segment_files(master.path()).size(), 2u);

  for (std::uint64_t keep = 0; keep < last_record; ++keep) {
    SCOPED_TRACE("bytes of the last record kept: " + std::to_string(keep));
    TempDir dir;
    fs::copy(master.path(), dir.path(),
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    fs::resize_file(fs::path(dir.path()) / last.filename(), full - last_record + keep);

    auto j = open_journal(small_segments(dir.path(), 512));
    ASSERT_NE(j, nullptr);
    ReplayResult rr;
    std::vector<Seen> seen = replay_all(*j, 1, &rr);
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(n - 1));
    for (int i = 0; i < n - 1; ++i) EXPECT_EQ(seen[i].payload, payloads[i]);
    EXPECT_EQ(rr.corrupt_segments, 0u);
    EXPECT_EQ(rr.torn_tail_records, keep > 0 ? 1u : 0u);
    EXPECT_EQ(j->stats().torn_tail_bytes, keep);
    // The torn bytes are gone: the next record follows the last good one, and reads back.
    auto no = j->append(make_payload(7, 9), 3);
    ASSERT_TRUE(no.ok());
    EXPECT_EQ(*no, static_cast<std::uint64_t>(n));
    seen = replay_all(*j, n, &rr);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].payload, make_payload(7, 9));
    EXPECT_EQ(rr.corrupt_segments, 0u);
  }
}

TEST(JournalTest, BadCrcAtTheEndIsATornTail) {
  TempDir dir;
  std::vector<Bytes> payloads = fill(dir.path(), 10, 1 << 20);
  const fs::path last = segment_files(dir.path()).back();
  {
    std::fstream f(last, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(last)) - 1);
    f.put('\x5a');
  }
  auto j = open_journal(small_segments(dir.path(), 1 << 20));
  ReplayResult rr;
  EXPECT_EQ(replay_all(*j, 1, &rr).size(), 9u);
  EXPECT_EQ(rr.torn_tail_records, 1u);
  EXPECT_EQ(rr.corrupt_segments, 0u);
}

void flip_bit(const fs::path& file, std::uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x10));
}

TEST(JournalTest, BitFlipInTheMiddleSkipsTheRestOfThatSegmentOnly) {
  TempDir dir;
  const int n = 200;
  std::vector<Bytes> payloads = fill(dir.path(), n, 512);
  std::vector<fs::path> files = segment_files(dir.path());
  ASSERT_GE(files.size(), 5u);
  // Damage the payload of the second record of the third segment.
  const fs::path victim = files[2];
  const std::uint64_t victim_first = *parse_segment_file_name(victim.filename().string());
  const std::uint64_t next_first = *parse_segment_file_name(files[3].filename().string());
  const std::uint64_t offset =
      kSegmentHeaderBytes + kRecordHeaderBytes + payloads[victim_first - 1].size() + 20;
  flip_bit(victim, offset);

  auto j = open_journal(small_segments(dir.path(), 512));
  ReplayResult rr;
  std::vector<Seen> seen = replay_all(*j, 1, &rr);
  EXPECT_EQ(rr.corrupt_segments, 1u);
  EXPECT_EQ(j->stats().corrupt_segments, 1u);
  // Everything except records victim_first+1 .. next_first-1.
  std::vector<std::uint64_t> expected;
  for (std::uint64_t no = 1; no <= static_cast<std::uint64_t>(n); ++no) {
    if (no <= victim_first || no >= next_first) expected.push_back(no);
  }
  ASSERT_EQ(seen.size(), expected.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].record_no, expected[i]);
    EXPECT_EQ(seen[i].payload, payloads[expected[i] - 1]);
  }
  EXPECT_EQ(rr.last_record_no, static_cast<std::uint64_t>(n));
}

TEST(JournalTest, DamageInTheMiddleOfTheLastSegmentIsKeptAndNumbersSkipAhead) {
  TempDir dir;
  std::vector<Bytes> payloads = fill(dir.path(), 10, 1 << 20);
  const fs::path last = segment_files(dir.path()).back();
  const std::uint64_t size_before = fs::file_size(last);
  flip_bit(last, kSegmentHeaderBytes + kRecordHeaderBytes + payloads[0].size() + 3);  // record 2

  auto j = open_journal(small_segments(dir.path(), 1 << 20));
  EXPECT_EQ(fs::file_size(last), size_before);  // not truncated: records 3..10 may be rescued
  auto no = j->append(make_payload(1, 5), 1);
  ASSERT_TRUE(no.ok());
  EXPECT_GT(*no, 10u);  // never a number the damaged bytes could hold
  ReplayResult rr;
  std::vector<Seen> seen = replay_all(*j, 1, &rr);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].record_no, 1u);
  EXPECT_EQ(seen[1].record_no, *no);
  EXPECT_EQ(rr.corrupt_segments, 1u);
  EXPECT_EQ(rr.torn_tail_records, 0u);
}

TEST(JournalTest, GarbageSegmentsAndForeignFilesNeverCrash) {
  TempDir dir;
  fill(dir.path(), 50, 512);
  std::vector<fs::path> files = segment_files(dir.path());
  // A segment whose header is garbage, a zero-length segment, and a file that is not ours.
  {
    std::ofstream(files[1], std::ios::binary | std::ios::trunc) << std::string(300, '\x7f');
    std::ofstream(files[2], std::ios::binary | std::ios::trunc);
    std::ofstream(fs::path(dir.path()) / "notes.txt") << "hello";
  }
  auto j = open_journal(small_segments(dir.path(), 512));
  ReplayResult rr;
  std::vector<Seen> seen = replay_all(*j, 1, &rr);
  EXPECT_EQ(rr.corrupt_segments, 2u);
  EXPECT_EQ(seen.back().record_no, 50u);
  EXPECT_TRUE(j->append(make_payload(1, 1), 1).ok());
}

TEST(JournalTest, LastSegmentShorterThanItsHeaderIsRestarted) {
  TempDir dir;
  fill(dir.path(), 50, 512);
  const fs::path last = segment_files(dir.path()).back();
  const std::uint64_t first = *parse_segment_file_name(last.filename().string());
  fs::resize_file(last, 10);
  auto j = open_journal(small_segments(dir.path(), 512));
  EXPECT_EQ(j->stats().next_record_no, first);
  auto no = j->append(make_payload(1, 1), 1);
  ASSERT_TRUE(no.ok());
  ReplayResult rr;
  std::vector<Seen> seen = replay_all(*j, 1, &rr);
  EXPECT_EQ(rr.corrupt_segments, 0u);
  EXPECT_EQ(seen.back().record_no, first);
  EXPECT_EQ(seen.size(), first);
}

TEST(JournalTest, NewerFormatVersionIsRefusedAtOpen) {
  TempDir dir;
  fill(dir.path(), 3, 512);
  const fs::path last = segment_files(dir.path()).back();
  Bytes header;
  append_segment_header(header, 1);
  header[8] = 2;  // version 2 with a valid header CRC
  std::uint32_t crc = crc32c(header.data(), 20);
  std::memcpy(header.data() + 20, &crc, 4);
  {
    std::fstream f(last, std::ios::in | std::ios::out | std::ios::binary);
    f.write(reinterpret_cast<const char*>(header.data()),
            static_cast<std::streamsize>(header.size()));
  }
  JournalOptions o = small_segments(dir.path(), 512);
  auto j = Journal::open(o);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(j.status().message().find("version 2"), std::string::npos) << j.status().message();
}

TEST(JournalTest, TrimDeletesOnlyFullyCoveredSegments) {
  TempDir dir;
  fill(dir.path(), 100, 512);
  auto j = open_journal(small_segments(dir.path(), 512));
  std::vector<fs::path> files = segment_files(dir.path());
  std::vector<std::uint64_t> firsts;
  for (const auto& f : files) firsts.push_back(*parse_segment_file_name(f.filename().string()));
  ASSERT_GE(firsts.size(), 4u);

  // Upto one short of the end of segment 1: nothing goes.
  auto r = j->trim(firsts[1] - 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
  // Exactly the end of segment 2 (index 1): segments 0 and 1 go.
  r = j->trim(firsts[2] - 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(segment_files(dir.path()).size(), files.size() - 2);
  EXPECT_FALSE(fs::exists(files[0]));
  EXPECT_FALSE(fs::exists(files[1]));
  EXPECT_TRUE(fs::exists(files[2]));
  std::vector<Seen> seen = replay_all(*j, 1);
  EXPECT_EQ(seen.front().record_no, firsts[2]);
  EXPECT_EQ(seen.back().record_no, 100u);

  // Everything committed: all but the active segment go.
  r = j->trim(UINT64_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(segment_files(dir.path()).size(), 1u);
  EXPECT_EQ(j->stats().segments, 1u);
  EXPECT_EQ(j->stats().segments_trimmed, files.size() - 1);
  auto no = j->append(make_payload(1, 1), 1);
  ASSERT_TRUE(no.ok());
  EXPECT_EQ(*no, 101u);
}

TEST(JournalTest, RejectsOversizedPayloadAndBadOptions) {
  TempDir dir;
  auto j = open_journal(small_segments(dir.path()));
  Bytes huge(kMaxJournalPayload + 1);
  auto r = j->append(huge, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(j->stats().next_record_no, 1u);

  EXPECT_FALSE(Journal::open(JournalOptions{}).ok());
  JournalOptions o = small_segments(dir.path(), 10);
  EXPECT_EQ(Journal::open(o).status().code(), StatusCode::kInvalidArgument);
  o = small_segments("/proc/definitely/not/here");
  auto bad = Journal::open(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kIoError);
}

TEST(JournalTest, MaybeSyncHonoursTheInterval) {
  TempDir dir;
  JournalOptions o = small_segments(dir.path());
  o.sync_interval_ms = 100;
  auto j = open_journal(o);
  ASSERT_TRUE(j->maybe_sync(1000).ok());  // syncs the new segment and the directory
  const std::uint64_t base = j->stats().syncs;
  ASSERT_TRUE(j->append(make_payload(1, 10), 1).ok());
  ASSERT_TRUE(j->maybe_sync(1050).ok());
  EXPECT_EQ(j->stats().syncs, base);
  EXPECT_EQ(j->stats().synced_record_no, 0u);
  ASSERT_TRUE(j->maybe_sync(1100).ok());
  EXPECT_EQ(j->stats().syncs, base + 1);
  EXPECT_EQ(j->stats().synced_record_no, 1u);
  // Nothing new: no fdatasync even when the interval passed.
  ASSERT_TRUE(j->maybe_sync(1300).ok());
  EXPECT_EQ(j->stats().syncs, base + 1);
}

using edgesketch::testing::FaultEnv;
using edgesketch::testing::PartialWrite;
using Op = FaultEnv::Op;

TEST(JournalFaultTest, WriteErrorsAreReportedAndTheJournalRecovers) {
  TempDir dir;
  FaultEnv faulty;  // outlives the journal
  JournalOptions o = small_segments(dir.path(), 4096);
  o.env = &faulty;
  auto j = open_journal(o);
  ASSERT_TRUE(j->append(make_payload(1, 50), 1).ok());

  // Half a record reaches the file, then the disk is full.
  faulty.fail(Op::kWrite, "", ENOSPC, {.partial = PartialWrite::kHalf});
  auto r = j->append(make_payload(2, 50), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("No space left on device"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("record 2"), std::string::npos) << r.status().message();

  faulty.heal();
  faulty.fail(Op::kWrite, "", EIO, {.partial = PartialWrite::kNone});
  r = j->append(make_payload(2, 50), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Input/output error"), std::string::npos);

  faulty.heal();  // the fault clears: the same number is used, nothing was lost
  r = j->append(make_payload(2, 50), 1);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, 2u);
  ASSERT_TRUE(j->sync().ok());
  EXPECT_EQ(j->stats().write_errors, 2u);

  j.reset();
  auto reopened = open_journal(small_segments(dir.path(), 4096));
  ReplayResult rr;
  std::vector<Seen> seen = replay_all(*reopened, 1, &rr);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].payload, make_payload(2, 50));
  EXPECT_EQ(rr.corrupt_segments + rr.torn_tail_records, 0u);
}

TEST(JournalFaultTest, FailedTruncateAfterPartialWriteMovesToANewSegment) {
  TempDir dir;
  FaultEnv faulty;  // outlives the journal
  JournalOptions o = small_segments(dir.path(), 4096);
  o.env = &faulty;
  auto j = open_journal(o);
  ASSERT_TRUE(j->append(make_payload(1, 50), 1).ok());
  faulty.fail(Op::kWrite, "", ENOSPC, {.partial = PartialWrite::kHalf});
  faulty.fail(Op::kTruncate, "", EIO);
  ASSERT_FALSE(j->append(make_payload(2, 50), 1).ok());
  faulty.heal();
  auto r = j->append(make_payload(2, 50), 1);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(j->stats().segments, 2u);

  j.reset();
  auto reopened = open_journal(small_segments(dir.path(), 4096));
  ReplayResult rr;
  std::vector<Seen> seen = replay_all(*reopened, 1, &rr);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].record_no, 1u);
  EXPECT_EQ(seen[1].record_no, 2u);
  // The half record left at the end of the first segment is counted, never replayed.
  EXPECT_EQ(rr.corrupt_segments, 1u);
}

TEST(JournalFaultTest, SyncErrorsAreReportedAndTheJournalRecovers) {
  TempDir dir;
  FaultEnv faulty;  // outlives the journal
  JournalOptions o = small_segments(dir.path(), 4096);
  o.env = &faulty;
  auto j = open_journal(o);
  ASSERT_TRUE(j->append(make_payload(1, 50), 1).ok());
  ASSERT_TRUE(j->sync().ok());
  EXPECT_EQ(j->stats().synced_record_no, 1u);

  ASSERT_TRUE(j->append(make_payload(2, 50), 1).ok());
  // Every fsync fails: the segments' and the directory's.
  faulty.fail(Op::kSync, "", EIO);
  faulty.fail(Op::kSyncDir, "", EIO);
  Status s = j->sync();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("fdatasync"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Input/output error"), std::string::npos) << s.message();
  EXPECT_EQ(j->stats().synced_record_no, 1u);
  EXPECT_EQ(j->stats().sync_errors, 1u);

  faulty.heal();
  auto r = j->append(make_payload(3, 50), 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(j->stats().segments, 2u);  // no more records next to the failed sync
  ASSERT_TRUE(j->sync().ok());
  EXPECT_EQ(j->stats().synced_record_no, 3u);
  EXPECT_EQ(replay_all(*j, 1).size(), 3u);
}

TEST(JournalFaultTest, FailingToStartASegmentIsRetried) {
  TempDir dir;
  FaultEnv faulty;  // outlives the journal
  JournalOptions o = small_segments(dir.path(), 100);
  o.env = &faulty;
  auto j = open_journal(o);
  ASSERT_TRUE(j->append(make_payload(1, 50), 1).ok());
  faulty.fail(Op::kOpen, "", EMFILE);
  auto r = j->append(make_payload(2, 50), 1);  // needs a new segment
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Too many open files"), std::string::npos);
  faulty.heal();
  r = j->append(make_payload(2, 50), 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(replay_all(*j, 1).size(), 2u);
}

// Unlinking trimmed segments fails part-way: what was removed is counted, the rest stays listed
// and on disk, and the next trim removes it.
TEST(JournalFaultTest, FailedTrimKeepsTheRestAndIsRetried) {
  TempDir dir;
  fill(dir.path(), 100, 512);
  FaultEnv faulty;  // outlives the journal
  JournalOptions o = small_segments(dir.path(), 512);
  o.env = &faulty;
  auto j = open_journal(o);
  const std::size_t files = segment_files(dir.path()).size();
  ASSERT_GE(files, 3u);

  faulty.fail(Op::kRemove, "", EIO, {.skip = 1});  // the first unlink works, the next fails
  auto r = j->trim(UINT64_MAX);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("unlink"), std::string::npos) << r.status().message();
  EXPECT_EQ(j->stats().segments_trimmed, 1u);
  EXPECT_EQ(j->stats().segments, files - 1);
  EXPECT_EQ(segment_files(dir.path()).size(), files - 1);

  faulty.heal();
  r = j->trim(UINT64_MAX);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, files - 2);
  EXPECT_EQ(segment_files(dir.path()).size(), 1u);
  EXPECT_EQ(j->stats().segments_trimmed, files - 1);
  EXPECT_EQ(faulty.injected(), 1u);
}

TEST(JournalTest, ConcurrentAppendersAndSyncer) {
  TempDir dir;
  auto j = open_journal(small_segments(dir.path(), 8192));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::atomic<bool> done{false};
  std::thread syncer([&] {
    std::int64_t t = 0;
    while (!done.load()) {
      EXPECT_TRUE(j->maybe_sync(t += 1).ok());
      std::this_thread::yield();
    }
  });
  std::vector<std::map<std::uint64_t, Bytes>> by_thread(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Bytes p = make_payload(static_cast<std::uint64_t>(t * kPerThread + i), 10 + i % 40);
        auto no = j->append(p, static_cast<std::uint8_t>(t));
        ASSERT_TRUE(no.ok());
        by_thread[t][*no] = std::move(p);
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  syncer.join();
  ASSERT_TRUE(j->sync().ok());

  std::map<std::uint64_t, std::pair<std::uint8_t, Bytes>> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (auto& [no, p] : by_thread[t]) expected[no] = {static_cast<std::uint8_t>(t), p};
  }
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(expected.begin()->first, 1u);
  EXPECT_EQ(expected.rbegin()->first, static_cast<std::uint64_t>(kThreads * kPerThread));
  std::vector<Seen> seen = replay_all(*j, 1);
  ASSERT_EQ(seen.size(), expected.size());
  for (const Seen& s : seen) {
    EXPECT_EQ(expected[s.record_no].first, s.type);
    EXPECT_EQ(expected[s.record_no].second, s.payload);
  }
  EXPECT_EQ(j->stats().synced_record_no, static_cast<std::uint64_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace edgesketch::agent
