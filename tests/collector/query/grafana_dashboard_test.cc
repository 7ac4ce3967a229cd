// Every query of the provisioned Grafana dashboard is in the PromQL subset the collector serves,
// and the datasource provisioning points Grafana's built-in Prometheus datasource at it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "edgesketch/query/promql_parser.h"

namespace edgesketch::query {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(GrafanaDashboardTest, EveryPanelQueryParses) {
  const auto dash = nlohmann::json::parse(
      slurp(ES_SOURCE_DIR "/packaging/grafana/dashboards/fleet-overview.json"));
  int queries = 0;
  for (const auto& panel : dash["panels"]) {
    EXPECT_EQ(panel["datasource"]["type"], "prometheus");
    for (const auto& target : panel["targets"]) {
      std::string expr = target["expr"];
      // Grafana substitutes its interval variable with a number before sending the query.
      for (auto pos = expr.find("$__interval_ms"); pos != std::string::npos;
           pos = expr.find("$__interval_ms")) {
        expr.replace(pos, 14, "10000");
      }
      auto parsed = parse_promql(expr);
      EXPECT_TRUE(parsed.ok()) << panel["title"] << ": " << expr << ": "
                               << parsed.status().to_string();
      ++queries;
    }
  }
  EXPECT_GE(queries, 7);
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
