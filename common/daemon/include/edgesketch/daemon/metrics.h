// Self-metrics of the daemons in the Prometheus text exposition format (version 0.0.4).
//
// A MetricsRegistry owns metric families; each family has a name, help text, a type and one
// series per distinct label set. Counters and gauges are lock-free atomics that the hot paths
// update directly; "callback" series read a value at scrape time (for state owned by another
// component, like an outbox's byte count), so nothing is copied on the hot path.
//
//   MetricsRegistry m;
//   Counter& drops = m.counter("edgesketch_agent_dropped_total", "Readings dropped",
//                              {{"reason", "ring_full"}});
//   drops.inc();
//   m.gauge_fn("edgesketch_agent_outbox_bytes", "Outbox payload bytes", {}, [&] { return ...; });
//   std::string text = m.render();
//
// Thread safety: registering is thread-safe; Counter/Gauge updates are lock-free; render() may
// run concurrently with updates and registrations. Callbacks run on the scraping thread, so they
// must be thread-safe themselves. Series live as long as the registry (references stay valid).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace edgesketch::daemon {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class MetricsRegistry {
 public:
  // The same (name, labels) returns the same series. A name registered with another type is a
  // programming error (std::logic_error).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // A series whose value is read at scrape time. `type` is "gauge" or "counter".
  void gauge_fn(const std::string& name, const std::string& help, const Labels& labels,
                std::function<double()> read);
  void counter_fn(const std::string& name, const std::string& help, const Labels& labels,
                  std::function<double()> read);

  // All families sorted by name, series by labels, in the text exposition format.
  std::string render() const;

 private:
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::function<double()> read;
  };
  struct Family {
    std::string help;
    std::string type;
    std::map<Labels, Series> series;
  };
  Family& family(const std::string& name, const std::string& help, const std::string& type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// `value` formatted as Prometheus does: integers without exponent, "NaN", "+Inf", "-Inf".
std::string format_metric_value(double value);
// A label value with \, " and newline escaped.
std::string escape_label_value(const std::string& value);

}  // namespace edgesketch::daemon
