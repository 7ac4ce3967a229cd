// The edge-processing stages over a ReadingBuffer, compacting it in place.
#include "process/edge_processor.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <set>

#include "window/rule.h"

namespace edgesketch::agent {
namespace {

bool same_tags(const std::vector<wire::Tag>& a, const std::vector<wire::Tag>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].value != b[i].value || a[i].key != b[i].key) return false;
  }
  return true;
}

bool contains(const std::vector<std::string>& keys, const std::string& key) {
  for (const std::string& k : keys) {
    if (k == key) return true;
  }
  return false;
}

}  // namespace

EdgeProcessor::~EdgeProcessor() = default;

Result<std::unique_ptr<EdgeProcessor>> EdgeProcessor::create(const ProcessingConfig& config) {
  std::optional<DeviceRegistry> registry;
  if (!config.enrich.registry.empty()) {
    RegistryLimits limits;
    limits.max_bytes = config.enrich.max_bytes;
    auto loaded = DeviceRegistry::load(config.enrich.registry, limits);
    if (!loaded.ok()) return loaded.status().with_context("[enrich] registry");
    registry = std::move(*loaded);
  }
  std::string key;
  if (!config.privacy.hash_tags.empty()) {
    if (config.privacy.hash_key_file.empty()) {
      return Status::invalid_argument("[privacy]: hash_tags needs hash_key_file");
    }
    auto read = read_hash_key(config.privacy.hash_key_file);
    if (!read.ok()) return read.status().with_context("[privacy]");
    key = std::move(*read);
  }
  return create(config, std::move(registry), std::move(key));
}

Result<std::unique_ptr<EdgeProcessor>> EdgeProcessor::create(const ProcessingConfig& config,
                                                             std::optional<DeviceRegistry> registry,
                                                             std::string hash_key) {
  std::unique_ptr<EdgeProcessor> p(new EdgeProcessor());
  p->enrich_config_ = config.enrich;
  p->registry_ = std::move(registry);
  if (p->registry_) p->stats_.registry_devices = p->registry_->devices();

  const PrivacyConfig& priv = config.privacy;
  std::set<std::string> seen;
  for (const auto* list : {&priv.drop_tags, &priv.hash_tags}) {
    for (const std::string& k : *list) {
      if (k.empty()) return Status::invalid_argument("[privacy]: an empty tag key");
      if (k == kDeviceTag) {
        return Status::invalid_argument(
            "[privacy]: 'device' is the device id, not a tag; it cannot be dropped or hashed");
      }
      if (!seen.insert(k).second) {
        return Status::invalid_argument("[privacy]: tag '" + k + "' is listed twice");
      }
    }
  }
  p->drop_ = priv.drop_tags;
  p->hash_ = priv.hash_tags;
  if (!p->hash_.empty()) {
    auto hasher = TagHasher::create(std::move(hash_key));
    if (!hasher.ok()) return hasher.status().with_context("[privacy]");
    p->hasher_ = std::move(*hasher);
    p->hash_cache_ = std::make_unique<std::array<CacheEntry, kHashCacheSize>>();
  }

  if (config.filters.size() > kMaxFilters) {
    return Status::invalid_argument("filters: " + std::to_string(config.filters.size()) +
                                    " [[filter]]s, at most " + std::to_string(kMaxFilters));
  }
  std::set<std::string> names;
  for (const FilterSpec& f : config.filters) {
    if (f.name.empty()) return Status::invalid_argument("filter: name is empty");
    if (!names.insert(f.name).second) {
      return Status::invalid_argument("filter '" + f.name + "': the name is used twice");
    }
    if (f.match.empty()) {
      return Status::invalid_argument("filter '" + f.name +
                                      "': match is empty (use \"*\" for every metric)");
    }
    CompiledFilter c;
    c.spec = f;
    if (!f.where.empty()) {
      auto where = Condition::compile(f.where);
      if (!where.ok()) {
        return Status::invalid_argument("filter '" + f.name +
                                        "' where: " + where.status().message());
      }
      c.where = std::move(*where);
    }
    p->filters_.push_back(std::move(c));
  }
  return p;
}

