// Edge-processing series on /metrics: callbacks over the last published copy.
#include "app/edge_metrics.h"

namespace edgesketch::agent {

EdgeMetrics::EdgeMetrics(daemon::MetricsRegistry& metrics) : metrics_(metrics) {
  using S = EdgeProcessorStats;
  auto field = [this](std::uint64_t S::*f) { return [this, f] { return read(f); }; };
  metrics_.counter_fn("edgesketch_agent_enriched_total",
                      "Readings of devices the [enrich] registry lists (their tags added)", {},
                      field(&S::enriched));
  const std::string unknown_help = "Readings of devices the [enrich] registry does not list";
  metrics_.counter_fn("edgesketch_agent_enrich_unknown_total", unknown_help, {{"action", "keep"}},
                      field(&S::unknown_kept));
  metrics_.counter_fn("edgesketch_agent_enrich_unknown_total", unknown_help, {{"action", "drop"}},
                      field(&S::unknown_dropped));
  metrics_.gauge_fn("edgesketch_agent_enrich_registry_devices",
                    "Devices in the [enrich] registry in use (0 without one)", {},
                    field(&S::registry_devices));
  metrics_.counter_fn("edgesketch_agent_privacy_dropped_tags_total",
                      "Tags removed by [privacy] drop_tags", {}, field(&S::dropped_tags));
  metrics_.counter_fn("edgesketch_agent_privacy_hashed_tags_total",
                      "Tag values replaced by their keyed hash ([privacy] hash_tags)", {},
                      field(&S::hashed_tags));
  const std::string processed_help =
      "Readings through edge processing, by result (dropped: unknown device or a filter)";
  metrics_.counter_fn("edgesketch_agent_processed_readings_total", processed_help,
                      {{"result", "passed"}}, field(&S::passed));
  metrics_.counter_fn("edgesketch_agent_processed_readings_total", processed_help,
                      {{"result", "dropped"}}, [this] {
                        std::lock_guard lock(mu_);
                        return static_cast<double>(stats_.readings - stats_.passed);
                      });
}

double EdgeMetrics::read(std::uint64_t EdgeProcessorStats::*field) const {
  std::lock_guard lock(mu_);
  return static_cast<double>(stats_.*field);
}

void EdgeMetrics::publish(const EdgeProcessorStats& processing, const AggregatorStats& aggregator) {
  {
    std::lock_guard lock(mu_);
    stats_ = processing;
    for (const auto& [name, n] : processing.filtered_by) filtered_[name] = n;
    for (const auto& [name, n] : aggregator.where_skipped) where_skipped_[name] = n;
  }
  // Registering takes the registry's lock, which a scrape holds while it calls back into mu_:
  // never hold mu_ here.
  for (const auto& [name, n] : processing.filtered_by) {
    if (!filter_series_.insert(name).second) continue;
    metrics_.counter_fn("edgesketch_agent_filtered_total", "Readings a [[filter]] dropped",
                        {{"filter", name}}, [this, name = name] {
                          std::lock_guard lock(mu_);
                          return static_cast<double>(filtered_[name]);
                        });
  }
  for (const auto& [name, n] : aggregator.where_skipped) {
    if (!rule_series_.insert(name).second) continue;
    metrics_.counter_fn("edgesketch_agent_rule_where_skipped_total",
                        "Readings of a rule's metrics its where condition refused",
                        {{"rule", name}}, [this, name = name] {
                          std::lock_guard lock(mu_);
                          return static_cast<double>(where_skipped_[name]);
                        });
  }
}

}  // namespace edgesketch::agent
