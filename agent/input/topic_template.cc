// Topic templates: parse once at config time, match every message's topic without allocating.
#include "input/topic_template.h"

#include <algorithm>

namespace edgesketch::agent {

Result<TopicTemplate> TopicTemplate::parse(std::string_view text, std::size_t max_tags) {
  auto bad = [&](std::string_view what) {
    return Status::invalid_argument("topic template \"" + std::string(text) +
                                    "\": " + std::string(what));
  };
  if (text.empty()) return bad("is empty");
  TopicTemplate t;
  t.text_ = std::string(text);
  std::size_t pos = 0;
  while (true) {
    const std::size_t slash = text.find('/', pos);
    const std::string_view level =
        text.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    Level l;
    if (level.empty()) return bad("has an empty level");
    if (level == "+") {
      l.kind = Kind::kAny;
    } else if (level.front() == '{' && level.back() == '}' && level.size() >= 2) {
      const std::string_view name = level.substr(1, level.size() - 2);
      if (name.empty()) return bad("has an empty placeholder \"{}\"");
      if (name.find_first_of("{}+#") != std::string_view::npos) {
        return bad("placeholder \"" + std::string(level) + "\" holds '{', '}', '+' or '#'");
      }
      l.kind = name == "device" ? Kind::kDevice : name == "metric" ? Kind::kMetric : Kind::kTag;
      l.text = std::string(name);
      for (const Level& other : t.levels_) {
        if (other.kind != Kind::kLiteral && other.kind != Kind::kAny && other.text == l.text) {
          return bad("names \"{" + l.text + "}\" twice");
        }
      }
    } else {
      if (level.find_first_of("{}+#") != std::string_view::npos) {
        return bad("level \"" + std::string(level) +
                   "\" mixes text with a placeholder or wildcard (a placeholder takes a whole "
                   "level; '#' is not supported)");
      }
      l.kind = Kind::kLiteral;
      l.text = std::string(level);
    }
    if (l.kind == Kind::kMetric) t.names_metric_ = true;
    if (l.kind == Kind::kTag) t.tag_levels_.push_back(t.levels_.size());
    t.levels_.push_back(std::move(l));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (t.levels_.size() > kMaxLevels) {
    return bad("has more than " + std::to_string(kMaxLevels) + " levels");
  }
  if (t.tag_levels_.size() > max_tags) {
    return bad("names " + std::to_string(t.tag_levels_.size()) + " tags, more than max_tags " +
               std::to_string(max_tags));
  }
  std::sort(t.tag_levels_.begin(), t.tag_levels_.end(),
            [&](std::size_t a, std::size_t b) { return t.levels_[a].text < t.levels_[b].text; });
  return t;
}

std::string TopicTemplate::filter() const {
  std::string f;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (i > 0) f.push_back('/');
    f += levels_[i].kind == Kind::kLiteral ? levels_[i].text : "+";
  }
  return f;
}

bool TopicTemplate::match(std::string_view topic, TopicFields& out) const {
  out.device = {};
  out.metric = {};
  out.tags.clear();
  if (levels_.empty()) return false;
  // Tag values by level index, filled in level order, emitted in name order afterwards.
  std::string_view values[kMaxLevels];
  std::size_t pos = 0;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (pos > topic.size()) return false;  // fewer levels than the template
    const std::size_t slash = topic.find('/', pos);
    const bool last = i + 1 == levels_.size();
    if (last != (slash == std::string_view::npos)) return false;
    const std::string_view level = topic.substr(pos, last ? std::string_view::npos : slash - pos);
    const Level& l = levels_[i];
    switch (l.kind) {
      case Kind::kLiteral:
        if (level != l.text) return false;
        break;
      case Kind::kAny:
        break;
      case Kind::kDevice:
        out.device = level;
        break;
      case Kind::kMetric:
        out.metric = level;
        break;
      case Kind::kTag:
        values[i] = level;
        break;
    }
    pos = last ? topic.size() + 1 : slash + 1;
  }
  for (std::size_t i : tag_levels_) out.tags.push_back(TopicTag{levels_[i].text, values[i]});
  return true;
}

}  // namespace edgesketch::agent