void EdgeProcessor::process(ReadingBuffer& readings) {
  const std::size_t n = readings.size();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    wire::Reading& r = readings[i];
    if ((registry_ || !drop_.empty() || !hash_.empty()) && !rewrite_tags(r)) continue;
    if (!filters_.empty() && filtered(r)) continue;
    // Swapping (not moving) keeps the dropped reading's storage in the buffer for reuse.
    if (kept != i) std::swap(readings[kept], r);
    ++kept;
  }
  readings.truncate(kept);
  stats_.readings += n;
  stats_.passed += kept;
}

bool EdgeProcessor::rewrite_tags(wire::Reading& r) {
  // Enrichment and privacy depend on the device and the tags only, and the readings of a
  // payload mostly share both: the previous answer is copied instead of worked out again.
  if (memo_.valid && r.device_id == memo_.device && same_tags(r.tags, memo_.in)) {
    stats_.unknown_dropped += memo_.delta.unknown_dropped;
    if (memo_.delta.unknown_dropped != 0) return false;
    stats_.enriched += memo_.delta.enriched;
    stats_.unknown_kept += memo_.delta.unknown_kept;
    stats_.dropped_tags += memo_.delta.dropped_tags;
    stats_.hashed_tags += memo_.delta.hashed_tags;
    r.tags = memo_.out;  // element-wise: the strings keep their storage
    return true;
  }
  memo_.device.assign(r.device_id);
  memo_.in = r.tags;
  const EdgeProcessorStats before = stats_;
  bool keep = true;
  if (registry_) keep = enrich(r);
  if (keep && (!drop_.empty() || !hash_.empty())) protect(r);
  memo_.delta.unknown_dropped = stats_.unknown_dropped - before.unknown_dropped;
  memo_.delta.enriched = stats_.enriched - before.enriched;
  memo_.delta.unknown_kept = stats_.unknown_kept - before.unknown_kept;
  memo_.delta.dropped_tags = stats_.dropped_tags - before.dropped_tags;
  memo_.delta.hashed_tags = stats_.hashed_tags - before.hashed_tags;
  memo_.out = r.tags;
  memo_.valid = true;
  return keep;
}

bool EdgeProcessor::enrich(wire::Reading& r) {
  // The readings of a payload mostly share one device.
  if (!have_last_device_ || r.device_id != last_device_) {
    last_row_ = registry_->find(r.device_id);
    last_device_.assign(r.device_id);
    have_last_device_ = true;
  }
  if (last_row_ == DeviceRegistry::kNoRow) {
    if (enrich_config_.unknown == UnknownDevice::kDrop) {
      ++stats_.unknown_dropped;
      return false;
    }
    ++stats_.unknown_kept;
    return true;
  }
  ++stats_.enriched;
  const std::span<const DeviceRegistry::Cell> cells = registry_->cells(last_row_);
  if (cells.empty()) return true;
  std::vector<wire::Tag>& tags = r.tags;
  // Both lists are sorted by key: count the registry tags the reading lacks, then merge from
  // the back so every tag moves at most once.
  std::size_t missing = 0;
  for (std::size_t c = 0, j = 0; c < cells.size(); ++c) {
    const std::string_view key = registry_->key(cells[c]);
    while (j < tags.size() && std::string_view(tags[j].key) < key) ++j;
    if (j == tags.size() || tags[j].key != key) ++missing;
  }
  if (missing == 0) return true;
  std::size_t i = tags.size();   // the reading's own tags still to place: [0, i)
  std::size_t c = cells.size();  // registry cells still to place: [0, c)
  tags.resize(tags.size() + missing);
  std::size_t w = tags.size();  // [w, end) is final
  while (w > i) {               // w == i: everything left is in place already
    const std::string_view key = registry_->key(cells[c - 1]);
    if (i > 0 && std::string_view(tags[i - 1].key) >= key) {
      // The reading's tag sorts last (or has the same key, and wins): place it.
      if (tags[i - 1].key == key) --c;
      tags[--w] = std::move(tags[--i]);
    } else {
      wire::Tag& t = tags[--w];
      t.key.assign(key);
      t.value.assign(registry_->value(cells[c - 1]));
      --c;
    }
  }
  return true;
}

