#include "edgesketch/daemon/metrics.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace edgesketch::daemon {

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help,
                                                 const std::string& type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.help = help;
    it->second.type = type;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered as " + it->second.type + " and " + type);
  }
  return it->second;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  std::lock_guard lock(mu_);
  Series& s = family(name, help, "counter").series[labels];
  if (!s.counter) {
    if (s.read) throw std::logic_error("metric " + name + " is a callback series");
    s.counter = std::make_unique<Counter>();
  }
  return *s.counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard lock(mu_);
  Series& s = family(name, help, "gauge").series[labels];
  if (!s.gauge) {
    if (s.read) throw std::logic_error("metric " + name + " is a callback series");
    s.gauge = std::make_unique<Gauge>();
  }
  return *s.gauge;
}

void MetricsRegistry::gauge_fn(const std::string& name, const std::string& help,
                               const Labels& labels, std::function<double()> read) {
  std::lock_guard lock(mu_);
  family(name, help, "gauge").series[labels].read = std::move(read);
}

void MetricsRegistry::counter_fn(const std::string& name, const std::string& help,
                                 const Labels& labels, std::function<double()> read) {
  std::lock_guard lock(mu_);
  family(name, help, "counter").series[labels].read = std::move(read);
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", value);
  }
  return buf;
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string escape_help(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string MetricsRegistry::render() const {
  // Callbacks run outside the lock: they may take other components' locks.
  struct Line {
    std::string prefix;
    const Series* series;
  };
  std::vector<std::pair<std::string, std::vector<Line>>> blocks;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, fam] : families_) {
      std::vector<Line> lines;
      std::string head = "# HELP " + name + " " + escape_help(fam.help) + "\n# TYPE " + name + " " +
                         fam.type + "\n";
      for (const auto& [labels, series] : fam.series) {
        std::string prefix = name;
        if (!labels.empty()) {
          prefix += '{';
          for (std::size_t i = 0; i < labels.size(); ++i) {
            if (i) prefix += ',';
            prefix += labels[i].first + "=\"" + escape_label_value(labels[i].second) + '"';
          }
          prefix += '}';
        }
        lines.push_back(Line{std::move(prefix), &series});
      }
      blocks.emplace_back(std::move(head), std::move(lines));
    }
  }
  // Series are never removed, so the pointers stay valid after the lock is released.
  std::string out;
  for (const auto& [head, lines] : blocks) {
    out += head;
    for (const Line& line : lines) {
      double v = 0;
      if (line.series->counter) {
        v = static_cast<double>(line.series->counter->value());
      } else if (line.series->gauge) {
        v = line.series->gauge->value();
      } else if (line.series->read) {
        v = line.series->read();
      }
      out += line.prefix + ' ' + format_metric_value(v) + '\n';
    }
  }
  return out;
}

}  // namespace edgesketch::daemon
