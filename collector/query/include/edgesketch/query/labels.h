// Label sets of series as the query engine sees them: `__name__` holds the metric name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace edgesketch::query {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string name;
  std::string value;

  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

// Sorted by name, names unique, no empty values (an empty value means "label absent", as in
// Prometheus). Every Labels the engine returns obeys this; sort_labels() establishes it.
using Labels = std::vector<Label>;

// Sorts by name, keeps the last value of a repeated name, and drops empty values.
void sort_labels(Labels& labels);

// The value of `name`, or "" when absent.
std::string_view label_value(const Labels& labels, std::string_view name);

// Sets (or, with an empty value, removes) `name`, keeping the order.
void set_label(Labels& labels, std::string_view name, std::string_view value);

// Only the labels whose names are in `names`.
Labels keep_labels(const Labels& labels, const std::vector<std::string>& names);
// All labels except those in `names`.
Labels drop_labels(const Labels& labels, const std::vector<std::string>& names);
// All labels except `__name__`.
Labels drop_metric_name(const Labels& labels);

// An unambiguous byte string for hashing and equality ("name\xffvalue\xfe..."): equal keys iff
// equal label sets.
std::string labels_key(const Labels& labels);

// `{a="x", b="y"}` (Prometheus' notation), for error messages.
std::string labels_to_string(const Labels& labels);

// True when `name` is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*).
bool is_valid_label_name(std::string_view name);
// True when `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool is_valid_metric_name(std::string_view name);

}  // namespace edgesketch::query
