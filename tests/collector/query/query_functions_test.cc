// Tests of PromQL's functions over the in-memory source: element-wise math, time, vector, scalar,
// timestamp, sort, absent, label_replace/label_join, the range functions over the float views
// (a sample is one stored window, at its end), rate/increase over _count and _sum, offset, @,
// subqueries, and the histogram functions of sketch-valued series.
#include <gtest/gtest.h>

#include <cmath>

#include "collector/query/query_eval_util.h"
#include "collector/query_test_data.h"

namespace edgesketch::query {
namespace {

using testing::Lines;

constexpr std::int64_t kT = 1'700'000'000'000;

class FunctionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto add = [&](const char* dev, const char* site, double v) {
      testing::add_window(src_, Labels{{"__name__", "cpu"}, {"dev", dev}, {"site", site}}, kT, {v});
    };
    add("a", "s1", -1.5);
    add("b", "s1", 4);
    add("c", "s2", 10);
  }
  Lines at(std::string_view q) const { return q_.at(q, kT); }
  std::string error(std::string_view q) const { return q_.error(q, kT).message(); }

  MemorySeriesSource src_;
  testing::Queries q_{src_};
};

TEST_F(FunctionsTest, ElementWiseMathDropsTheName) {
  EXPECT_EQ(at("abs(cpu_max)"),
            (Lines{R"({dev="a", site="s1"} => 1.5)", R"({dev="b", site="s1"} => 4)",
                   R"({dev="c", site="s2"} => 10)"}));
  EXPECT_EQ(at("ceil(cpu_max{dev=\"a\"})"), (Lines{R"({dev="a", site="s1"} => -1)"}));
  EXPECT_EQ(at("floor(cpu_max{dev=\"a\"})"), (Lines{R"({dev="a", site="s1"} => -2)"}));
  EXPECT_EQ(at("sqrt(cpu_max{dev=\"b\"})"), (Lines{R"({dev="b", site="s1"} => 2)"}));
  EXPECT_EQ(at("exp(cpu_max{dev=\"b\"} * 0)"), (Lines{R"({dev="b", site="s1"} => 1)"}));
  EXPECT_EQ(at("ln(exp(cpu_max{dev=\"b\"}))"), (Lines{R"({dev="b", site="s1"} => 4)"}));
  EXPECT_EQ(at("log2(cpu_max{dev=\"b\"})"), (Lines{R"({dev="b", site="s1"} => 2)"}));
  EXPECT_EQ(at("log10(cpu_max{dev=\"c\"})"), (Lines{R"({dev="c", site="s2"} => 1)"}));
  EXPECT_EQ(at("sgn(cpu_max)"),
            (Lines{R"({dev="a", site="s1"} => -1)", R"({dev="b", site="s1"} => 1)",
                   R"({dev="c", site="s2"} => 1)"}));
  EXPECT_EQ(at("sgn(cpu_max{dev=\"b\"} * 0)"), (Lines{R"({dev="b", site="s1"} => 0)"}));
  // round: ties up, to a multiple of the second argument.
  EXPECT_EQ(at("round(cpu_max{dev=\"a\"})"), (Lines{R"({dev="a", site="s1"} => -1)"}));
  EXPECT_EQ(at("round(cpu_max{dev=\"c\"} / 3, 0.5)"), (Lines{R"({dev="c", site="s2"} => 3.5)"}));
  EXPECT_EQ(at("clamp(cpu_max, 0, 5)"),
            (Lines{R"({dev="a", site="s1"} => 0)", R"({dev="b", site="s1"} => 4)",
                   R"({dev="c", site="s2"} => 5)"}));
  EXPECT_EQ(at("clamp(cpu_max, 5, 0)"), Lines{});  // max < min: nothing
  EXPECT_EQ(at("clamp_max(cpu_max, 2)"),
            (Lines{R"({dev="a", site="s1"} => -1.5)", R"({dev="b", site="s1"} => 2)",
                   R"({dev="c", site="s2"} => 2)"}));
  EXPECT_EQ(at("clamp_min(cpu_max, 5)")[2], R"({dev="c", site="s2"} => 10)");
  // Go's math.Max: NaN bounds give NaN.
  EXPECT_EQ(at("clamp_min(cpu_max{dev=\"b\"}, NaN)"), (Lines{R"({dev="b", site="s1"} => NaN)"}));
  EXPECT_NE(error("abs(cpu)").find("abs() on sketch-valued series"), std::string::npos);
}

