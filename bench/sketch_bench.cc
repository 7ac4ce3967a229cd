// The `sketch` suite: one JSON object with the figures of every sketch.
#include "bench.h"

namespace edgesketch::bench {

nlohmann::json run_sketch_bench(const BenchOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  add_histogram_figures(options, out);
  add_hll_figures(options, out);
  add_topk_figures(options, out);
  add_wire_figures(options, out);
  return out;
}

}  // namespace edgesketch::bench
