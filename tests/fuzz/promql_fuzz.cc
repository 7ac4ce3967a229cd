// Fuzz target for the PromQL parser and the evaluator: any text either fails to parse with
// kInvalidArgument and a "line:col: parse error" message, or parses to an expression whose
// canonical text parses again to the same canonical text; a parsed expression evaluates over a
// small in-memory source without crashing, within the query limits, as an instant query and as
// range queries (steps of 10 s and 20 s, so that ranges, subqueries, offsets and @ meet both
// aligned and unaligned steps), and fails only with the errors the engine documents: never
// kInternal. tests/fuzz/promql_fuzz.dict lists the grammar's tokens.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgesketch/query/memory_series_source.h"
#include "edgesketch/query/promql_parser.h"
#include "edgesketch/query/query_engine.h"
#include "edgesketch/sketch/hash.h"

using namespace edgesketch;

namespace {

query::MemorySeriesSource& source() {
  static query::MemorySeriesSource* src = [] {
    auto* s = new query::MemorySeriesSource();
    sketch::AggregateSpec spec;
    spec.quantiles = spec.distinct = spec.topk = true;
    for (int site = 0; site < 2; ++site) {
      for (int w = 0; w < 6; ++w) {
        sketch::WindowAggregate agg(spec);
        agg.add_value(site + w * 0.5);
        agg.add_distinct(sketch::hash_key("k"));
        agg.add_top(sketch::hash_key("E1"), "E1");
        query::Labels l{{"__name__", "m"}, {"site", site ? "b" : "a"}};
        if (!s->add("t", l, 1'000'000 + w * 10'000, 10'000, agg).ok()) std::abort();
      }
    }
    return s;
  }();
  return *src;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = query::parse_promql(text);
  if (!e.ok()) {
    if (e.status().code() != StatusCode::kInvalidArgument) std::abort();
    if (e.status().message().find(": parse error: ") == std::string::npos) std::abort();
    return 0;
  }
  const std::string canon = query::to_string(**e);
  auto again = query::parse_promql(canon);
  if (!again.ok() || query::to_string(**again) != canon) std::abort();

  query::QueryEngine engine(source());
  const query::QueryLimits limits{100, 100'000};
  auto documented = [](const Status& st) {
    return st.ok() || st.code() == StatusCode::kInvalidArgument ||
           st.code() == StatusCode::kFailedPrecondition ||
           st.code() == StatusCode::kResourceExhausted;
  };
  if (!documented(engine.instant("t", **e, 1'050'000, limits).status())) std::abort();
  if (!documented(engine.range("t", **e, 1'000'000, 1'060'000, 20'000, limits).status())) {
    std::abort();
  }
  if (!documented(engine.range("t", **e, 1'010'000, 1'070'000, 10'000, limits).status())) {
    std::abort();
  }
  return 0;
}
