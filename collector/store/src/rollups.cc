// Label rollups (see rollups.h).
#include "rollups.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace edgesketch::store {

Result<std::vector<RollupSet>> make_rollup_sets(const std::vector<std::vector<std::string>>& sets) {
  std::vector<RollupSet> out;
  for (const auto& labels : sets) {
    RollupSet s;
    s.labels = labels;
    std::sort(s.labels.begin(), s.labels.end());
    s.labels.erase(std::unique(s.labels.begin(), s.labels.end()), s.labels.end());
    if (s.labels.empty())
      return Status::invalid_argument("store: a rollup needs at least one label");
    for (const auto& l : s.labels) {
      if (l.empty() || l.starts_with("__") || l.find(',') != std::string::npos ||
          l.find(' ') != std::string::npos) {
        return Status::invalid_argument("store: rollup label '" + l +
                                        "' is not a tag name (no '__' prefix, ',' or ' ')");
      }
      if (!s.name.empty()) s.name += ',';
      s.name += l;
    }
    if (std::any_of(out.begin(), out.end(), [&](const RollupSet& o) { return o.name == s.name; })) {
      return Status::invalid_argument("store: rollup [" + s.name + "] is configured twice");
    }
    out.push_back(std::move(s));
  }
  return out;
}

Status check_reserved_tags(std::span<const wire::WindowRecordView> records) {
  for (const auto& r : records) {
    for (const auto& t : r.tags) {
      if (t.key.starts_with("__")) {
        return Status::invalid_argument("record of '" + std::string(r.metric) + "': tag key '" +
                                        std::string(t.key) +
                                        "' is reserved (keys starting with '__') [reserved_tag]");
      }
    }
  }
  return Status();
}

Status expand_rollups(const std::vector<RollupSet>& sets,
                      std::span<const wire::WindowRecordView> records,
                      std::vector<wire::WindowRecord>& out) {
  if (sets.empty()) return Status();
  std::unordered_map<std::string, std::size_t> index;
  std::string key;
  std::vector<const wire::TagView*> group;
  for (std::size_t si = 0; si < sets.size(); ++si) {
    const RollupSet& set = sets[si];
    index.clear();
    for (const wire::WindowRecordView& r : records) {
      // The group: the set's labels the record has (tags are sorted by key, as are labels).
      group.clear();
      auto t = r.tags.begin();
      for (const std::string& l : set.labels) {
        while (t != r.tags.end() && t->key < l) ++t;
        if (t != r.tags.end() && t->key == l) group.push_back(&*t);
      }
      key.clear();
      key += r.metric;
      key += '\0';
      key += set.name;
      for (const wire::TagView* tag : group) {
        key += '\0';
        key += tag->key;
        key += '\0';
        key += tag->value;
      }
      key += '\x01';
      key += std::to_string(r.window_start_ms);
      key += '/';
      key += std::to_string(r.window_ms);
      key += r.delta ? 'd' : 'w';
      key += r.distinct_of;
      key += '\0';
      key += r.topk_of;
      auto [it, fresh] = index.try_emplace(key, out.size());
      if (!fresh) {
        wire::WindowRecord& into = out[it->second];
        if (r.distinct.empty() && r.topk.empty()) {
          if (into.agg.merge_serialized(r.count, r.sum, r.min, r.max, r.histogram).ok()) continue;
        } else {
          ES_ASSIGN_OR_RETURN(wire::WindowRecord decoded, wire::to_window_record(r));
          if (into.agg.merge(decoded.agg).ok()) continue;
        }
      }
      // New, or sketches that do not merge: a record of its own.
      ES_ASSIGN_OR_RETURN(wire::WindowRecord rr, wire::to_window_record(r));
      rr.key.tags.clear();
      rr.key.tags.push_back(wire::Tag{kRollupTag, set.name});
      for (const wire::TagView* tag : group) {
        rr.key.tags.push_back(wire::Tag{std::string(tag->key), std::string(tag->value)});
      }
      if (!fresh) it->second = out.size();
      out.push_back(std::move(rr));
    }
  }
  return Status();
}

Result<std::vector<std::pair<std::string, std::int64_t>>> read_rollup_state(
    env::Env& env, const std::string& path) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  if (!env.exists(path)) return out;
  ES_ASSIGN_OR_RETURN(Bytes bytes, env.read_file(path, 1u << 20));
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream l(line);
    std::string name;
    std::int64_t since = 0;
    if (!(l >> name >> since)) {
      return Status::corruption("store: " + path + ": bad line '" + line + "'");
    }
    out.emplace_back(std::move(name), since);
  }
  return out;
}

Status write_rollup_state(env::Env& env, const std::string& path,
                          const std::vector<RollupSet>& sets) {
  std::string text;
  for (const auto& s : sets) text += s.name + " " + std::to_string(s.since_ms) + "\n";
  return env.write_file_durable(
      path, ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

}  // namespace edgesketch::store
