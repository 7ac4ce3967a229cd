// Tests of PromQL's operators and aggregations over the in-memory source, with Prometheus'
// semantics: comparisons (filtering and `bool`), and/or/unless, vector matching with on/ignoring
// and group_left/group_right and its errors, topk/bottomk/quantile/stddev/stdvar/count_values/
// group, and the motivating fleet questions.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "collector/query/query_eval_util.h"
#include "collector/query_test_data.h"

namespace edgesketch::query {
namespace {

using testing::Lines;

constexpr std::int64_t kT = 1'700'000'000'000;

// cpu (a = 1, b = 5, c = 10), mem (a = 100, b = 200, d = 400) and site_info (one per site), one
// 10 s window ending at kT each: the views m_max, m_min, m_sum hold the value, m_count 1.
class OperatorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto add = [&](const char* metric, const char* dev, const char* site, double v) {
      testing::add_window(src_, Labels{{"__name__", metric}, {"dev", dev}, {"site", site}}, kT,
                          {v});
    };
    add("cpu", "a", "s1", 1);
    add("cpu", "b", "s1", 5);
    add("cpu", "c", "s2", 10);
    add("mem", "a", "s1", 100);
    add("mem", "b", "s1", 200);
    add("mem", "d", "s2", 400);
    testing::add_window(src_, Labels{{"__name__", "site_info"}, {"region", "eu"}, {"site", "s1"}},
                        kT, {1});
    testing::add_window(src_, Labels{{"__name__", "site_info"}, {"region", "us"}, {"site", "s2"}},
                        kT, {2});
  }
  Lines at(std::string_view q) const { return q_.at(q, kT); }
  std::string error(std::string_view q) const { return q_.error(q, kT).message(); }
  StatusCode code(std::string_view q) const { return q_.error(q, kT).code(); }

  MemorySeriesSource src_;
  testing::Queries q_{src_};
};

TEST_F(OperatorsTest, ComparisonsFilterAndKeepTheMetricName) {
  EXPECT_EQ(at("cpu_max > 4"), (Lines{R"({__name__="cpu_max", dev="b", site="s1"} => 5)",
                                      R"({__name__="cpu_max", dev="c", site="s2"} => 10)"}));
  // The scalar on the left: the vector's value is kept.
  EXPECT_EQ(at("4 < cpu_max"), at("cpu_max > 4"));
  EXPECT_EQ(at("cpu_max == 5"), (Lines{R"({__name__="cpu_max", dev="b", site="s1"} => 5)"}));
  EXPECT_EQ(at("cpu_max != 5"), (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)",
                                       R"({__name__="cpu_max", dev="c", site="s2"} => 10)"}));
  EXPECT_EQ(at("cpu_max >= 5"), at("cpu_max > 4"));
  EXPECT_EQ(at("cpu_max <= 5"), (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)",
                                       R"({__name__="cpu_max", dev="b", site="s1"} => 5)"}));
  EXPECT_EQ(at("cpu_max < 0"), Lines{});
  // NaN compares false with everything.
  EXPECT_EQ(at("cpu_max > NaN"), Lines{});
  EXPECT_EQ(at("cpu_max != NaN").size(), 3u);
}

TEST_F(OperatorsTest, BoolComparisonsGiveZeroOrOneWithoutTheName) {
  EXPECT_EQ(at("cpu_max > bool 4"),
            (Lines{R"({dev="a", site="s1"} => 0)", R"({dev="b", site="s1"} => 1)",
                   R"({dev="c", site="s2"} => 1)"}));
  EXPECT_EQ(at("4 >= bool cpu_max"),
            (Lines{R"({dev="a", site="s1"} => 1)", R"({dev="b", site="s1"} => 0)",
                   R"({dev="c", site="s2"} => 0)"}));
  EXPECT_EQ(at("1 < bool 2"), (Lines{"scalar => 1"}));
  EXPECT_EQ(at("2 == bool 3"), (Lines{"scalar => 0"}));
  EXPECT_EQ(at("mem_max > bool cpu_max"),
            (Lines{R"({dev="a", site="s1"} => 1)", R"({dev="b", site="s1"} => 1)"}));
}

