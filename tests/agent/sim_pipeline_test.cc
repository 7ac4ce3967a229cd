// The pipeline against edgesketch-sim: payloads in every format parse back to exactly the
// readings the simulator recorded, and the aggregator fed with the record's readings produces
// the aggregates `edgesketch-sim truth` computes (count/min/max exact, sum within 1e-9 relative,
// quantiles within the histogram's bound, distinct within the HLL bound, top-K counts exact).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgesketch/common/clock.h"
#include "input/payload_parser.h"
#include "record_reader.h"
#include "sim_fixtures.h"
#include "sim_runner.h"
#include "truth.h"
#include "window/aggregator.h"

namespace edgesketch::agent {
namespace {

using nlohmann::json;

constexpr std::int64_t kStart = 1'700'000'000'000;

struct SimRun {
  std::string record_path;
  // Topics as a subscriber sees them: "devices/<the levels the simulator gave>".
  std::vector<sim::test::CapturingTransport::Sent> sent;
};

// sim::test::small_fleet() over 30 s: 12 devices in 3 sites x 2 lines at the standard rates,
// batches of 50.
SimRun simulate(sim::SimFormat format, const sim::FaultOptions& faults, const std::string& name) {
  sim::FleetOptions fleet = sim::test::small_fleet(11);
  fleet.duration_ms = 30'000;
  sim::RunOptions run;
  run.speed = 0;
  run.format = format;
  sim::test::CapturingTransport transport;
  SimRun out;
  out.record_path = sim::test::temp_path(name + ".rec");
  auto stats = sim::test::simulate(fleet, faults, run, transport, out.record_path);
  EXPECT_TRUE(stats.ok()) << stats.status().to_string();
  for (auto& m : transport.sent) out.sent.push_back({"devices/" + m.topic, std::move(m.payload)});
  return out;
}

// The record's messages as wire readings, one vector per message, in send order.
std::vector<std::vector<wire::Reading>> recorded_messages(const std::string& path) {
  auto reader = sim::RecordReader::open(path);
  EXPECT_TRUE(reader.ok()) << reader.status().to_string();
  std::vector<std::vector<wire::Reading>> out;
  sim::RecordMessage m;
  while (true) {
    auto more = (*reader)->next(m);
    EXPECT_TRUE(more.ok());
    if (!more.ok() || !*more) break;
    const sim::RecordDevice& dev = (*reader)->devices()[m.header.device_id];
    std::vector<wire::Tag> tags;
    for (const auto& [k, v] : dev.tags) tags.push_back(wire::Tag{k, v});
    std::sort(tags.begin(), tags.end());
    std::vector<wire::Reading> msg;
    for (const sim::RecordedReading& rr : m.readings) {
      const sim::RecordMetric& metric = (*reader)->metrics()[rr.metric_id];
      wire::Reading r;
      r.device_id = dev.name;
      r.metric = metric.name;
      r.tags = tags;
      r.ts_ms = rr.ts_ms;
      if (metric.categorical) {
        r.is_label = true;
        r.label = (*reader)->labels()[rr.label_id];
      } else {
        r.value = rr.value;
      }
      msg.push_back(std::move(r));
    }
    out.push_back(std::move(msg));
  }
  return out;
}

bool reading_less(const wire::Reading& a, const wire::Reading& b) {
  return std::tie(a.device_id, a.metric, a.ts_ms, a.value, a.label) <
         std::tie(b.device_id, b.metric, b.ts_ms, b.value, b.label);
}

class PayloadRoundTrip : public ::testing::TestWithParam<sim::PayloadFormat> {};

TEST_P(PayloadRoundTrip, ParsedReadingsEqualTheRecord) {
  const sim::PayloadFormat sim_format = GetParam();
  SimRun run =
      simulate(sim_format, {}, "roundtrip-" + std::string(sim::payload_format_name(sim_format)));
  auto messages = recorded_messages(run.record_path);
  ASSERT_EQ(messages.size(), run.sent.size());
  ASSERT_GT(messages.size(), 50u);
  const PayloadFormat format = *parse_payload_format(sim::payload_format_name(sim_format));
  PayloadParser parser;
  ReadingBuffer buf;
  std::size_t readings = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    buf.clear();
    const std::string& p = run.sent[i].payload;
    Status s =
        parser.parse(format, ByteSpan(reinterpret_cast<const std::uint8_t*>(p.data()), p.size()),
                     kStart + 60'000, buf, run.sent[i].topic);
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << p.substr(0, 300);
    std::vector<wire::Reading> got(buf.view().begin(), buf.view().end());
    std::vector<wire::Reading> want = messages[i];
    std::sort(got.begin(), got.end(), reading_less);
    std::sort(want.begin(), want.end(), reading_less);
    ASSERT_EQ(got, want) << "message " << i;
    readings += got.size();
  }
  EXPECT_GT(readings, 10'000u);
}

INSTANTIATE_TEST_SUITE_P(Formats, PayloadRoundTrip,
                         ::testing::Values(sim::PayloadFormat::kNanopb, sim::PayloadFormat::kJson,
                                           sim::PayloadFormat::kLine),
                         [](const auto& info) {
                           return std::string(sim::payload_format_name(info.param));
                         });

// The formats whose messages are not the record's batches: every message parsed with the
// options an input of that format would have (docs/agent.md) gives, over the run, exactly the
// readings the simulator recorded. json-fields and value payloads carry no site/line tags (the
// topic names the device only); value carries no time (the parser's clock).
struct RowCase {
  sim::SimFormat format;
  PayloadFormat agent_format;
  std::string topic_template;
  bool tags;  // the readings carry the device's site and line
};

class RowPayloadRoundTrip : public ::testing::TestWithParam<RowCase> {};

TEST_P(RowPayloadRoundTrip, ParsedReadingsEqualTheRecord) {
  const RowCase& c = GetParam();
  sim::FaultOptions faults;
  faults.malformed_ratio = 0.05;
  faults.duplicate_ratio = 0.05;
  SimRun run = simulate(c.format, faults, "rows-" + std::string(sim::sim_format_name(c.format)));
  ParserOptions o;
  if (!c.topic_template.empty()) o.topic_template = *TopicTemplate::parse(c.topic_template);
  if (c.agent_format == PayloadFormat::kJsonFields) {
    o.time_field = "last_seen";
    o.time_format = TimeFormat::kUnixMs;
  }
  PayloadParser parser(o);
  ReadingBuffer buf;
  std::vector<wire::Reading> got;
  std::size_t refused = 0, skipped = 0;
  constexpr std::int64_t kNow = kStart + 60'000;
  for (const auto& m : run.sent) {
    buf.clear();
    Status s = parser.parse(
        c.agent_format,
        ByteSpan(reinterpret_cast<const std::uint8_t*>(m.payload.data()), m.payload.size()), kNow,
        buf, m.topic);
    skipped += parser.skipped().total();
    if (!s.ok()) {
      ++refused;
      continue;
    }
    got.insert(got.end(), buf.view().begin(), buf.view().end());
  }
  std::vector<wire::Reading> want;
  for (auto& msg : recorded_messages(run.record_path)) {
    for (wire::Reading& r : msg) {
      if (!c.tags) r.tags.clear();
      if (c.agent_format == PayloadFormat::kValue) r.ts_ms = kNow;
      want.push_back(std::move(r));
    }
  }
  EXPECT_GT(refused + skipped, 0u);  // the malformed ones
  ASSERT_GT(want.size(), 5'000u);
  std::sort(got.begin(), got.end(), reading_less);
  std::sort(want.begin(), want.end(), reading_less);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "reading " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Formats, RowPayloadRoundTrip,
    ::testing::Values(RowCase{{sim::PayloadFormat::kLine, true}, PayloadFormat::kLine, "", true},
                      RowCase{{sim::PayloadFormat::kJsonFields},
                              PayloadFormat::kJsonFields,
                              "devices/{device}",
                              false},
                      RowCase{{sim::PayloadFormat::kValue},
                              PayloadFormat::kValue,
                              "devices/{device}/{metric}",
                              false}),
    [](const auto& info) {
      std::string n(sim::sim_format_name(info.param.format));
      for (char& ch : n) ch = ch == '-' ? '_' : ch;
      return n;
    });

// The standard rules of DESIGN.md.
std::vector<RuleSpec> standard_rules() {
  return {RuleSpec{.name = "per-device", .match = "*", .group_by = {"device"}, .quantiles = true},
          RuleSpec{.name = "vibration-per-line",
                   .match = "vibration",
                   .group_by = {"site", "line"},
                   .quantiles = true,
                   .distinct = "device",
                   .topk = "device"},
          RuleSpec{.name = "event-per-site",
                   .match = "event",
                   .group_by = {"site"},
                   .distinct = "device",
                   .topk = "label"}};
}

std::string key_string(const std::string& metric, const std::vector<wire::Tag>& tags,
                       std::int64_t start) {
  std::string k = metric;
  for (const wire::Tag& t : tags) k += "," + t.key + "=" + t.value;
  return k + "@" + std::to_string(start);
}

// Merges records into per (key, window) aggregates, as the collector does.
void commit(std::vector<wire::WindowBatch>& batches,
            std::map<std::string, wire::WindowRecord>& out) {
  for (wire::WindowBatch& b : batches) {
    for (wire::WindowRecord& r : b.records) {
      const std::string k = key_string(r.key.metric, r.key.tags, r.window_start_ms) + "|" +
                            r.distinct_of + "|" + r.topk_of;
      auto it = out.find(k);
      if (it == out.end()) {
        out.emplace(k, std::move(r));
      } else {
        EXPECT_TRUE(it->second.agg.merge(r.agg).ok());
      }
    }
  }
}

// Aggregates per (rule-shaped key, window): records of the same window (first version and deltas)
// merged. Records of different rules with equal keys cannot occur with the standard rules.
std::map<std::string, wire::WindowRecord> aggregate(
    const std::vector<std::vector<wire::Reading>>& messages, const std::vector<RuleSpec>& rules,
    AggregatorStats* stats_out) {
  FakeClock clock(kStart + 40'000);
  AggregatorOptions o;
  o.gateway_id = "gw";
  o.rules = rules;
  o.clock = &clock;
  auto agg = Aggregator::create(o);
  EXPECT_TRUE(agg.ok());
  std::uint64_t record_no = 0;
  std::map<std::string, wire::WindowRecord> out;
  auto drain = [&] {
    ClosedBatches closed = (*agg)->take_batches();
    commit(closed.batches, out);
  };
  for (const auto& m : messages) {
    (*agg)->add(m, ++record_no);
    drain();
  }
  (*agg)->flush_all();
  drain();
  *stats_out = (*agg)->stats();
  return out;
}

std::vector<json> truth(const std::string& record, std::vector<std::string> group_by,
                        std::vector<std::string> metrics, std::vector<std::string> distinct,
                        std::string topk_of) {
  sim::TruthOptions t;
  t.record_path = record;
  t.window_ms = 10'000;
  t.group_by = std::move(group_by);
  t.metrics = std::move(metrics);
  t.distinct_of = std::move(distinct);
  t.topk_of = std::move(topk_of);
  t.k = 10;
  std::FILE* f = std::tmpfile();
  auto s = sim::compute_truth(t, f);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  std::rewind(f);
  std::vector<json> lines;
  std::string line;
  int c;
  while ((c = std::fgetc(f)) != EOF) {
    if (c == '\n') {
      lines.push_back(json::parse(line));
      line.clear();
    } else {
      line.push_back(static_cast<char>(c));
    }
  }
  std::fclose(f);
  return lines;
}

// Compares every truth line with the merged record of the same series and window.
void expect_matches_truth(const std::vector<json>& lines,
                          const std::map<std::string, wire::WindowRecord>& got,
                          const std::string& distinct_of, const std::string& topk_of,
                          std::uint64_t* compared) {
  ASSERT_FALSE(lines.empty());
  for (const json& l : lines) {
    std::vector<wire::Tag> tags;
    for (auto& [k, v] : l["group"].items()) tags.push_back(wire::Tag{k, v.get<std::string>()});
    std::sort(tags.begin(), tags.end());
    const std::string key =
        key_string(l["metric"], tags, l["window_start_ms"].get<std::int64_t>()) + "|" +
        distinct_of + "|" + topk_of;
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << "no record for " << key;
    const sketch::WindowAggregate& a = it->second.agg;
    ASSERT_EQ(a.count(), l["count"].get<std::uint64_t>()) << key;
    if (l.contains("sum")) {
      const double sum = l["sum"].get<double>();
      EXPECT_LE(std::fabs(a.sum() - sum), 1e-9 * std::max(1.0, std::fabs(sum))) << key;
      EXPECT_EQ(a.min(), l["min"].get<double>()) << key;
      EXPECT_EQ(a.max(), l["max"].get<double>()) << key;
      if (const sketch::ExpHistogram* h = a.histogram()) {
        const double bound = h->relative_error_bound();
        for (auto [field, phi] :
             {std::pair{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}}) {
          const double want = l[field].get<double>();
          EXPECT_LE(std::fabs(h->quantile(phi) - want),
                    bound * std::fabs(want) * (1 + 1e-9) + 1e-12)
              << key << " " << field;
        }
      }
    }
    if (!distinct_of.empty()) {
      ASSERT_NE(a.distinct(), nullptr) << key;
      const double want = l["distinct"][distinct_of].get<double>();
      EXPECT_LE(std::fabs(a.distinct()->estimate() - want), 0.02 * want + 0.5) << key;
    }
    if (!topk_of.empty()) {
      ASSERT_NE(a.topk(), nullptr) << key;
      // Fewer distinct keys than counters: every count is exact, so the top-10 matches.
      std::map<std::string, std::uint64_t> counts;
      for (const auto& item : a.topk()->top(a.topk()->size())) counts[item.key] = item.count;
      for (const json& item : l["topk"]) {
        EXPECT_EQ(counts[item["key"].get<std::string>()], item["count"].get<std::uint64_t>())
            << key;
      }
    }
    ++*compared;
  }
}

void check_against_truth(const SimRun& run, const AggregatorStats* stats,
                         const std::map<std::string, wire::WindowRecord>& got) {
  std::uint64_t compared = 0;
  expect_matches_truth(truth(run.record_path, {"device"}, {}, {}, ""), got, "", "", &compared);
  expect_matches_truth(
      truth(run.record_path, {"site", "line"}, {"vibration"}, {"device"}, "device"), got, "device",
      "device", &compared);
  expect_matches_truth(truth(run.record_path, {"site"}, {"event"}, {"device"}, "label"), got,
                       "device", "label", &compared);
  std::uint64_t total = 0;
  for (const auto& [k, r] : got) total += r.agg.count();
  EXPECT_EQ(got.size(), compared) << "records without a truth line";
  if (stats != nullptr) {
    EXPECT_EQ(stats->accepted, stats->readings);
    EXPECT_GT(stats->windows_closed, 100u);
  }
}

TEST(SimPipelineTest, AggregatesEqualTruth) {
  SimRun run = simulate(sim::PayloadFormat::kNanopb, {}, "truth-clean");
  AggregatorStats stats;
  auto got = aggregate(recorded_messages(run.record_path), standard_rules(), &stats);
  check_against_truth(run, &stats, got);
  EXPECT_EQ(stats.deltas_closed, 0u);
}

TEST(SimPipelineTest, LateBurstsBecomeDeltasAndStillAddUp) {
  sim::FaultOptions faults;
  faults.late_ratio = 0.05;
  faults.late_ms = 15'000;
  SimRun run = simulate(sim::PayloadFormat::kNanopb, faults, "truth-late");
  AggregatorStats stats;
  auto got = aggregate(recorded_messages(run.record_path), standard_rules(), &stats);
  check_against_truth(run, &stats, got);
  EXPECT_GT(stats.deltas_closed, 0u);
  EXPECT_GT(stats.late_readings, 0u);
}

// kill -9 at several points: what was committed before the crash plus what the restarted
// aggregator produces from the journal (above the committed journal_upto, with the close-marks
// fence) equals the truth: every reading exactly once.
TEST(SimPipelineTest, CrashAndReplayCountsEveryReadingOnce) {
  sim::FaultOptions faults;
  faults.late_ratio = 0.05;
  faults.late_ms = 15'000;
  SimRun run = simulate(sim::PayloadFormat::kNanopb, faults, "truth-crash");
  const auto journal = recorded_messages(run.record_path);
  ASSERT_GT(journal.size(), 200u);
  for (std::size_t crash_at : {std::size_t{1}, std::size_t{57}, journal.size() / 3,
                               journal.size() / 2 + 11, journal.size() - 1}) {
    SCOPED_TRACE("crash after record " + std::to_string(crash_at));
    FakeClock clock(kStart + 40'000);
    AggregatorOptions o;
    o.gateway_id = "gw";
    o.rules = standard_rules();
    o.clock = &clock;
    std::map<std::string, wire::WindowRecord> committed;
    std::uint64_t upto = 0;
    std::vector<CloseMark> persisted;
    {
      auto a = std::move(Aggregator::create(o)).value();
      for (std::size_t rec = 1; rec <= crash_at; ++rec) {
        a->add(journal[rec - 1], rec);
        ClosedBatches b = a->take_batches();
        ASSERT_EQ(b.marks.size(), b.batches.size());
        commit(b.batches, committed);
        upto = std::max(upto, b.journal_upto);
        for (const auto& m : b.marks) persisted.insert(persisted.end(), m.begin(), m.end());
      }
    }  // crash: open windows are lost
    auto b = std::move(Aggregator::create(o)).value();
    auto decoded = decode_close_marks(encode_close_marks(persisted));
    ASSERT_TRUE(decoded.ok());
    b->set_replay_fence(*decoded);
    for (std::size_t rec = upto + 1; rec <= journal.size(); ++rec) {
      b->add(journal[rec - 1], rec);
      ClosedBatches cb = b->take_batches();
      commit(cb.batches, committed);
    }
    b->clear_replay_fence();
    b->flush_all();
    ClosedBatches last = b->take_batches();
    commit(last.batches, committed);
    check_against_truth(run, nullptr, committed);
  }
}

}  // namespace
}  // namespace edgesketch::agent
