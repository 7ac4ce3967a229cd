// `edgesketch-sim export` on small hand-made records: the exact lines VictoriaMetrics' import
// endpoint reads, and what is left out.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "record_export.h"
#include "record_format.h"
#include "record_writer.h"
#include "sim_fixtures.h"

namespace edgesketch::sim {
namespace {

struct Exported {
  Result<ExportSummary> summary;
  std::string text;
};

Exported run_export(const ExportOptions& options) {
  std::FILE* out = std::tmpfile();
  Exported e{export_record(options, out), {}};
  std::rewind(out);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, out)) > 0) e.text.append(buf, n);
  std::fclose(out);
  return e;
}

TEST(RecordExportTest, OneLinePerMessageAndMetricWithSortedLabels) {
  const std::string path = test::temp_path("export.rec");
  {
    auto w = RecordWriter::create(path);
    ASSERT_TRUE(w.ok());
    RecordWriter& r = **w;
    r.define_metric(0, "temperature", false);
    r.define_metric(1, "event", true);
    r.define_metric(2, "vibration", false);
    r.define_device(0, "dev-a", {{"site", "s\"1"}, {"line", "l1"}});
    r.define_device(1, "dev-b", {});
    r.define_label(0, "E000");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<RecordedReading> a = {{0, 1000, 21.5, 0},  {2, 1000, 0.1, 0}, {1, 1500, 0, 0},
                                      {0, 2000, -3e-7, 0}, {2, 1010, nan, 0}, {2, 1020, 1e300, 0}};
    r.add_message({0, 1, 2000, 0}, a);
    std::vector<RecordedReading> b = {{0, 3000, 20.0, 0}};
    r.add_message({1, 1, 3000, 0}, b);
    r.add_message({1, 1, 3000, record::kFlagDuplicate}, b);
    ASSERT_TRUE(r.finish().ok());
  }
  Exported e = run_export({.record_path = path});
  ASSERT_TRUE(e.summary.ok()) << e.summary.status().to_string();
  EXPECT_EQ(e.text,
            "{\"metric\":{\"__name__\":\"temperature\",\"device\":\"dev-a\",\"line\":\"l1\","
            "\"site\":\"s\\\"1\"},\"values\":[21.5,-3e-07],\"timestamps\":[1000,2000]}\n"
            "{\"metric\":{\"__name__\":\"vibration\",\"device\":\"dev-a\",\"line\":\"l1\","
            "\"site\":\"s\\\"1\"},\"values\":[0.1,1e+300],\"timestamps\":[1000,1020]}\n"
            "{\"metric\":{\"__name__\":\"temperature\",\"device\":\"dev-b\"},"
            "\"values\":[20],\"timestamps\":[3000]}\n");
  EXPECT_EQ(e.summary->readings_exported, 5u);
  EXPECT_EQ(e.summary->lines, 3u);
  EXPECT_EQ(e.summary->categorical_readings_skipped, 1u);
  EXPECT_EQ(e.summary->non_finite_readings_skipped, 1u);
  EXPECT_EQ(e.summary->duplicate_readings_skipped, 1u);
}

TEST(RecordExportTest, ValuesReadBackToTheSameDouble) {
  const std::string path = test::temp_path("export-precision.rec");
  const std::vector<double> values = {0.1 + 0.2, 1e16 + 2, -0.0, 5e-324, 123456.789};
  {
    auto w = RecordWriter::create(path);
    ASSERT_TRUE(w.ok());
    (*w)->define_metric(0, "pressure", false);
    (*w)->define_device(0, "d", {});
    std::vector<RecordedReading> v;
    for (std::size_t i = 0; i < values.size(); ++i) {
      v.push_back({0, static_cast<std::int64_t>(i), values[i], 0});
    }
    (*w)->add_message({0, 1, 0, 0}, v);
    ASSERT_TRUE((*w)->finish().ok());
  }
  Exported e = run_export({.record_path = path});
  ASSERT_TRUE(e.summary.ok());
  const std::size_t open = e.text.find("\"values\":[") + 10;
  std::string list = e.text.substr(open, e.text.find(']', open) - open);
  std::vector<double> parsed;
  for (std::size_t at = 0; at <= list.size();) {
    std::size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    double v = 0;
    auto [end, ec] = std::from_chars(list.data() + at, list.data() + comma, v);
    EXPECT_TRUE(ec == std::errc() && end == list.data() + comma) << list.substr(at, comma - at);
    parsed.push_back(v);
    at = comma + 1;
  }
  ASSERT_EQ(parsed.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(parsed[i], values[i]) << i;
    EXPECT_EQ(std::signbit(parsed[i]), std::signbit(values[i])) << i;
  }
}

TEST(RecordExportTest, LongSeriesAreSplitIntoLinesOfAThousandPoints) {
  const std::string path = test::temp_path("export-long.rec");
  {
    auto w = RecordWriter::create(path);
    ASSERT_TRUE(w.ok());
    (*w)->define_metric(0, "humidity", false);
    (*w)->define_device(0, "d", {});
    for (int m = 0; m < 25; ++m) {
      std::vector<RecordedReading> v;
      for (int i = 0; i < 100; ++i) v.push_back({0, m * 100 + i, static_cast<double>(i), 0});
      (*w)->add_message({0, static_cast<std::uint64_t>(m + 1), m * 100 + 99, 0}, v);
    }
    ASSERT_TRUE((*w)->finish().ok());
  }
  Exported e = run_export({.record_path = path});
  ASSERT_TRUE(e.summary.ok());
  EXPECT_EQ(e.summary->readings_exported, 2500u);
  ASSERT_EQ(e.summary->lines, 3u);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < e.text.size();) {
    const std::size_t nl = e.text.find('\n', at);
    lines.push_back(e.text.substr(at, nl - at));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"timestamps\":[0,1,2,"), std::string::npos);
  EXPECT_NE(lines[1].find("\"timestamps\":[1000,1001,"), std::string::npos);
  EXPECT_NE(lines[2].find(",2498,2499]}"), std::string::npos);
}

TEST(RecordExportTest, UnknownFormatAndBadRecordAreErrors) {
  const std::string path = test::temp_path("export-empty.rec");
  {
    auto w = RecordWriter::create(path);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->finish().ok());
  }
  Exported unknown = run_export({.record_path = path, .format = "csv"});
  ASSERT_FALSE(unknown.summary.ok());
  EXPECT_EQ(unknown.summary.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.summary.status().message().find("csv"), std::string::npos);

  Exported empty = run_export({.record_path = path});
  ASSERT_TRUE(empty.summary.ok());
  EXPECT_EQ(empty.text, "");

  const std::string garbage = test::temp_path("export-garbage.rec");
  std::FILE* f = std::fopen(garbage.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("not a record file", f);
  std::fclose(f);
  Exported bad = run_export({.record_path = garbage});
  ASSERT_FALSE(bad.summary.ok());
  EXPECT_EQ(bad.summary.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace edgesketch::sim