TEST_F(OperatorsTest, VectorComparisonsKeepTheLeftSide) {
  // One-to-one on all labels but the name: d and c have no partner.
  EXPECT_EQ(at("mem_max > cpu_max * 30"),
            (Lines{R"({__name__="mem_max", dev="a", site="s1"} => 100)",
                   R"({__name__="mem_max", dev="b", site="s1"} => 200)"}));
  EXPECT_EQ(at("mem_max > cpu_max * 45"),
            (Lines{R"({__name__="mem_max", dev="a", site="s1"} => 100)"}));
  // Arithmetic drops the name.
  EXPECT_EQ(at("mem_max - cpu_max"),
            (Lines{R"({dev="a", site="s1"} => 99)", R"({dev="b", site="s1"} => 195)"}));
}

TEST_F(OperatorsTest, SetOperators) {
  EXPECT_EQ(at("cpu_max and mem_max"), (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)",
                                              R"({__name__="cpu_max", dev="b", site="s1"} => 5)"}));
  EXPECT_EQ(at("cpu_max unless mem_max"),
            (Lines{R"({__name__="cpu_max", dev="c", site="s2"} => 10)"}));
  EXPECT_EQ(at("cpu_max or mem_max"),
            (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)",
                   R"({__name__="cpu_max", dev="b", site="s1"} => 5)",
                   R"({__name__="cpu_max", dev="c", site="s2"} => 10)",
                   R"({__name__="mem_max", dev="d", site="s2"} => 400)"}));
  EXPECT_EQ(at("cpu_max and on (site) site_info_max{region=\"us\"}"),
            (Lines{R"({__name__="cpu_max", dev="c", site="s2"} => 10)"}));
  EXPECT_EQ(at("cpu_max unless ignoring (dev) mem_max{dev=\"d\"}"),
            (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)",
                   R"({__name__="cpu_max", dev="b", site="s1"} => 5)"}));
  EXPECT_EQ(at("cpu_max and nothing"), Lines{});
  EXPECT_EQ(at("nothing or cpu_max{dev=\"a\"}"),
            (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)"}));
  // Precedence: and binds tighter than or; comparisons tighter than and.
  EXPECT_EQ(at("cpu_max{dev=\"a\"} or cpu_max > 4 and mem_max"),
            (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)",
                   R"({__name__="cpu_max", dev="b", site="s1"} => 5)"}));
  // Sketch-valued series pass through and/unless (their histograms still usable).
  auto h = q_.instant("histogram_quantile(0.5, cpu and on (dev) cpu_max > 4)", kT);
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(testing::lines(*h),
            (Lines{R"({dev="b", site="s1"} => 5)", R"({dev="c", site="s2"} => 10)"}));
}

TEST_F(OperatorsTest, ManyToOneAndOneToManyJoins) {
  EXPECT_EQ(at("cpu_max * on (site) group_left (region) site_info_max"),
            (Lines{R"({dev="a", region="eu", site="s1"} => 1)",
                   R"({dev="b", region="eu", site="s1"} => 5)",
                   R"({dev="c", region="us", site="s2"} => 20)"}));
  // group_right: the labels of the right side, the values in their places.
  EXPECT_EQ(at("site_info_max - on (site) group_right (region) cpu_max"),
            (Lines{R"({dev="a", region="eu", site="s1"} => 0)",
                   R"({dev="b", region="eu", site="s1"} => -4)",
                   R"({dev="c", region="us", site="s2"} => -8)"}));
  // A comparison join keeps the left name, and filters.
  EXPECT_EQ(at("cpu_max > on (site) group_left site_info_max * 3"),
            (Lines{R"({__name__="cpu_max", dev="b", site="s1"} => 5)",
                   R"({__name__="cpu_max", dev="c", site="s2"} => 10)"}));
  // ignoring with group_left keeps every left label.
  EXPECT_EQ(
      at("mem_max / ignoring (dev) group_left sum by (site) (mem_max)"),
      (Lines{R"({dev="a", site="s1"} => 0.3333333333333333)",
             R"({dev="b", site="s1"} => 0.6666666666666666)", R"({dev="d", site="s2"} => 1)"}));
}

