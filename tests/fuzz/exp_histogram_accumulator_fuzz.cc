// Fuzz target for ExpHistogramAccumulator (the collector's scans, rollups and part merges decode
// stored histograms through it): it rejects exactly what ExpHistogram::deserialize() rejects,
// with the same error, a rejected input leaves the accumulator unchanged, a merge equals the
// sketch's merge byte for byte, and quantile() / quantile_of() answer the sketch's quantiles bit
// for bit; to_histogram() and add() of an object agree with the bytes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/sketch/exp_histogram.h"
#include "edgesketch/sketch/exp_histogram_accumulator.h"
#include "fuzz_check.h"

namespace {

using edgesketch::Bytes;
using edgesketch::ByteSpan;
using edgesketch::sketch::ExpHistogram;
using edgesketch::sketch::ExpHistogramAccumulator;

using edgesketch::fuzz::check;

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan bytes(data, size);
  auto decoded = ExpHistogram::deserialize(bytes);

  ExpHistogram base;
  for (int i = -20; i <= 20; ++i) base.add(i * 0.37);
  const Bytes base_bytes = base.serialize();
  ExpHistogramAccumulator::Scratch scratch;
  ExpHistogramAccumulator busy;
  check(busy.add(base_bytes, scratch).ok());
  Bytes before;
  busy.serialize(before);

  const edgesketch::Status added = busy.add(bytes, scratch);
  const bool ok = added.ok();
  auto q = ExpHistogramAccumulator::quantile_of(bytes, 0.9, scratch);
  check(q.ok() == decoded.ok());
  if (!decoded.ok()) {
    check(!ok && added.to_string() == decoded.status().to_string());
    check(q.status().to_string() == decoded.status().to_string());
    Bytes after;
    busy.serialize(after);
    check(after == before);
    return 0;
  }
  const ExpHistogram& h = *decoded;
  check(same(*q, h.quantile(0.9)));

  ExpHistogramAccumulator fresh;
  check(fresh.add(bytes, scratch).ok());
  for (double phi : {0.0, 0.001, 0.5, 0.99, 1.0}) check(same(fresh.quantile(phi), h.quantile(phi)));

  ExpHistogram expected = base;
  const bool merge_ok = expected.merge(h).ok();
  check(merge_ok == ok);
  if (ok) {
    Bytes got;
    busy.serialize(got);
    check(got == expected.serialize());
    check(same(busy.quantile(0.5), expected.quantile(0.5)));
    // The object path: to_histogram() is the decoded merge, add() of an object merges like its
    // bytes.
    auto built = busy.to_histogram();
    check(built.ok() && *built == expected && built->serialize() == got);
    ExpHistogramAccumulator by_object;
    check(by_object.add(base).ok() && by_object.add(h).ok());
    Bytes via_object;
    by_object.serialize(via_object);
    check(via_object == got);
  }
  return 0;
}
