// `edgesketch-sim truth` on a tiny hand-made record, against answers computed by hand.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "record_format.h"
#include "record_writer.h"
#include "sim_fixtures.h"
#include "truth.h"

namespace edgesketch::sim {
namespace {

using nlohmann::json;

// dev-a (s1, l1), dev-b (s1, l2), dev-c (s2, l1); temperature numeric, event categorical.
std::string write_hand_made_record() {
  const std::string path = test::temp_path("truth.rec");
  auto w = RecordWriter::create(path);
  EXPECT_TRUE(w.ok());
  RecordWriter& r = **w;
  r.define_metric(0, "temperature", false);
  r.define_metric(1, "event", true);
  r.define_device(0, "dev-a", {{"site", "s1"}, {"line", "l1"}});
  r.define_device(1, "dev-b", {{"site", "s1"}, {"line", "l2"}});
  r.define_device(2, "dev-c", {{"site", "s2"}, {"line", "l1"}});
  r.define_label(0, "E000");
  r.define_label(1, "E001");
  std::vector<RecordedReading> a = {
      {0, 1000, 1.0, 0}, {0, 2000, 2.0, 0}, {0, 11000, 10.0, 0}, {1, 3000, 0, 1}, {1, 4000, 0, 1}};
  r.add_message({0, 1, 12000, 0}, a);
  std::vector<RecordedReading> b = {{0, 5000, 3.0, 0}, {0, 9999, 4.0, 0}, {1, 5000, 0, 0}};
  r.add_message({1, 1, 10000, 0}, b);
  std::vector<RecordedReading> c = {{0, 500, 100.0, 0}, {0, -1, -5.0, 0}};
  r.add_message({2, 1, 1000, 0}, c);
  r.add_message({1, 1, 10000, record::kFlagDuplicate}, b);
  EXPECT_TRUE(r.finish().ok());
  return path;
}

std::vector<json> run_truth(const TruthOptions& options) {
  std::FILE* out = std::tmpfile();
  auto summary = compute_truth(options, out);
  EXPECT_TRUE(summary.ok()) << summary.status().to_string();
  std::rewind(out);
  std::vector<json> lines;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, out)) lines.push_back(json::parse(buf));
  std::fclose(out);
  return lines;
}

TEST(TruthTest, TemperatureBySiteWithDuplicates) {
  TruthOptions o;
  o.record_path = write_hand_made_record();
  o.window_ms = 10'000;
  o.group_by = {"site"};
  o.metrics = {"temperature"};
  o.distinct_of = {"device"};
  o.topk_of = "device";
  o.k = 2;
  std::vector<json> lines = run_truth(o);
  ASSERT_EQ(lines.size(), 4u);
  // s1, window [0, 10s): 1, 2 (dev-a), 3, 4 (dev-b) and the duplicate 3, 4.
  const json& w0 = lines[0];
  EXPECT_EQ(w0["metric"], "temperature");
  EXPECT_EQ(w0["group"], json({{"site", "s1"}}));
  EXPECT_EQ(w0["window_start_ms"], 0);
  EXPECT_EQ(w0["window_ms"], 10000);
  EXPECT_EQ(w0["count"], 6);
  EXPECT_EQ(w0["sum"], 17.0);
  EXPECT_EQ(w0["min"], 1.0);
  EXPECT_EQ(w0["max"], 4.0);
  // sorted [1, 2, 3, 3, 4, 4]: p50 = sorted[floor(0.5 * 5)] = sorted[2] = 3, p90 = sorted[4].
  EXPECT_EQ(w0["p50"], 3.0);
  EXPECT_EQ(w0["p90"], 4.0);
  EXPECT_EQ(w0["p99"], 4.0);
  EXPECT_EQ(w0["p999"], 4.0);
  EXPECT_EQ(w0["distinct"], json({{"device", 2}}));
  EXPECT_EQ(w0["topk_of"], "device");
  EXPECT_EQ(w0["topk"], json::parse(R"([{"key":"dev-b","count":4},{"key":"dev-a","count":2}])"));
  // s1, window [10s, 20s): dev-a's 10.
  EXPECT_EQ(lines[1]["window_start_ms"], 10000);
  EXPECT_EQ(lines[1]["count"], 1);
  EXPECT_EQ(lines[1]["p50"], 10.0);
  // s2: ts -1 falls into the window starting at -10 s; ts 500 into [0, 10s).
  EXPECT_EQ(lines[2]["group"], json({{"site", "s2"}}));
  EXPECT_EQ(lines[2]["window_start_ms"], -10000);
  EXPECT_EQ(lines[2]["min"], -5.0);
  EXPECT_EQ(lines[3]["window_start_ms"], 0);
  EXPECT_EQ(lines[3]["sum"], 100.0);
}

TEST(TruthTest, DedupeCountsEachBatchOnce) {
  TruthOptions o;
  o.record_path = write_hand_made_record();
  o.group_by = {"site"};
  o.metrics = {"temperature"};
  o.dedupe = true;
  std::vector<json> lines = run_truth(o);
  ASSERT_EQ(lines.size(), 4u);
  // sorted [1, 2, 3, 4]: p50 = sorted[floor(1.5)] = 2, p90 = sorted[floor(2.7)] = 3.
  EXPECT_EQ(lines[0]["count"], 4);
  EXPECT_EQ(lines[0]["sum"], 10.0);
  EXPECT_EQ(lines[0]["p50"], 2.0);
  EXPECT_EQ(lines[0]["p90"], 3.0);
  EXPECT_EQ(lines[0]["p99"], 3.0);
  EXPECT_FALSE(lines[0].contains("distinct"));
  EXPECT_FALSE(lines[0].contains("topk"));
}