TEST_F(OperatorsTest, MatchingErrorsAsPrometheus) {
  EXPECT_EQ(error("cpu_max * on (site) site_info_max"),
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
  EXPECT_EQ(code("cpu_max * on (site) site_info_max"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(error("site_info_max * on (site) cpu_max"),
            R"(found duplicate series for the match group {site="s1"} on the right hand-side )"
            R"(of the operation: [{__name__="cpu_max", dev="b", site="s1"}, )"
            R"({__name__="cpu_max", dev="a", site="s1"}];many-to-many matching not allowed: )"
            "matching labels must be unique on one side");
  EXPECT_EQ(error("cpu_max * on (site) group_right site_info_max"),
            R"(found duplicate series for the match group {site="s1"} on the left hand-side )"
            R"(of the operation: [{__name__="cpu_max", dev="b", site="s1"}, )"
            R"({__name__="cpu_max", dev="a", site="s1"}];many-to-many matching not allowed: )"
            "matching labels must be unique on one side");
  EXPECT_EQ(error("{__name__=~\"cpu_max|mem_max\", dev=\"a\"} * on (site) group_left "
                  "site_info_max"),
            "multiple matches for labels: grouping labels must ensure unique matches");
  // Dropping the name makes two series equal.
  EXPECT_EQ(error("{__name__=~\"cpu_max|mem_max\", dev=\"a\"} * 2"),
            "vector cannot contain metrics with the same labelset");
  // Filtered out before the check: no error (Prometheus checks matched elements only).
  EXPECT_EQ(at("cpu_max > on (site) site_info_max * 100"), Lines{});
}

TEST_F(OperatorsTest, PrecedenceAndAssociativity) {
  EXPECT_EQ(at("2 ^ 3 ^ 2"), (Lines{"scalar => 512"}));
  EXPECT_EQ(at("-2 ^ 2"), (Lines{"scalar => -4"}));
  EXPECT_EQ(at("2 * 3 + 4 * 5 > bool 25"), (Lines{"scalar => 1"}));
  EXPECT_EQ(at("10 - 2 - 3"), (Lines{"scalar => 5"}));
  EXPECT_EQ(at("12 / 2 / 3"), (Lines{"scalar => 2"}));
  EXPECT_EQ(at("1 + 2 > bool 2 + 0"), (Lines{"scalar => 1"}));
  EXPECT_EQ(at("7 % 4 * 2"), (Lines{"scalar => 6"}));
}

// `^` is Go's math.Pow, whose integer powers are a chain of rounded products, not the correctly
// rounded pow of the C library: Prometheus answers 0.21600000000000008 where pow() gives
// 0.2160000000000001. The values are Prometheus 2.42's answers.
TEST_F(OperatorsTest, PowerRoundsAsGo) {
  EXPECT_EQ(at("0.6000000000000001 ^ 3"), (Lines{"scalar => 0.21600000000000008"}));
  EXPECT_EQ(at("4.117490898960796 ^ 3"), (Lines{"scalar => 69.8068343436321"}));
  EXPECT_EQ(at("1.1 ^ 10"), (Lines{"scalar => 2.593742460100002"}));
  EXPECT_EQ(at("3 ^ -2"), (Lines{"scalar => 0.1111111111111111"}));
  EXPECT_EQ(at("(-3) ^ 3"), (Lines{"scalar => -27"}));
  EXPECT_EQ(at("2 ^ 0.5"), (Lines{"scalar => 1.4142135623730951"}));
  EXPECT_EQ(at("2 ^ -1074"), (Lines{"scalar => 5e-324"}));
  EXPECT_EQ(at("2 ^ -1075"), (Lines{"scalar => 0"}));
  EXPECT_EQ(at("10 ^ 400"), (Lines{"scalar => +Inf"}));
  // Special cases in Go's order.
  EXPECT_EQ(at("NaN ^ 0"), (Lines{"scalar => 1"}));
  EXPECT_EQ(at("(-1) ^ Inf"), (Lines{"scalar => 1"}));
  EXPECT_EQ(at("0 ^ -1"), (Lines{"scalar => +Inf"}));
  EXPECT_EQ(at("(-0) ^ -3"), (Lines{"scalar => -Inf"}));
  EXPECT_EQ(at("(-0) ^ -2"), (Lines{"scalar => +Inf"}));
  EXPECT_EQ(at("(-8) ^ 0.5"), (Lines{"scalar => NaN"}));
  EXPECT_EQ(at("(-Inf) ^ 3"), (Lines{"scalar => -Inf"}));
  EXPECT_EQ(at("(-Inf) ^ -2"), (Lines{"scalar => 0"}));
  EXPECT_EQ(at("0.5 ^ -Inf"), (Lines{"scalar => +Inf"}));
  EXPECT_EQ(at("(-2) ^ 1e19"), (Lines{"scalar => +Inf"}));
  // Element-wise too: cpu (1, 5, 10) cubed.
  EXPECT_EQ(at("cpu_max ^ 3"),
            (Lines{R"({dev="a", site="s1"} => 1)", R"({dev="b", site="s1"} => 125)",
                   R"({dev="c", site="s2"} => 1000)"}));
}

TEST_F(OperatorsTest, TopkAndBottomk) {
  // Ordered by value, highest first; the full labels are kept.
  EXPECT_EQ(at("topk(2, cpu_max)"), (Lines{R"({__name__="cpu_max", dev="c", site="s2"} => 10)",
                                           R"({__name__="cpu_max", dev="b", site="s1"} => 5)"}));
  EXPECT_EQ(at("bottomk(1, cpu_max)"), (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 1)"}));
  // Per group, groups in order of first appearance.
  EXPECT_EQ(at("topk by (site) (1, cpu_max)"),
            (Lines{R"({__name__="cpu_max", dev="b", site="s1"} => 5)",
                   R"({__name__="cpu_max", dev="c", site="s2"} => 10)"}));
  EXPECT_EQ(at("topk(10, cpu_max)").size(), 3u);
  EXPECT_EQ(at("topk(2.9, cpu_max)").size(), 2u);  // truncated to 2
  EXPECT_EQ(at("topk(0, cpu_max)"), Lines{});
  EXPECT_EQ(error("topk(NaN, cpu_max)"), "Scalar value NaN overflows int64");
  EXPECT_EQ(error("topk(1e20, cpu_max)"), "Scalar value 1e+20 overflows int64");
  // The parameter may vary by step; topk in a range query keeps each step's members.
  testing::add_window(src_, Labels{{"__name__", "cpu"}, {"dev", "a"}, {"site", "s1"}}, kT + 10'000,
                      {50});
  EXPECT_EQ(q_.over("topk(1, cpu_max)", kT, kT + 10'000, 10'000),
            (Lines{R"({__name__="cpu_max", dev="a", site="s1"} => 50 @ 1700000010)",
                   R"({__name__="cpu_max", dev="c", site="s2"} => 10 @ 1700000000)"}));
}

TEST_F(OperatorsTest, QuantileStddevStdvarGroupAvg) {
  EXPECT_EQ(at("quantile(0.5, cpu_max)"), (Lines{"{} => 5"}));
  EXPECT_EQ(at("quantile(0.75, cpu_max)"), (Lines{"{} => 7.5"}));
  EXPECT_EQ(at("quantile(-1, cpu_max)"), (Lines{"{} => -Inf"}));
  EXPECT_EQ(at("quantile by (site) (0, cpu_max)"),
            (Lines{R"({site="s1"} => 1)", R"({site="s2"} => 10)"}));
  const double mean = 16.0 / 3;
  const double var =
      ((1 - mean) * (1 - mean) + (5 - mean) * (5 - mean) + (10 - mean) * (10 - mean)) / 3;
  auto sd = q_.instant("stddev(cpu_max)", kT);
  ASSERT_TRUE(sd.ok());
  EXPECT_NEAR(sd->series.at(0).samples.at(0).value, std::sqrt(var), 1e-12);
  auto sv = q_.instant("stdvar(cpu_max)", kT);
  ASSERT_TRUE(sv.ok());
  EXPECT_NEAR(sv->series.at(0).samples.at(0).value, var, 1e-12);
  EXPECT_EQ(at("stddev by (dev) (cpu_max)").size(), 3u);
  EXPECT_EQ(at("stdvar by (dev) (cpu_max)")[0], R"({dev="a"} => 0)");
  EXPECT_EQ(at("group by (site) (cpu_max)"), (Lines{R"({site="s1"} => 1)", R"({site="s2"} => 1)"}));
  EXPECT_EQ(at("group(cpu)"), (Lines{"{} => 1"}));  // sketch-valued series too
  EXPECT_EQ(at("avg without (dev) (cpu_max)"),
            (Lines{R"({site="s1"} => 3)", R"({site="s2"} => 10)"}));
  EXPECT_EQ(at("avg(cpu_max > 100)"), Lines{});
}

TEST_F(OperatorsTest, CountValues) {
  EXPECT_EQ(at("count_values(\"v\", cpu_max)"),
            (Lines{R"({v="1"} => 1)", R"({v="10"} => 1)", R"({v="5"} => 1)"}));
  EXPECT_EQ(at("count_values by (site) (\"v\", cpu_max > 1)"),
            (Lines{R"({site="s1", v="5"} => 1)", R"({site="s2", v="10"} => 1)"}));
  EXPECT_EQ(at("count_values(\"v\", cpu_max * 0 + 7)"), (Lines{R"({v="7"} => 3)"}));
  // Go's FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent.
  EXPECT_EQ(at("count_values(\"v\", cpu_max{dev=\"a\"} / 3)"),
            (Lines{R"({v="0.3333333333333333"} => 1)"}));
  EXPECT_EQ(at("count_values(\"v\", cpu_max{dev=\"a\"} * 1e21)"),
            (Lines{R"({v="1000000000000000000000"} => 1)"}));
  EXPECT_EQ(at("count_values(\"v\", cpu_max{dev=\"a\"} / 0)"), (Lines{R"({v="+Inf"} => 1)"}));
  EXPECT_EQ(at("count_values without (dev) (\"value\", cpu_max)"),
            (Lines{R"({site="s1", value="1"} => 1)", R"({site="s1", value="5"} => 1)",
                   R"({site="s2", value="10"} => 1)"}));
  EXPECT_EQ(error("count_values(\"1x\", cpu_max)"), "invalid label name \"1x\"");
}

TEST_F(OperatorsTest, SketchAggregationsStayDefined) {
  EXPECT_NE(error("topk(1, cpu)").find("topk over sketch-valued series is not defined"),
            std::string::npos);
  EXPECT_EQ(code("cpu > 1"), StatusCode::kInvalidArgument);
  EXPECT_NE(error("cpu > 1").find("on sketch-valued series"), std::string::npos);
  EXPECT_NE(error("cpu or cpu_max").find("both sides must be of one kind"), std::string::npos);
}

// The issue's questions on the test fleet (query_test_data.h): per minute, how many devices had
// vibration above a threshold, and the devices with the most readings over a range.
TEST(OperatorsFleetTest, MotivatingQueries) {
  MemorySeriesSource src;
  testing::fill_fleet(src);
  testing::Queries q(src);
  const std::int64_t t0 = testing::kT0;
  const double threshold = 1000;
  // Expected: per minute (windows 0..5, then 6..11) the devices whose largest reading passed it.
  std::vector<std::string> want;
  for (int minute = 0; minute < 2; ++minute) {
    int devices = 0;
    for (int s = 1; s <= 2; ++s)
      for (int l = 1; l <= 2; ++l)
        for (int d = 1; d <= 2; ++d) {
          double max = -INFINITY;
          for (int w = minute * 6; w < minute * 6 + 6; ++w) {
            max = std::max(max, testing::make_window(s, l, d, w).max());
          }
          devices += max > threshold ? 1 : 0;
        }
    want.push_back(fmt::format("{{}} => {} @ {}", devices, (t0 + (minute + 1) * 60'000) / 1000));
  }
  EXPECT_EQ(q.over("count(vibration_max > 1000)", t0 + 60'000, t0 + 120'000, 60'000), want);
  EXPECT_NE(want[0], want[1]);  // the threshold separates the devices differently per minute

  // The 3 devices with the largest vibration sum over the last minute, largest first.
  const auto top =
      q.at("topk(3, sum by (device, line, site) (sum_over_time(vibration_sum[1m])))", t0 + 120'000);
  ASSERT_EQ(top.size(), 3u);
  std::multimap<double, std::string, std::greater<>> sums;
  for (int s = 1; s <= 2; ++s)
    for (int l = 1; l <= 2; ++l)
      for (int d = 1; d <= 2; ++d) {
        double sum = 0;
        for (int w = 6; w < 12; ++w) sum += testing::make_window(s, l, d, w).sum();
        sums.emplace(sum, labels_to_string(Labels{{"device", testing::numbered("d", d)},
                                                  {"line", testing::numbered("l", l)},
                                                  {"site", testing::numbered("s", s)}}));
      }
  auto it = sums.begin();
  for (std::size_t i = 0; i < 3; ++i, ++it) {
    EXPECT_EQ(top[i], fmt::format("{} => {}", it->second, it->first));
  }
}

}  // namespace
}  // namespace edgesketch::query
