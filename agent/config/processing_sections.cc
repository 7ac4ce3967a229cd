// [enrich], [privacy], [[filter]] and the rule conditions, read strictly like the other sections.
#include "config/processing_sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "edgesketch/wire/limits.h"
#include "process/condition.h"
#include "process/edge_processor.h"

namespace edgesketch::agent {
namespace {

using config::TomlTable;

void read_enrich(TomlTable t, EnrichConfig& e) {
  e.registry = t.string("registry", e.registry);
  const std::string unknown = t.string("unknown", "keep");
  if (unknown == "keep") {
    e.unknown = UnknownDevice::kKeep;
  } else if (unknown == "drop") {
    e.unknown = UnknownDevice::kDrop;
  } else {
    t.error("unknown", fmt::format("must be \"keep\" or \"drop\", not \"{}\"", unknown));
  }
  e.max_bytes = t.bytes("max_bytes", e.max_bytes, 1, std::uint64_t{1} << 30);
  t.finish();
}

void read_privacy(TomlTable t, PrivacyConfig& p) {
  p.drop_tags = t.strings("drop_tags", p.drop_tags);
  p.hash_tags = t.strings("hash_tags", p.hash_tags);
  p.hash_key_file = t.string("hash_key_file", p.hash_key_file);
  std::set<std::string> seen;
  for (const char* key : {"drop_tags", "hash_tags"}) {
    for (const std::string& k : std::string_view(key) == "drop_tags" ? p.drop_tags : p.hash_tags) {
      if (k.empty()) t.error(key, "holds an empty tag key");
      if (k == kDeviceTag) {
        t.error(key, "'device' is the device id, not a tag; it cannot be dropped or hashed");
      }
      if (!seen.insert(k).second) t.error(key, fmt::format("tag '{}' is listed twice", k));
    }
  }
  if (!p.hash_tags.empty() && p.hash_key_file.empty()) {
    t.error("hash_key_file", "is required with hash_tags (a file holding the secret key)");
  }
  t.finish();
}

// A `where` that compiles and reads no tag [privacy] removes before it runs.
void check_where(TomlTable& t, std::string_view what, const std::string& where,
                 const PrivacyConfig& privacy) {
  auto c = Condition::compile(where);
  if (!c.ok()) {
    t.error("where", fmt::format("{}: {}", what, c.status().message()));
    return;
  }
  for (const std::string& key : c->tag_keys()) {
    if (std::find(privacy.drop_tags.begin(), privacy.drop_tags.end(), key) !=
        privacy.drop_tags.end()) {
      t.error("where", fmt::format("{}: tag '{}' is removed by [privacy] drop_tags before this "
                                   "condition runs",
                                   what, key));
    }
  }
}

void read_filter(TomlTable t, std::size_t index, const PrivacyConfig& privacy, FilterSpec& f) {
  f.name = t.string("name", fmt::format("filter{}", index));
  f.match = t.string("match", f.match);
  f.where = t.string("where", f.where);
  const std::string action = t.string("action", "drop");
  if (action != "drop") {
    t.error("action", fmt::format("must be \"drop\", not \"{}\"", action));
  }
  if (f.name.empty()) t.error("name", "may not be empty");
  if (f.match.empty()) t.error("match", "is empty (use \"*\" for every metric)");
  if (!f.where.empty()) check_where(t, fmt::format("filter '{}'", f.name), f.where, privacy);
  t.finish();
}

}  // namespace

void read_processing_sections(TomlTable& root, ProcessingConfig& out) {
  read_enrich(root.table("enrich"), out.enrich);
  read_privacy(root.table("privacy"), out.privacy);
  std::vector<TomlTable> filters = root.tables("filter");
  if (filters.size() > kMaxFilters) {
    root.error("filter", fmt::format("{} [[filter]]s, at most {}", filters.size(), kMaxFilters));
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < filters.size(); ++i) {
    out.filters.emplace_back();
    read_filter(filters[i], i, out.privacy, out.filters.back());
    if (!names.insert(out.filters.back().name).second) {
      filters[i].error("name",
                       fmt::format("filter '{}': the name is used twice", out.filters.back().name));
    }
  }
}

void check_rule_where(TomlTable& rule_table, const RuleSpec& rule,
                      const ProcessingConfig& processing) {
  if (rule.where.empty()) return;
  check_where(rule_table, fmt::format("rule '{}'", rule.name), rule.where, processing.privacy);
}

}  // namespace edgesketch::agent
