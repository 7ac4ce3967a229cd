#include "edgesketch/daemon/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

namespace edgesketch::daemon {
namespace {

TEST(MetricsRegistryTest, RendersTextFormatSortedWithHelpAndType) {
  MetricsRegistry m;
  m.counter("b_total", "Things counted", {{"reason", "x"}}).inc(3);
  m.counter("b_total", "Things counted", {{"reason", "a"}}).inc();
  m.gauge("a_bytes", "Bytes held").set(1.5);
  m.gauge_fn("c_age_seconds", "Age", {{"lane", "live"}}, [] { return 42.0; });
  EXPECT_EQ(m.render(),
            "# HELP a_bytes Bytes held\n# TYPE a_bytes gauge\na_bytes 1.5\n"
            "# HELP b_total Things counted\n# TYPE b_total counter\n"
            "b_total{reason=\"a\"} 1\nb_total{reason=\"x\"} 3\n"
            "# HELP c_age_seconds Age\n# TYPE c_age_seconds gauge\n"
            "c_age_seconds{lane=\"live\"} 42\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry m;
  Counter& a = m.counter("x_total", "x", {{"k", "v"}});
  Counter& b = m.counter("x_total", "x", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &m.counter("x_total", "x", {{"k", "w"}}));
}

TEST(MetricsRegistryTest, TypeClashIsAnError) {
  MetricsRegistry m;
  m.counter("x", "x");
  EXPECT_THROW(m.gauge("x", "x"), std::logic_error);
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndFormatsSpecialValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_metric_value(12345678.0), "12345678");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreCounted) {
  MetricsRegistry m;
  Counter& c = m.counter("n_total", "n");
  Gauge& g = m.gauge("g", "g");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        g.add(1);
        if (i % 1000 == 0) (void)m.render();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(g.value(), 40000.0);
}

}  // namespace
}  // namespace edgesketch::daemon
