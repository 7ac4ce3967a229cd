// What the config file says about edge processing before the rules ([enrich], [privacy],
// [[filter]]; docs/agent.md, "Edge processing"). Plain values, filled by the config loader and
// turned into an EdgeProcessor (process/edge_processor.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace edgesketch::agent {

// What happens to the readings of a device the registry does not list.
enum class UnknownDevice : std::uint8_t {
  kKeep,  // passed on without registry tags
  kDrop,  // dropped, counted
};

// [enrich]
struct EnrichConfig {
  // A CSV file with a header row and a `device` column; every other column is a tag added to
  // that device's readings. "" = no enrichment.
  std::string registry;
  UnknownDevice unknown = UnknownDevice::kKeep;
  // The registry file may not be larger (it is held in memory: two to three times its size).
  std::uint64_t max_bytes = 8u << 20;

  friend bool operator==(const EnrichConfig&, const EnrichConfig&) = default;
};

// [privacy]
struct PrivacyConfig {
  // Tag keys removed from every reading.
  std::vector<std::string> drop_tags;
  // Tag keys whose values are replaced by a keyed hash (process/tag_hasher.h).
  std::vector<std::string> hash_tags;
  // The secret key of the hash: a file of at least 16 bytes, not readable by others. Required
  // with hash_tags.
  std::string hash_key_file;

  friend bool operator==(const PrivacyConfig&, const PrivacyConfig&) = default;
};

enum class FilterAction : std::uint8_t { kDrop };

// [[filter]]
struct FilterSpec {
  // Names the filter in /metrics (edgesketch_agent_filtered_total{filter}); default "filter<i>".
  std::string name;
  // fnmatch(3) glob on the metric, as a rule's match.
  std::string match = "*";
  // A condition (process/condition.h); "" = every reading of a matching metric.
  std::string where;
  FilterAction action = FilterAction::kDrop;

  friend bool operator==(const FilterSpec&, const FilterSpec&) = default;
};

struct ProcessingConfig {
  EnrichConfig enrich;
  PrivacyConfig privacy;
  // In file order; the first filter that takes a reading drops it.
  std::vector<FilterSpec> filters;

  friend bool operator==(const ProcessingConfig&, const ProcessingConfig&) = default;
};

}  // namespace edgesketch::agent