TEST(TruthTest, EventsBySiteAndLineWithLabels) {
  TruthOptions o;
  o.record_path = write_hand_made_record();
  o.group_by = {"site", "line"};
  o.metrics = {"event"};
  o.distinct_of = {"label", "device"};
  o.topk_of = "label";
  o.k = 10;
  std::vector<json> lines = run_truth(o);
  ASSERT_EQ(lines.size(), 2u);
  // (s1, l1): dev-a's two E001; (s1, l2): dev-b's E000 and its duplicate.
  EXPECT_EQ(lines[0]["group"], json({{"site", "s1"}, {"line", "l1"}}));
  EXPECT_EQ(lines[0]["count"], 2);
  EXPECT_FALSE(lines[0].contains("sum"));
  EXPECT_FALSE(lines[0].contains("p50"));
  EXPECT_EQ(lines[0]["distinct"], json({{"label", 1}, {"device", 1}}));
  EXPECT_EQ(lines[0]["topk"], json::parse(R"([{"key":"E001","count":2}])"));
  EXPECT_EQ(lines[1]["group"], json({{"site", "s1"}, {"line", "l2"}}));
  EXPECT_EQ(lines[1]["topk"], json::parse(R"([{"key":"E000","count":2}])"));
}

TEST(TruthTest, TopKTiesBreakByKeyAndAllMetricsAreReported) {
  TruthOptions o;
  o.record_path = write_hand_made_record();
  o.window_ms = 60'000;
  o.topk_of = "label";
  o.k = 1;
  std::vector<json> lines = run_truth(o);
  // No group-by: one group; event (E000 x2, E001 x2: the tie goes to E000) before temperature.
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["metric"], "event");
  EXPECT_EQ(lines[0]["group"], json::object());
  EXPECT_EQ(lines[0]["topk"], json::parse(R"([{"key":"E000","count":2}])"));
  EXPECT_EQ(lines[1]["metric"], "temperature");
  EXPECT_EQ(lines[1]["window_start_ms"], -60000);
  EXPECT_EQ(lines[2]["count"], 8);
  EXPECT_EQ(lines[2]["topk"], json::array());  // temperature readings carry no label
}

TEST(TruthTest, FullPrecisionDoubles) {
  const std::string path = test::temp_path("precision.rec");
  {
    auto w = RecordWriter::create(path);
    ASSERT_TRUE(w.ok());
    (*w)->define_metric(0, "vibration", false);
    (*w)->define_device(0, "dev-0000", {});
    std::vector<RecordedReading> v = {
        {0, 0, 1e16, 0}, {0, 1, 1.0, 0}, {0, 2, 1.0, 0}, {0, 3, -1e16, 0}, {0, 4, 0.1, 0}};
    (*w)->add_message({0, 1, 0, 0}, v);
    ASSERT_TRUE((*w)->finish().ok());
  }
  TruthOptions o;
  o.record_path = path;
  std::vector<json> lines = run_truth(o);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["max"].get<double>(), 1e16);
  EXPECT_EQ(lines[0]["p50"].get<double>(), 1.0);
  // Plain left-to-right addition loses both ones (1e16 + 1 == 1e16) and gives 0.1; the
  // compensated sum is exact.
  EXPECT_EQ(lines[0]["sum"].get<double>(), 2.1);
}

// --where keeps the readings whose value meets every comparison; labels meet none.
TEST(TruthTest, WhereKeepsReadingsWhoseValueMeetsIt) {
  TruthOptions o;
  o.record_path = write_hand_made_record();
  o.window_ms = 10'000;
  o.group_by = {"device"};
  o.where = "value > 2 and value<=10";
  std::vector<json> lines = run_truth(o);
  ASSERT_EQ(lines.size(), 2u);
  // dev-a: 10 at 11 s; dev-b: 3, 4 and their duplicate copies. dev-c's 100 and -5 and every
  // event are left out.
  EXPECT_EQ(lines[0]["group"], json({{"device", "dev-a"}}));
  EXPECT_EQ(lines[0]["window_start_ms"], 10000);
  EXPECT_EQ(lines[0]["count"], 1);
  EXPECT_EQ(lines[0]["sum"], 10.0);
  EXPECT_EQ(lines[1]["group"], json({{"device", "dev-b"}}));
  EXPECT_EQ(lines[1]["count"], 4);
  EXPECT_EQ(lines[1]["min"], 3.0);
  EXPECT_EQ(lines[1]["max"], 4.0);
  o.where = "value != -5";
  o.metrics = {"temperature"};
  std::uint64_t n = 0;
  for (const json& l : run_truth(o)) n += l["count"].get<std::uint64_t>();
  EXPECT_EQ(n, 8u);  // 9 temperature readings (the duplicate copies included) but -5
  o.where = "  ";
  n = 0;
  for (const json& l : run_truth(o)) n += l["count"].get<std::uint64_t>();
  EXPECT_EQ(n, 9u);
  for (const char* bad : {"site == 1", "value > x", "value > 1 or value < 0", "value", "value >"}) {
    o.where = bad;
    std::FILE* out = std::tmpfile();
    auto r = compute_truth(o, out);
    std::fclose(out);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(TruthTest, UnknownNamesAreErrors) {
  TruthOptions o;
  o.record_path = write_hand_made_record();
  o.metrics = {"voltage"};
  std::FILE* out = std::tmpfile();
  auto r = compute_truth(o, out);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("voltage"), std::string::npos);
  o.metrics = {};
  o.group_by = {"room"};
  r = compute_truth(o, out);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  o.group_by = {};
  o.record_path = test::temp_path("missing.rec");
  r = compute_truth(o, out);
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  std::fclose(out);
}

}  // namespace
}  // namespace edgesketch::sim
