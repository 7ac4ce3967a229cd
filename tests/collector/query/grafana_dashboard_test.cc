// Every query of the provisioned Grafana dashboard is in the PromQL subset the collector serves
// and evaluates, and the datasource provisioning points Grafana's built-in Prometheus datasource
// at it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "collector/query_test_data.h"
#include "edgesketch/query/promql_parser.h"
#include "edgesketch/query/query_engine.h"

namespace edgesketch::query {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fleet with the series the dashboard reads: the per-device `vibration` of the test fleet and
// the per-line rule's `vibration_by_line` (the merge of each line's devices).
void fill_dashboard_fleet(MemorySeriesSource& src) {
  testing::fill_fleet(src);
  for (int s = 1; s <= 2; ++s) {
    for (int l = 1; l <= 2; ++l) {
      for (int w = 0; w < testing::kWindows; ++w) {
        sketch::WindowAggregate line = testing::make_window(s, l, 1, w);
        ASSERT_TRUE(line.merge(testing::make_window(s, l, 2, w)).ok());
        const Labels labels{{"__name__", "vibration_by_line"},
                            {"line", testing::numbered("l", l)},
                            {"site", testing::numbered("s", s)}};
        ASSERT_TRUE(
            src.add("acme", labels, testing::kT0 + w * testing::kWindowMs, testing::kWindowMs, line)
                .ok());
      }
    }
  }
}

// Every panel's query parses and evaluates as the range query Grafana sends; the heatmap's
// returns native histograms.
TEST(GrafanaDashboardTest, EveryPanelQueryParsesAndEvaluates) {
  const auto dash = nlohmann::json::parse(
      slurp(ES_SOURCE_DIR "/packaging/grafana/dashboards/fleet-overview.json"));
  MemorySeriesSource source;
  fill_dashboard_fleet(source);
  const QueryEngine engine(source);
  constexpr std::int64_t kStep = 60'000;
  int queries = 0, heatmaps = 0;
  for (const auto& panel : dash["panels"]) {
    EXPECT_EQ(panel["datasource"]["type"], "prometheus");
    for (const auto& target : panel["targets"]) {
      std::string expr = target["expr"];
      // Grafana substitutes its interval variable with a number before sending the query.
      for (auto pos = expr.find("$__interval_ms"); pos != std::string::npos;
           pos = expr.find("$__interval_ms")) {
        expr.replace(pos, 14, std::to_string(kStep));
      }
      auto parsed = parse_promql(expr);
      ASSERT_TRUE(parsed.ok()) << panel["title"] << ": " << expr << ": "
                               << parsed.status().to_string();
      auto r = engine.range("acme", **parsed, testing::kT0, testing::kT0 + 2 * kStep, kStep, {});
      ASSERT_TRUE(r.ok()) << panel["title"] << ": " << expr << ": " << r.status().to_string();
      if (panel["type"] == "heatmap") {
        ++heatmaps;
        ASSERT_EQ(r->series.size(), 1u) << expr;
        EXPECT_EQ(r->series[0].histograms.size(), 2u) << expr;
      }
      ++queries;
    }
  }
  EXPECT_GE(queries, 8);
  EXPECT_EQ(heatmaps, 1);
}

// issue 6: the fleet overview shows the agents' outbox backlog, from the series every agent ships
// about itself (docs/agent.md, "Self-metrics as series").
TEST(GrafanaDashboardTest, AgentOutboxBacklogPanelReadsTheSelfSeries) {
  const auto dash = nlohmann::json::parse(
      slurp(ES_SOURCE_DIR "/packaging/grafana/dashboards/fleet-overview.json"));
  bool rows = false, age = false;
  for (const auto& panel : dash["panels"]) {
    if (panel["title"] != "Agent outbox backlog") continue;
    for (const auto& target : panel["targets"]) {
      const std::string expr = target["expr"];
      rows |= expr == "max by (gateway) (edgesketch_agent_outbox_rows_max)";
      age |= expr == "max by (gateway) (edgesketch_agent_outbox_oldest_age_seconds_max)";
    }
  }
  EXPECT_TRUE(rows);
  EXPECT_TRUE(age);
}

TEST(GrafanaDashboardTest, DatasourceIsThePrometheusTypeWithABearerToken) {
  const std::string ds =
      slurp(ES_SOURCE_DIR "/packaging/grafana/provisioning/datasources/edgesketch.yaml");
  EXPECT_NE(ds.find("type: prometheus"), std::string::npos);
  EXPECT_NE(ds.find("url: http://127.0.0.1:9780"), std::string::npos);
  EXPECT_NE(ds.find("httpHeaderValue1: Bearer "), std::string::npos);
}

}  // namespace
}  // namespace edgesketch::query