TEST_F(FunctionsTest, TimeVectorScalarTimestamp) {
  EXPECT_EQ(at("time()"), (Lines{"scalar => 1700000000"}));
  EXPECT_EQ(at("vector(time() - 1)"), (Lines{"{} => 1699999999"}));
  EXPECT_EQ(at("scalar(cpu_max)"), (Lines{"scalar => NaN"}));  // not exactly one series
  EXPECT_EQ(at("scalar(cpu_max{dev=\"b\"}) * 2"), (Lines{"scalar => 8"}));
  EXPECT_EQ(at("scalar(nothing)"), (Lines{"scalar => NaN"}));
  // A point's timestamp is the time it stands for.
  EXPECT_EQ(at("timestamp(cpu_max{dev=\"b\"})"), (Lines{R"({dev="b", site="s1"} => 1700000000)"}));
  EXPECT_EQ(at("timestamp(cpu_max{dev=\"b\"}[1m] offset -10s)"),
            (Lines{R"({dev="b", site="s1"} => 1700000010)"}));
  EXPECT_EQ(q_.at("timestamp(cpu_max{dev=\"b\"} offset 1m)", kT + 60'000),
            (Lines{R"({dev="b", site="s1"} => 1700000000)"}));
  EXPECT_EQ(q_.at("timestamp(cpu_max{dev=\"b\"} @ 1700000000)", kT + 120'000),
            (Lines{R"({dev="b", site="s1"} => 1700000000)"}));
  EXPECT_EQ(at("timestamp(-cpu_max{dev=\"b\"})"), (Lines{R"({dev="b", site="s1"} => 1700000000)"}));
  auto r = q_.range("time()", kT, kT + 20'000, 10'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(testing::lines(*r),
            (Lines{"{} => 1700000000 @ 1700000000", "{} => 1700000010 @ 1700000010",
                   "{} => 1700000020 @ 1700000020"}));
}

TEST_F(FunctionsTest, SortKeepsItsOrderInInstantQueries) {
  EXPECT_EQ(at("sort_desc(cpu_max)"),
            (Lines{R"({__name__="cpu_max", dev="c", site="s2"} => 10)",
                   R"({__name__="cpu_max", dev="b", site="s1"} => 4)",
                   R"({__name__="cpu_max", dev="a", site="s1"} => -1.5)"}));
  EXPECT_EQ(at("sort(-cpu_max)"),
            (Lines{R"({dev="c", site="s2"} => -10)", R"({dev="b", site="s1"} => -4)",
                   R"({dev="a", site="s1"} => 1.5)"}));
  // The order survives element-wise operations on the sorted vector.
  EXPECT_EQ(at("sort_desc(cpu_max) * 2")[0], R"({dev="c", site="s2"} => 20)");
  // NaN sorts last either way.
  EXPECT_EQ(at("sort(cpu_max / (cpu_max > 0))").size(), 2u);
  EXPECT_EQ(at("sort(ln(cpu_max))").back(), R"({dev="a", site="s1"} => NaN)");
  EXPECT_EQ(at("sort_desc(ln(cpu_max))").back(), R"({dev="a", site="s1"} => NaN)");
}

TEST_F(FunctionsTest, Absent) {
  EXPECT_EQ(at("absent(cpu_max)"), Lines{});
  EXPECT_EQ(at("absent(nothing{site=\"s9\", dev=~\"x.*\"})"), (Lines{R"({site="s9"} => 1)"}));
  EXPECT_EQ(at("absent(nothing{a=\"1\", a=\"2\", b=\"3\"})"), (Lines{R"({b="3"} => 1)"}));
  EXPECT_EQ(at("absent(sum(nothing))"), (Lines{"{} => 1"}));
  EXPECT_EQ(at("absent(cpu_max > 100)"), (Lines{"{} => 1"}));
  EXPECT_EQ(at("absent_over_time(cpu_max[1m])"), Lines{});
  EXPECT_EQ(at("absent_over_time(nothing{site=\"s9\"}[1m])"), (Lines{R"({site="s9"} => 1)"}));
  EXPECT_EQ(at("absent_over_time(cpu_max[5m:1m] offset 1h)"), (Lines{"{} => 1"}));
}

TEST_F(FunctionsTest, LabelReplaceAndJoin) {
  EXPECT_EQ(at("label_replace(cpu_max{dev=\"a\"}, \"host\", \"h-$1\", \"dev\", \"(.*)\")"),
            (Lines{R"({__name__="cpu_max", dev="a", host="h-a", site="s1"} => -1.5)"}));
  // No match: unchanged; an empty result removes the label.
  EXPECT_EQ(at("label_replace(cpu_max{dev=\"a\"}, \"host\", \"x\", \"dev\", \"b\")"),
            (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => -1.5)"}));
  EXPECT_EQ(at("label_replace(cpu_max{dev=\"a\"}, \"site\", \"\", \"dev\", \".*\")"),
            (Lines{R"({__name__="cpu_max", dev="a"} => -1.5)"}));
  // Go's template rules: ${1}, named groups, $$, and $1x naming a group "1x" (empty).
  EXPECT_EQ(at("label_replace(cpu_max{dev=\"a\"}, \"x\", \"${1}x-$1x-$$-${s}\", \"site\", "
               "\"(?P<s>s)(.)\")"),
            (Lines{R"({__name__="cpu_max", dev="a", site="s1", x="sx--$-s"} => -1.5)"}));
  // The whole value must match (anchored).
  EXPECT_EQ(at("label_replace(cpu_max{dev=\"a\"}, \"x\", \"y\", \"site\", \"s\")").front(),
            R"({__name__="cpu_max", dev="a", site="s1"} => -1.5)");
  EXPECT_EQ(at("label_join(cpu_max{dev=\"a\"}, \"id\", \"/\", \"site\", \"dev\", \"none\")"),
            (Lines{R"({__name__="cpu_max", dev="a", id="s1/a/", site="s1"} => -1.5)"}));
  EXPECT_EQ(at("label_join(cpu_max{dev=\"a\"}, \"site\", \",\")"),
            (Lines{R"({__name__="cpu_max", dev="a"} => -1.5)"}));
  EXPECT_EQ(error("label_replace(cpu_max, \"x\", \"y\", \"dev\", \"(\")"),
            "invalid regular expression in label_replace(): (");
  EXPECT_EQ(error("label_replace(cpu_max, \"1x\", \"y\", \"dev\", \".*\")"),
            "invalid destination label name in label_replace(): 1x");
  EXPECT_EQ(error("label_join(cpu_max, \"x\", \"-\", \"a-b\")"),
            "invalid source label name in label_join(): a-b");
  EXPECT_EQ(error("label_replace(cpu_max, \"dev\", \"same\", \"dev\", \".*\")"),
            "vector cannot contain metrics with the same labelset");
  // Sketch-valued series can be relabelled too.
  EXPECT_EQ(at("histogram_quantile(1, label_replace(cpu{dev=\"c\"}, \"dev\", \"z\", \"\", \"\"))"),
            (Lines{R"({dev="z", site="s2"} => 10)"}));
}

// One series `m` whose window i (10 s, ending at (i + 1) · 10 s) holds i + 1 readings of value i:
// m_count = i + 1, m_sum = i (i + 1), m_min = m_max = i.
class RangeFunctionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 12; ++i) {
      sketch::WindowAggregate agg;
      for (int r = 0; r <= i; ++r) agg.add_value(i);
      ASSERT_TRUE(
          src_.add("acme", Labels{{"__name__", "m"}, {"site", "s1"}}, i * 10'000, 10'000, agg)
              .ok());
    }
  }
  // The value of a one-series instant query at t (ms), NaN when empty.
  double value(std::string_view q, std::int64_t t) const {
    auto r = q_.instant(q, t);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
    if (!r.ok() || r->series.empty()) return NAN;
    EXPECT_EQ(r->series.size(), 1u) << q;
    return r->series[0].samples[0].value;
  }

  MemorySeriesSource src_;
  testing::Queries q_{src_};
};

TEST_F(RangeFunctionsTest, OverTimeFunctionsTakeOneSamplePerWindow) {
  // At 120 s the range (60 s, 120 s] holds the windows 6..11.
  constexpr std::int64_t t = 120'000;
  EXPECT_EQ(value("sum_over_time(m_count[1m])", t), 7 + 8 + 9 + 10 + 11 + 12);
  // …the same readings the merged window m_count[1m] counts.
  EXPECT_EQ(value("sum_over_time(m_count[1m])", t), value("m_count[1m]", t));
  EXPECT_EQ(value("max_over_time(m_max[1m])", t), value("m_max[1m]", t));
  EXPECT_EQ(value("min_over_time(m_min[1m])", t), value("m_min[1m]", t));
  EXPECT_EQ(value("count_over_time(m_max[1m])", t), 6);
  EXPECT_DOUBLE_EQ(value("avg_over_time(m_max[1m])", t), 8.5);
  EXPECT_EQ(value("last_over_time(m_max[1m])", t), 11);
  EXPECT_EQ(q_.at("last_over_time(m_max[1m])", t),
            (Lines{R"({__name__="m_max", site="s1"} => 11)"}));  // keeps the name
  EXPECT_EQ(q_.at("max_over_time(m_max[1m])", t), (Lines{R"({site="s1"} => 11)"}));
  EXPECT_EQ(value("quantile_over_time(0.5, m_max[1m])", t), 8.5);
  EXPECT_EQ(value("quantile_over_time(0.2, m_max[1m])", t), 7);
  EXPECT_NEAR(value("stddev_over_time(m_max[1m])", t), std::sqrt(35.0 / 12), 1e-12);
  EXPECT_NEAR(value("stdvar_over_time(m_max[1m])", t), 35.0 / 12, 1e-12);
  EXPECT_EQ(value("present_over_time(m_max[1m])", t), 1);
  EXPECT_EQ(value("avg_over_time(m_sum[20s])", t), (10 * 11 + 11 * 12) / 2.0);
  // The range is (t − d, t]: a window ending exactly at t − d is out.
  EXPECT_EQ(value("count_over_time(m_max[10s])", t), 1);
  EXPECT_EQ(value("count_over_time(m_max[15s])", 115'000), 1);
  EXPECT_TRUE(std::isnan(value("sum_over_time(m_count[1m])", 500'000)));
  // Independent of the step, and the range need not be a multiple of it.
  auto r = q_.range("sum_over_time(m_count[30s])", 60'000, 120'000, 20'000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(testing::lines(*r),
            (Lines{R"({site="s1"} => 15 @ 60)", R"({site="s1"} => 21 @ 80)",
                   R"({site="s1"} => 27 @ 100)", R"({site="s1"} => 33 @ 120)"}));
}

TEST_F(RangeFunctionsTest, RateAndIncreaseOfCountsAndSums) {
  constexpr std::int64_t t = 120'000;
  EXPECT_EQ(value("increase(m_count[1m])", t), 57);
  EXPECT_EQ(value("rate(m_count[1m])", t), 57.0 / 60);  // readings per second
  EXPECT_EQ(value("increase(m_sum[30s])", t), 9 * 10 + 10 * 11 + 11 * 12);
  EXPECT_EQ(value("rate(m_sum[30s])", t), (9 * 10 + 10 * 11 + 11 * 12) / 30.0);
  // One window is enough: nothing to extrapolate, the windows tile the range.
  EXPECT_EQ(value("increase(m_count[10s])", t), 12);
  auto max = q_.error("rate(m_max[1m])", t);
  EXPECT_EQ(max.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(max.message().find("rate() over m_max is not defined"), std::string::npos);
  auto sq = q_.error("increase(sum(m_count)[1m:10s])", t);
  EXPECT_NE(sq.message().find("not a subquery"), std::string::npos);
  EXPECT_NE(q_.error("avg_over_time(m[1m])", t).message().find("sketch-valued"), std::string::npos);
}

TEST_F(RangeFunctionsTest, OffsetShiftsTheWindows) {
  // m_count[10s] at t is the window ending at t.
  EXPECT_EQ(value("m_count[10s] offset 30s", 120'000), 9);
  EXPECT_EQ(value("m_count[10s] offset -10s", 100'000), 11);
  EXPECT_EQ(value("sum_over_time(m_count[20s] offset 1m)", 120'000), 5 + 6);
  EXPECT_EQ(q_.over("m_count offset 20s", 40'000, 60'000, 10'000),
            (Lines{R"({__name__="m_count", site="s1"} => 2 @ 40)",
                   R"({__name__="m_count", site="s1"} => 3 @ 50)",
                   R"({__name__="m_count", site="s1"} => 4 @ 60)"}));
  EXPECT_EQ(q_.over("m_count - m_count offset 10s", 20'000, 30'000, 10'000),
            (Lines{R"({site="s1"} => 1 @ 20)", R"({site="s1"} => 1 @ 30)"}));
}

TEST_F(RangeFunctionsTest, AtPinsTheEvaluationTime) {
  EXPECT_EQ(value("m_count[10s] @ 50", 120'000), 5);
  EXPECT_EQ(value("m_count[10s] @ 60 offset 10s", 0), 5);
  EXPECT_EQ(q_.over("m_count @ 50", 10'000, 30'000, 10'000),
            (Lines{R"({__name__="m_count", site="s1"} => 5 @ 10)",
                   R"({__name__="m_count", site="s1"} => 5 @ 20)",
                   R"({__name__="m_count", site="s1"} => 5 @ 30)"}));
  EXPECT_EQ(q_.over("m_count @ start()", 30'000, 50'000, 10'000)[2],
            R"({__name__="m_count", site="s1"} => 3 @ 50)");
  EXPECT_EQ(
      q_.over("m_count @ end() - m_count", 30'000, 50'000, 10'000),
      (Lines{R"({site="s1"} => 2 @ 30)", R"({site="s1"} => 1 @ 40)", R"({site="s1"} => 0 @ 50)"}));
  EXPECT_EQ(value("sum_over_time(m_count[30s] @ 30)", 120'000), 1 + 2 + 3);
}

TEST_F(RangeFunctionsTest, Subqueries) {
  constexpr std::int64_t t = 120'000;
  // Inner points at 80, 100, 120 s, each merging the windows of its 20 s step.
  EXPECT_EQ(value("max_over_time(m_max[1m:20s])", t), 11);
  EXPECT_EQ(value("sum_over_time(m_count[1m:20s])", t), 57);
  EXPECT_EQ(value("count_over_time(m_count[1m:20s])", t), 3);
  EXPECT_EQ(value("min_over_time(sum(m_max)[1m:20s])", t), 7);
  EXPECT_EQ(value("count_over_time(m_count[1m:])", t), 1);  // default step 1 m
  EXPECT_EQ(value("sum_over_time(m_count[1m:20s] offset 1m)", t), 21);
  EXPECT_EQ(value("sum_over_time(m_count[1m:20s] @ 60)", t), 21);
  EXPECT_EQ(value("max_over_time(rate(m_count[20s])[1m:20s])", t), 23.0 / 20);
  EXPECT_EQ(value("max_over_time(max_over_time(m_max[20s:10s])[40s:20s])", t), 11);
  // A subquery at the top of an instant query gives its samples.
  auto m = q_.instant("m_count[40s:20s]", t);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->type, ResultType::kMatrix);
  EXPECT_EQ(testing::lines(*m), (Lines{R"({__name__="m_count", site="s1"} => 19 @ 100)",
                                       R"({__name__="m_count", site="s1"} => 23 @ 120)"}));
  // …and is not a range query's result type.
  auto bad = q_.range("m_count[40s:20s]", t, t, 10'000);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "invalid expression type \"range vector\" for range query, must be Scalar or instant "
            "Vector");
  // In a range query each step takes its own inner points.
  EXPECT_EQ(
      q_.over("sum_over_time(m_count[20s:10s])", 20'000, 40'000, 10'000),
      (Lines{R"({site="s1"} => 3 @ 20)", R"({site="s1"} => 5 @ 30)", R"({site="s1"} => 7 @ 40)"}));
}

TEST_F(RangeFunctionsTest, TimesStayInRange) {
  // Offsets and ranges of nested subqueries add up; beyond the engine's time range the query
  // fails instead of overflowing.
  EXPECT_NE(q_.error("m_count offset 1y", kMinTimeMs + 1000)
                .message()
                .find("out of the supported "
                      "range"),
            std::string::npos);
  // Each offset and range is within bounds; their sum reaches past the start of the range.
  constexpr std::int64_t kYearMs = 365LL * 24 * 3600 * 1000;
  EXPECT_NE(q_.error("max_over_time(max_over_time(m_max[1y:1w] offset 1y)[1y:1w] offset 1y)",
                     kMinTimeMs + 3 * kYearMs)
                .message()
                .find("out of the supported range"),
            std::string::npos);
  // Durations are Go's: at most 2^63 ns, about 292 years.
  EXPECT_EQ(parse_promql("m_max[30000000y]").status().message(),
            "1:7: parse error: duration out of range");
  EXPECT_FALSE(q_.instant("m_count", kMaxTimeMs + 1).ok());
  EXPECT_NE(parse_promql("m @ 1e16")
                .status()
                .message()
                .find("timestamp out of bounds for @ modifier: 10000000000000000.000000"),
            std::string::npos);
}

TEST_F(RangeFunctionsTest, EqualLabelsAfterDroppingNamesAreAnError) {
  EXPECT_EQ(q_.error("sum_over_time({__name__=~\"m_(min|max)\"}[1m])", 120'000).message(),
            "vector cannot contain metrics with the same labelset");
  EXPECT_EQ(q_.at("last_over_time({__name__=~\"m_(min|max)\"}[1m])", 120'000).size(), 2u);
}

// The native-histogram functions on the test fleet's sketches: computed from the merged
// exponential histogram.
TEST(HistogramFunctionsTest, CountSumFraction) {
  MemorySeriesSource src;
  testing::fill_fleet(src);
  testing::Queries q(src);
  const std::int64_t t = testing::kT0 + testing::kWindows * testing::kWindowMs;
  sketch::WindowAggregate all(testing::full_spec());
  for (int s = 1; s <= 2; ++s)
    for (int l = 1; l <= 2; ++l)
      for (int d = 1; d <= 2; ++d)
        for (int w = 0; w < testing::kWindows; ++w) {
          ASSERT_TRUE(all.merge(testing::make_window(s, l, d, w)).ok());
        }
  const auto* h = all.histogram();
  ASSERT_NE(h, nullptr);
  auto one = [&](std::string_view query) -> double {
    auto r = q.instant(query, t);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().message();
    if (!r.ok() || r->series.size() != 1) return NAN;
    return r->series[0].samples[0].value;
  };
  EXPECT_EQ(one("histogram_count(sum(vibration))"), static_cast<double>(h->count()));
  EXPECT_EQ(one("histogram_sum(sum(vibration))"), h->sum());
  EXPECT_EQ(one("histogram_fraction(0, +Inf, sum(vibration))"), 1);
  EXPECT_EQ(one("histogram_fraction(-Inf, 0, sum(vibration))"), 0);
  EXPECT_EQ(one("histogram_fraction(5, 5, sum(vibration))"), 0);
  EXPECT_TRUE(std::isnan(one("histogram_fraction(NaN, 1, sum(vibration))")));
  // The fraction below the median is about one half (within a bucket's width).
  const double median = h->quantile(0.5);
  EXPECT_NEAR(one(fmt::format("histogram_fraction(0, {}, sum(vibration))", median)), 0.5, 0.02);
  // Per series, without the metric name.
  auto per = q.at("histogram_count(vibration{site=\"s1\", line=\"l1\"})", t);
  EXPECT_EQ(per, (Lines{R"({device="d1", line="l1", site="s1"} => 60)",
                        R"({device="d2", line="l1", site="s1"} => 60)"}));
  auto floats = q.error("histogram_count(vibration_count)", t);
  EXPECT_NE(floats.message().find("needs sketch-valued series"), std::string::npos);
}

// Powers of two are bucket bounds at every scale (bucket i is (2^(i/64), 2^((i+1)/64)] at scale
// 6), so the fractions of such readings are exact.
TEST(HistogramFunctionsTest, FractionFromBucketBounds) {
  MemorySeriesSource src;
  testing::add_window(src, Labels{{"__name__", "x"}}, kT, {1, 2, 4, 8});
  testing::add_window(src, Labels{{"__name__", "y"}}, kT, {-2, -1, 1, 2});
  testing::add_window(src, Labels{{"__name__", "z"}}, kT, {0, 0, 1, 2});
  testing::Queries q(src);
  auto fraction = [&](std::string_view args) {
    return q.at(fmt::format("histogram_fraction({})", args), kT);
  };
  EXPECT_EQ(fraction("0, 2, x"), (Lines{"{} => 0.5"}));
  EXPECT_EQ(fraction("1.5, 3, x"), (Lines{"{} => 0.25"}));
  EXPECT_EQ(fraction("0, 100, x"), (Lines{"{} => 1"}));
  EXPECT_EQ(fraction("-Inf, 0, y"), (Lines{"{} => 0.5"}));
  EXPECT_EQ(fraction("-1.5, 1.5, y"), (Lines{"{} => 0.5"}));
  // 8's bucket is (2^(3 − 1/64), 8] = (7.915…, 8]: below it nothing is cut, inside it the part
  // of the bucket's width counts (linear interpolation).
  EXPECT_EQ(fraction("0, 7.9, x"), (Lines{"{} => 0.75"}));
  const double lower = std::exp2(3 - 1.0 / 64);
  const auto cut = q.instant("histogram_fraction(0, 7.95, x)", kT);
  ASSERT_TRUE(cut.ok());
  EXPECT_DOUBLE_EQ(cut->series.at(0).samples.at(0).value, (3 + (7.95 - lower) / (8 - lower)) / 4);
  // The zero bucket: [0, z) when every other value is positive.
  EXPECT_EQ(fraction("0, 0.5, z"), (Lines{"{} => 0.5"}));
  EXPECT_EQ(fraction("-1, 0, z"), (Lines{"{} => 0"}));
  EXPECT_EQ(q.at("histogram_count(z) + histogram_sum(z)", kT), (Lines{"{} => 7"}));
}

}  // namespace
}  // namespace edgesketch::query
