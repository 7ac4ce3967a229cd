// Fuzz target for ExpHistogram's decoder: anything that decodes must re-encode to an equal sketch,
// answer quantiles, and merge through merge_serialized() exactly like through merge();
// validate() must give deserialize()'s answer (and the sketch's count, min, max and sum);
// from_parts() of a decoded sketch's parts builds it again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/sketch/exp_histogram.h"
#include "fuzz_check.h"

namespace {

using edgesketch::ByteSpan;
using edgesketch::sketch::ExpHistogram;

using edgesketch::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan bytes(data, size);
  auto decoded = ExpHistogram::deserialize(bytes);
  ExpHistogram::SerializedStats stats;
  const edgesketch::Status valid = ExpHistogram::validate(bytes, &stats);
  check(valid.ok() == decoded.ok());
  check(valid.ok() || valid.to_string() == decoded.status().to_string());
  if (decoded.ok()) {
    auto same = [](double a, double b) { return a == b || (a != a && b != b); };  // NaN == NaN
    check(stats.count == decoded->count() && same(stats.min, decoded->min()) &&
          same(stats.max, decoded->max()) && same(stats.sum, decoded->sum()));
  }

  // A fresh accumulator and one holding data: merge_serialized must agree with deserialize and
  // leave the accumulator unchanged when it fails.
  ExpHistogram fresh;
  ExpHistogram busy;
  for (int i = -20; i <= 20; ++i) busy.add(i * 0.37);
  const ExpHistogram busy_before = busy;
  const bool fresh_ok = fresh.merge_serialized(bytes).ok();
  const bool busy_ok = busy.merge_serialized(bytes).ok();
  check(fresh_ok == decoded.ok());
  if (!decoded.ok()) {
    check(fresh == ExpHistogram());
    check(busy == busy_before);
    return 0;
  }

  const ExpHistogram& h = *decoded;
  auto again = ExpHistogram::deserialize(h.serialize());
  check(again.ok() && *again == h);
  // from_parts() of its parts builds it again.
  auto rebuilt = ExpHistogram::from_parts(h.parts());
  check(rebuilt.ok() && *rebuilt == h && rebuilt->serialize() == h.serialize());
  ExpHistogram fresh_expected;
  check(fresh_expected.merge(h).ok());
  check(fresh == fresh_expected);
  for (double phi : {0.0, 0.001, 0.25, 0.5, 0.75, 0.99, 1.0}) {
    const double q = h.quantile(phi);
    check(h.count() == 0 || (q >= h.min() && q <= h.max()));
  }
  ExpHistogram expected = busy_before;
  const bool merge_ok = expected.merge(h).ok();
  check(merge_ok == busy_ok);
  check(expected == busy);
  return 0;
}
