// EdgeProcessor: what happens to parsed readings before the rules see them (docs/agent.md,
// "Edge processing"), in this order:
//
//   1. enrich   the device registry's tags are added to the readings of listed devices (a tag
//               the reading has keeps its value); readings of unlisted devices are kept as they
//               are or dropped ([enrich] unknown);
//   2. privacy  drop_tags are removed, the values of hash_tags replaced by their keyed hash
//               (process/tag_hasher.h);
//   3. filters  the first [[filter]] whose glob matches the metric and whose `where` holds drops
//               the reading.
//
// Then the aggregator's rules run (with their own `where`). The agent runs it on the aggregator
// thread for every chunk taken off a ring and for every payload replayed from the journal, so
// what reaches the windows, the outbox and the uplink is processed whichever way it came.
//
// Cost: enrichment and privacy depend on the device and the tags only, so a reading with the
// device and tags of the one before (a payload's readings, mostly) gets that one's result copied:
// a comparison and a copy of the tags. Otherwise: a registry lookup (binary search), a merge of
// sorted tags, a few string comparisons; hashing goes through a 4,096-entry cache of recent
// values, so a recurring value costs one XXH3 and a comparison, not an HMAC. Filters cost a
// cached glob answer per metric and their conditions. Without any stage configured, process()
// only counts.
//
// Thread safety: not thread-safe; one thread calls process(). stats() returns a copy.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "edgesketch/common/status.h"
#include "input/payload_parser.h"
#include "process/condition.h"
#include "process/device_registry.h"
#include "process/processing_config.h"
#include "process/tag_hasher.h"

namespace edgesketch::agent {

// At most this many [[filter]]s (each metric's matching filters are one 64-bit mask).
inline constexpr std::size_t kMaxFilters = 64;

// Counters since create() (plus those inherit_counts() took over).
struct EdgeProcessorStats {
  std::uint64_t readings = 0;         // handed to process()
  std::uint64_t passed = 0;           // left for the rules
  std::uint64_t enriched = 0;         // readings of devices the registry lists
  std::uint64_t unknown_kept = 0;     // readings of unlisted devices, kept
  std::uint64_t unknown_dropped = 0;  // readings of unlisted devices, dropped
  std::uint64_t dropped_tags = 0;     // tags removed (drop_tags)
  std::uint64_t hashed_tags = 0;      // tag values replaced by their hash (hash_tags)
  std::uint64_t filtered = 0;         // readings the filters dropped
  // Readings each filter dropped, by name: the current filters in config order, then filters of
  // earlier configurations (SIGHUP) that are gone.
  std::vector<std::pair<std::string, std::uint64_t>> filtered_by;
  std::uint64_t registry_devices = 0;  // gauge: devices in the registry in use
};

class EdgeProcessor {
 public:
  // Loads the registry file ([enrich] registry) and the key file ([privacy] hash_key_file) and
  // compiles the filters. kInvalidArgument / kNotFound / kIoError naming the section and file
  // (the registry's errors carry its line numbers).
  static Result<std::unique_ptr<EdgeProcessor>> create(const ProcessingConfig& config);
  // The same with the registry and the key given (config.enrich.registry and
  // config.privacy.hash_key_file are not read): a registry enables enrichment, a key is required
  // with hash_tags.
  static Result<std::unique_ptr<EdgeProcessor>> create(const ProcessingConfig& config,
                                                       std::optional<DeviceRegistry> registry,
                                                       std::string hash_key);
  ~EdgeProcessor();
  EdgeProcessor(const EdgeProcessor&) = delete;
  EdgeProcessor& operator=(const EdgeProcessor&) = delete;

  // Runs the stages over the readings in place; what they drop is removed (the buffer keeps its
  // slots for reuse), the order of the rest is kept.
  void process(ReadingBuffer& readings);

  // SIGHUP: this processor replaces `old`; takes over its counts (filters by name) so the
  // counters on /metrics keep rising.
  void inherit_counts(const EdgeProcessor& old);

  EdgeProcessorStats stats() const;
  // Some tag is dropped or hashed: messages about payloads must not quote them.
  bool hides_tags() const { return !drop_.empty() || !hash_.empty(); }

 private:
  struct CompiledFilter {
    FilterSpec spec;
    std::optional<Condition> where;
    std::uint64_t dropped = 0;
  };
  struct CacheEntry {
    std::uint64_t hash = 0;
    bool used = false;
    std::string value;
    std::string hashed;
  };
  static constexpr std::size_t kHashCacheSize = 4096;
  static constexpr std::size_t kMaxCachedMetrics = 4096;

  EdgeProcessor() = default;
  // Enrichment and privacy (through memo_); false when the reading is dropped.
  bool rewrite_tags(wire::Reading& r);
  // False when the reading is dropped (an unlisted device with unknown = "drop").
  bool enrich(wire::Reading& r);
  void protect(wire::Reading& r);
  void hash_value(std::string& value);
  // True when a filter drops the reading.
  bool filtered(const wire::Reading& r);
  std::uint64_t filters_for(const std::string& metric);

  EnrichConfig enrich_config_;
  std::optional<DeviceRegistry> registry_;
  std::string last_device_;
  std::uint32_t last_row_ = DeviceRegistry::kNoRow;
  bool have_last_device_ = false;

  std::vector<std::string> drop_;
  std::vector<std::string> hash_;
  std::optional<TagHasher> hasher_;
  std::unique_ptr<std::array<CacheEntry, kHashCacheSize>> hash_cache_;

  // The last reading rewrite_tags() worked out: its device and tags, the tags it left, and
  // what it counted (EdgeProcessorStats fields; `delta.unknown_dropped` != 0: it was dropped).
  struct Memo {
    bool valid = false;
    std::string device;
    std::vector<wire::Tag> in;
    std::vector<wire::Tag> out;
    EdgeProcessorStats delta;
  };
  Memo memo_;

  std::vector<CompiledFilter> filters_;
  std::unordered_map<std::string, std::uint64_t> metric_filters_;
  std::string last_metric_;
  std::uint64_t last_mask_ = 0;
  bool have_last_metric_ = false;

  EdgeProcessorStats stats_;                              // filtered_by is built by stats()
  std::map<std::string, std::uint64_t> retired_filters_;  // counts of filters no longer present
};

}  // namespace edgesketch::agent
