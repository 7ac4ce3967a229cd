// Label set helpers.
#include "edgesketch/query/labels.h"

#include <algorithm>

namespace edgesketch::query {

void sort_labels(Labels& labels) {
  std::stable_sort(labels.begin(), labels.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  Labels out;
  out.reserve(labels.size());
  for (auto& l : labels) {
    if (!out.empty() && out.back().name == l.name) {
      out.back().value = std::move(l.value);
    } else {
      out.push_back(std::move(l));
    }
  }
  std::erase_if(out, [](const Label& l) { return l.value.empty(); });
  labels = std::move(out);
}

std::string_view label_value(const Labels& labels, std::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels.end() && it->name == name) return it->value;
  return {};
}

void set_label(Labels& labels, std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  const bool found = it != labels.end() && it->name == name;
  if (value.empty()) {
    if (found) labels.erase(it);
    return;
  }
  if (found) {
    it->value = std::string(value);
  } else {
    labels.insert(it, Label{std::string(name), std::string(value)});
  }
}

namespace {
bool contains(const std::vector<std::string>& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}
}  // namespace

Labels keep_labels(const Labels& labels, const std::vector<std::string>& names) {
  Labels out;
  for (const auto& l : labels) {
    if (contains(names, l.name)) out.push_back(l);
  }
  return out;
}

Labels drop_labels(const Labels& labels, const std::vector<std::string>& names) {
  Labels out;
  for (const auto& l : labels) {
    if (!contains(names, l.name)) out.push_back(l);
  }
  return out;
}

Labels drop_metric_name(const Labels& labels) {
  Labels out;
  out.reserve(labels.size());
  for (const auto& l : labels) {
    if (l.name != kMetricNameLabel) out.push_back(l);
  }
  return out;
}

std::string labels_key(const Labels& labels) {
  std::string key;
  for (const auto& l : labels) {
    key += l.name;
    key += '\xff';
    key += l.value;
    key += '\xfe';
  }
  return key;
}

std::string labels_to_string(const Labels& labels) {
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ", ";
    out += labels[i].name;
    out += "=\"";
    for (char c : labels[i].value) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

namespace {
bool is_name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}
bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}
}  // namespace

bool is_valid_label_name(std::string_view name) { return valid_name(name, false); }
bool is_valid_metric_name(std::string_view name) { return valid_name(name, true); }

}  // namespace edgesketch::query
