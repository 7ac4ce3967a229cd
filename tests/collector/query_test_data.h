// A small deterministic fleet in a MemorySeriesSource, shared by the query and HTTP tests.
#pragma once

#include <cstdint>
#include <string>

#include "edgesketch/query/memory_series_source.h"
#include "edgesketch/sketch/hash.h"
#include "edgesketch/sketch/window_aggregate.h"

namespace edgesketch::query::testing {

// A multiple of 60 s.
inline constexpr std::int64_t kT0 = 1'699'999'980'000;
inline constexpr std::int64_t kWindowMs = 10'000;
inline constexpr int kWindows = 12;  // windows start at kT0 + w * 10 s, w = 0..11

// prefix + decimal n (avoids GCC 12's false -Wrestrict on "literal" + std::string).
inline std::string numbered(const char* prefix, int n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

inline sketch::AggregateSpec full_spec() {
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  spec.distinct = true;
  spec.topk = true;
  return spec;
}

// The window w of device (site, line, device): 5 values, distinct keys and top-K codes.
inline sketch::WindowAggregate make_window(int site, int line, int device, int w) {
  sketch::WindowAggregate agg(full_spec());
  for (int i = 0; i < 5; ++i) {
    agg.add_value((site * 100 + line * 10 + device) * (w + 1) * 1.5 + i * 0.25);
    const std::string key = numbered("k", (site * 7 + device * 3 + w * 5 + i) % 40);
    agg.add_distinct(sketch::hash_key(key));
    const std::string code = numbered("E", (w + i + site) % 3);
    agg.add_top(sketch::hash_key(code), code);
  }
  return agg;
}

inline Labels device_labels(int site, int line, int device) {
  return Labels{{"__name__", "vibration"},
                {"device", numbered("d", device)},
                {"line", numbered("l", line)},
                {"site", numbered("s", site)}};
}

// Tenant "acme": vibration for sites 1..2, lines 1..2, devices 1..2, kWindows windows.
// Tenant "other": one series `secret` with count 1 per window.
inline void fill_fleet(MemorySeriesSource& src) {
  for (int s = 1; s <= 2; ++s) {
    for (int l = 1; l <= 2; ++l) {
      for (int d = 1; d <= 2; ++d) {
        for (int w = 0; w < kWindows; ++w) {
          auto st = src.add("acme", device_labels(s, l, d), kT0 + w * kWindowMs, kWindowMs,
                            make_window(s, l, d, w));
          if (!st.ok()) std::abort();
        }
      }
    }
  }
  for (int w = 0; w < kWindows; ++w) {
    sketch::WindowAggregate agg;
    agg.add_value(42);
    auto st = src.add("other", Labels{{"__name__", "secret"}, {"site", "s1"}}, kT0 + w * kWindowMs,
                      kWindowMs, agg);
    if (!st.ok()) std::abort();
  }
}

}  // namespace edgesketch::query::testing
