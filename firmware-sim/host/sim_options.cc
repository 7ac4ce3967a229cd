// The standard fleet and the format names.
#include "sim_options.h"

namespace edgesketch::sim {

FleetOptions standard_fleet() { return FleetOptions{}; }

namespace {

struct NamedFormat {
  std::string_view name;
  SimFormat format;
};

constexpr NamedFormat kFormats[] = {
    {"nanopb", {PayloadFormat::kNanopb, false}},
    {"json", {PayloadFormat::kJson, false}},
    {"line", {PayloadFormat::kLine, false}},
    {"line-fields", {PayloadFormat::kLine, true}},
    {"json-fields", {PayloadFormat::kJsonFields, false}},
    {"value", {PayloadFormat::kValue, false}},
};

}  // namespace

std::string_view sim_format_name(SimFormat format) {
  for (const NamedFormat& f : kFormats) {
    if (f.format == format) return f.name;
  }
  return "unknown";
}

std::optional<SimFormat> parse_sim_format(std::string_view name) {
  for (const NamedFormat& f : kFormats) {
    if (f.name == name) return f.format;
  }
  return std::nullopt;
}

}  // namespace edgesketch::sim
