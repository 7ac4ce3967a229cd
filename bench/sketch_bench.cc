// The `sketch` suite: one JSON object with the figures of every sketch.
#include <string_view>

#include "bench.h"

namespace edgesketch::bench {

nlohmann::json run_sketch_bench(const BenchOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  const auto runs = [&](std::string_view part) {
    return options.only.empty() || options.only == part;
  };
  if (runs("hist")) add_histogram_figures(options, out);
  if (runs("hll")) add_hll_figures(options, out);
  if (runs("topk")) add_topk_figures(options, out);
  if (runs("wire")) add_wire_figures(options, out);
  return out;
}

}  // namespace edgesketch::bench