void EdgeProcessor::protect(wire::Reading& r) {
  std::vector<wire::Tag>& tags = r.tags;
  if (!drop_.empty()) {
    std::size_t w = 0;
    for (std::size_t i = 0; i < tags.size(); ++i) {
      if (contains(drop_, tags[i].key)) {
        ++stats_.dropped_tags;
        continue;
      }
      if (w != i) std::swap(tags[w], tags[i]);
      ++w;
    }
    tags.resize(w);
  }
  if (!hash_.empty()) {
    for (wire::Tag& t : tags) {
      if (contains(hash_, t.key)) {
        hash_value(t.value);
        ++stats_.hashed_tags;
      }
    }
  }
}

void EdgeProcessor::hash_value(std::string& value) {
  const std::uint64_t h = XXH3_64bits(value.data(), value.size());
  CacheEntry& e = (*hash_cache_)[h & (kHashCacheSize - 1)];
  if (!e.used || e.hash != h || e.value != value) {
    e.used = true;
    e.hash = h;
    e.value.assign(value);
    hasher_->hash(value, e.hashed);
  }
  value.assign(e.hashed);
}

std::uint64_t EdgeProcessor::filters_for(const std::string& metric) {
  if (have_last_metric_ && metric == last_metric_) return last_mask_;
  std::uint64_t mask = 0;
  auto it = metric_filters_.find(metric);
  if (it != metric_filters_.end()) {
    mask = it->second;
  } else {
    for (std::size_t f = 0; f < filters_.size(); ++f) {
      if (metric_matches(filters_[f].spec.match, metric)) mask |= std::uint64_t{1} << f;
    }
    // Hostile or unbounded metric names: past the bound, match each time.
    if (metric_filters_.size() < kMaxCachedMetrics) metric_filters_.emplace(metric, mask);
  }
  last_metric_.assign(metric);
  last_mask_ = mask;
  have_last_metric_ = true;
  return mask;
}

bool EdgeProcessor::filtered(const wire::Reading& r) {
  for (std::uint64_t mask = filters_for(r.metric); mask != 0; mask &= mask - 1) {
    CompiledFilter& f = filters_[static_cast<std::size_t>(std::countr_zero(mask))];
    if (!f.where || f.where->matches(r)) {
      ++f.dropped;
      ++stats_.filtered;
      return true;
    }
  }
  return false;
}

void EdgeProcessor::inherit_counts(const EdgeProcessor& old) {
  const EdgeProcessorStats o = old.stats();
  stats_.readings += o.readings;
  stats_.passed += o.passed;
  stats_.enriched += o.enriched;
  stats_.unknown_kept += o.unknown_kept;
  stats_.unknown_dropped += o.unknown_dropped;
  stats_.dropped_tags += o.dropped_tags;
  stats_.hashed_tags += o.hashed_tags;
  stats_.filtered += o.filtered;
  for (const auto& entry : o.filtered_by) {
    const std::string& name = entry.first;
    const std::uint64_t count = entry.second;
    auto it = std::find_if(filters_.begin(), filters_.end(),
                           [&](const CompiledFilter& f) { return f.spec.name == name; });
    if (it != filters_.end()) {
      it->dropped += count;
    } else {
      retired_filters_[name] += count;
    }
  }
}

EdgeProcessorStats EdgeProcessor::stats() const {
  EdgeProcessorStats s = stats_;
  for (const CompiledFilter& f : filters_) s.filtered_by.emplace_back(f.spec.name, f.dropped);
  for (const auto& [name, count] : retired_filters_) s.filtered_by.emplace_back(name, count);
  return s;
}

}  // namespace edgesketch::agent
