// Rule validation and glob matching.
#include "window/rule.h"

#include <fnmatch.h>

#include <set>

#include "edgesketch/sketch/topk.h"
#include "process/condition.h"

namespace edgesketch::agent {

RuleSpec default_rule() {
  // Designated initializers: assigning to the defaulted strings trips a GCC 12 -Wrestrict false
  // positive.
  return RuleSpec{.name = std::string("default"),
                  .match = std::string("*"),
                  .group_by = {std::string(kDeviceTag)},
                  .quantiles = true};
}

Status validate_rule(const RuleSpec& rule, const wire::Limits& limits) {
  auto bad = [&](const std::string& what) {
    return Status::invalid_argument("rule '" + rule.name + "': " + what);
  };
  if (rule.name.empty()) return Status::invalid_argument("rule: name is empty");
  if (rule.match.empty()) return bad("match is empty (use \"*\" for every metric)");
  if (rule.window_ms < limits.min_window_ms) {
    return bad("window_ms " + std::to_string(rule.window_ms) + " is below the minimum " +
               std::to_string(limits.min_window_ms));
  }
  if (rule.window_ms > limits.max_window_ms || limits.max_window_ms % rule.window_ms != 0) {
    return bad("window_ms " + std::to_string(rule.window_ms) + " does not divide " +
               std::to_string(limits.max_window_ms) + " (pick 1s, 5s, 10s, 15s, 30s, 1m, ...)");
  }
  if (rule.group_by.size() > limits.max_tags) {
    return bad("group_by has " + std::to_string(rule.group_by.size()) + " keys, at most " +
               std::to_string(limits.max_tags));
  }
  for (const std::string& k : rule.group_by) {
    if (k.empty()) return bad("group_by holds an empty tag key");
    if (k.size() > limits.max_name_bytes) return bad("group_by key '" + k + "' is too long");
  }
  if (rule.output.size() > limits.max_name_bytes)
    return bad("output '" + rule.output + "' is too long");
  for (char c : rule.output) {
    if (c == '{' || c == '}' || c == ',' || c == '=' || c == '"' ||
        static_cast<unsigned char>(c) < 0x20) {
      return bad("output '" + rule.output + "' holds a character not allowed in a metric name");
    }
  }
  for (const std::string* subject : {&rule.distinct, &rule.topk}) {
    if (subject->size() > limits.max_name_bytes) return bad("'" + *subject + "' is too long");
  }
  if (!rule.topk.empty() && (rule.topk_slots < 1 || rule.topk_slots > sketch::kTopKMaxCapacity)) {
    return bad("topk_slots " + std::to_string(rule.topk_slots) + " is outside 1.." +
               std::to_string(sketch::kTopKMaxCapacity));
  }
  if (!rule.where.empty()) {
    auto where = Condition::compile(rule.where);
    if (!where.ok()) {
      return Status::invalid_argument("rule '" + rule.name +
                                      "' where: " + where.status().message());
    }
  }
  return Status();
}

Status validate_rules(const std::vector<RuleSpec>& rules, const wire::Limits& limits) {
  std::set<std::string> names;
  for (const RuleSpec& r : rules) {
    ES_RETURN_IF_ERROR(validate_rule(r, limits));
    if (!names.insert(r.name).second) {
      return Status::invalid_argument("rule '" + r.name + "': the name is used twice");
    }
  }
  return Status();
}

bool metric_matches(std::string_view glob, std::string_view metric) {
  std::string g(glob);
  std::string m(metric);
  return ::fnmatch(g.c_str(), m.c_str(), 0) == 0;
}

}  // namespace edgesketch::agent
