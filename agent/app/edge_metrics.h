// EdgeMetrics: the /metrics series of edge processing (EdgeProcessor) and of the rules' `where`
// conditions (docs/agent.md, "Edge processing"). The aggregator thread publishes a copy of the
// figures every ~500 ms; scrapes read the copy.
//
//   edgesketch_agent_enriched_total                      readings of devices the registry lists
//   edgesketch_agent_enrich_unknown_total{action}        readings of unlisted devices, keep|drop
//   edgesketch_agent_enrich_registry_devices             devices in the registry in use
//   edgesketch_agent_privacy_dropped_tags_total          tags removed (drop_tags)
//   edgesketch_agent_privacy_hashed_tags_total           tag values hashed (hash_tags)
//   edgesketch_agent_filtered_total{filter}              readings each [[filter]] dropped
//   edgesketch_agent_processed_readings_total{result}    readings through the stages: passed |
//                                                        dropped (unknown device or filter)
//   edgesketch_agent_rule_where_skipped_total{rule}      readings a rule's where refused
//
// Filters and rules are labelled by name; a name seen once keeps its series (and its count)
// after a SIGHUP removes it, so the counters never go back.
//
// Thread safety: publish() from one thread; the series callbacks from any (they take mu_).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "edgesketch/daemon/metrics.h"
#include "process/edge_processor.h"
#include "window/aggregator.h"

namespace edgesketch::agent {

class EdgeMetrics {
 public:
  // Registers the fixed series. `metrics` must outlive this object, and this object the
  // registry's scrapes (the callbacks point here).
  explicit EdgeMetrics(daemon::MetricsRegistry& metrics);
  EdgeMetrics(const EdgeMetrics&) = delete;
  EdgeMetrics& operator=(const EdgeMetrics&) = delete;

  // The latest figures; registers the series of filter and rule names seen for the first time.
  void publish(const EdgeProcessorStats& processing, const AggregatorStats& aggregator);

 private:
  double read(std::uint64_t EdgeProcessorStats::*field) const;

  daemon::MetricsRegistry& metrics_;
  mutable std::mutex mu_;  // guards stats_, filtered_, where_skipped_
  EdgeProcessorStats stats_;
  std::map<std::string, std::uint64_t> filtered_;
  std::map<std::string, std::uint64_t> where_skipped_;
  // Names whose series exist (the publishing thread's).
  std::set<std::string> filter_series_;
  std::set<std::string> rule_series_;
};

}  // namespace edgesketch::agent
