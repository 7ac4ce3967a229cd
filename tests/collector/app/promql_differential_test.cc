// The collector's PromQL against Prometheus itself (Debian's prometheus 2.42): the same window
// aggregates go into the collector (CollectorApp in process, fed through POST /api/v1/ingest,
// half of them flushed into parts by a restart, half left in the memtable) and, as the samples
// of their float views, into Prometheus (promtool tsdb create-blocks-from openmetrics). Every
// expression of the corpus (tests/collector/promql_corpus/*.txt, see promql_corpus.h) is asked of
// both over HTTP, as instant queries at several times and as a range query, and the answers
// must be the same: status, error type and message, result type, label sets, timestamps and
// values (as text, so bit for bit; NaN as NaN).
//
// Where the two data models meet (docs/query.md, "Differences from Prometheus"):
//  - a sample of view m_f is one 10 s window: its value the window's field, its timestamp the
//    window's end (multiples of 10 s);
//  - the collector's lookback is one window (`[http] lookback = "10s"`: an instant selector at t
//    merges the windows ending in (t - 10 s, t], i.e. one), Prometheus' 9999 ms ([t - 9.999 s,
//    t]: the same sample, since Prometheus includes the left end and timestamps are whole ms);
//  - instant queries and range-query points fall 5 s off the windows' ends, so a range [d] holds
//    the same samples whether its left end is open (the collector) or closed (Prometheus 2.42);
//    a subquery's inner steps fall on the windows' ends, so the corpus gives range functions
//    inside subqueries ranges that are not multiples of 10 s (modifiers.txt);
//  - range queries use a 10 s step: each point is one window (the 10 s tier);
//  - where Prometheus' own answer depends on Go's map order (below), its rounding is compared
//    to 1e-9 and its ties are left out.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "app/collector_app.h"
#include "app/config.h"
#include "collector/app/promql_corpus.h"
#include "collector/store_test_util.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/query/promql_parser.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/prometheus_server.h"
#include "edgesketch/wire/codec.h"

namespace edgesketch::collector {
namespace {

using nlohmann::json;
using testbed::url_encode;

constexpr std::int64_t kBaseS = 1'699'999'200;  // a multiple of 2 h: promtool cuts one block
constexpr std::int64_t kWindowS = 10;
constexpr int kWindows = 180;  // 30 minutes of windows starting at kBaseS + 10 s · w
constexpr char kReadToken[] = "acme-read-token-0123456789";
constexpr char kGatewayToken[] = "gw-1-ingest-token-0123456789";

// ---------------------------------------------------------------------------------------------
// The data set: a few metrics × labels, with empty windows, series that start and stop, windows
// of categorical readings only (no min/max), zeros, signed zeros, subnormals and huge values.

struct SeriesSpec {
  std::string metric;
  std::vector<wire::Tag> tags;  // sorted by key
  int first = 0;                // the first and last window that may hold readings
  int last = kWindows - 1;
  int gap_every = 0;  // windows with w % gap_every == gap_at hold nothing
  int gap_at = 0;
  std::function<void(int w, sketch::WindowAggregate&)> readings;

  bool has(int w) const {
    return w >= first && w <= last && (gap_every == 0 || w % gap_every != gap_at);
  }
};

std::vector<SeriesSpec> dataset() {
  std::vector<SeriesSpec> out;
  // temp{site, line, device}: multiples of 1/4 (every sum exact in any order); d2 has empty
  // windows, d3 starts after 10 minutes, d6 stops after 20, d5 is below zero.
  const char* const devices[][3] = {{"s1", "l1", "d1"}, {"s1", "l1", "d2"}, {"s1", "l2", "d3"},
                                    {"s2", "l1", "d4"}, {"s2", "l2", "d5"}, {"s2", "l2", "d6"}};
  for (int i = 0; i < 6; ++i) {
    SeriesSpec s;
    s.metric = "temp";
    s.tags = {{"device", devices[i][2]}, {"line", devices[i][1]}, {"site", devices[i][0]}};
    s.readings = [i](int w, sketch::WindowAggregate& agg) {
      const int n = 1 + (w + i) % 4;
      for (int k = 0; k < n; ++k) {
        double v = 10 + 3 * i + ((w * 7 + k * 5 + i * 3) % 24) * 0.25;
        if (i == 4) v -= 40;
        agg.add_value(v);
      }
    };
    if (i == 1) {
      s.gap_every = 7;
      s.gap_at = 3;
    }
    if (i == 2) s.first = 60;
    if (i == 5) s.last = 120;
    out.push_back(std::move(s));
  }
  // speed{site, line, unit}: one per line, but none for (s2, l2): the "one" side of joins, with
  // a label (unit) the other side lacks. Tenths: sums of several round by their order.
  const char* const lines[][2] = {{"s1", "l1"}, {"s1", "l2"}, {"s2", "l1"}};
  for (int j = 0; j < 3; ++j) {
    SeriesSpec s;
    s.metric = "speed";
    s.tags = {{"line", lines[j][1]}, {"site", lines[j][0]}, {"unit", "rpm"}};
    s.readings = [j](int w, sketch::WindowAggregate& agg) {
      agg.add_value(100 + 10 * j + (w % 9) * 0.1);
      agg.add_value(99 + (w % 5) * 0.7);
    };
    out.push_back(std::move(s));
  }
  // vib{site, device}: v1 non-dyadic readings (sums depend on their order); v2 edge values in
  // a cycle of six windows; v3 only zeros, with empty windows.
  {
    SeriesSpec s;
    s.metric = "vib";
    s.tags = {{"device", "v1"}, {"site", "s1"}};
    s.readings = [](int w, sketch::WindowAggregate& agg) {
      for (int k = 0; k < 3; ++k) agg.add_value(w / 8.0 + 0.1 * (k + 1));
    };
    out.push_back(std::move(s));
  }
  {
    SeriesSpec s;
    s.metric = "vib";
    s.tags = {{"device", "v2"}, {"site", "s1"}};
    s.readings = [](int w, sketch::WindowAggregate& agg) {
      switch (w % 6) {
        case 0:
          agg.add_value(1e300);
          agg.add_value(-1e300);
          agg.add_value(2);
          break;
        case 1:
          agg.add_value(5e-324);
          agg.add_value(1e-310);
          break;
        case 2:
          agg.add_value(-0.0);
          break;
        case 3:  // categorical readings only: a count, a zero sum, no min or max
          agg.add_event();
          agg.add_event();
          break;
        case 4:
          agg.add_value(1.7976931348623157e308);
          agg.add_value(-1.7976931348623157e308);
          break;
        default:
          agg.add_value(-2.5);
          agg.add_value(2.5);
          agg.add_value(7);
      }
    };
    out.push_back(std::move(s));
  }
  {
    SeriesSpec s;
    s.metric = "vib";
    s.tags = {{"device", "v3"}, {"site", "s2"}};
    s.gap_every = 5;
    s.readings = [](int, sketch::WindowAggregate& agg) {
      agg.add_value(0);
      agg.add_value(0);
    };
    out.push_back(std::move(s));
  }
  // door{site}: categorical readings only; s3 stops after 15 minutes; one site's name needs
  // escaping in JSON and OpenMetrics alike.
  for (const char* site : {"s1", "s2", "s3", "north \"gate\" <1> & \xc3\xbc"}) {
    SeriesSpec s;
    s.metric = "door";
    s.tags = {{"site", site}};
    if (std::string_view(site) == "s3") s.last = 90;
    s.readings = [](int w, sketch::WindowAggregate& agg) {
      for (int k = 0; k <= w % 3; ++k) agg.add_event();
    };
    out.push_back(std::move(s));
  }
  return out;
}

sketch::WindowAggregate window_of(const SeriesSpec& s, int w) {
  sketch::WindowAggregate agg;
  s.readings(w, agg);
  return agg;
}

// The float views of docs/query.md: m_count and m_sum always, m_min and m_max when the window
// holds numeric readings.
struct View {
  const char* suffix;
  std::function<std::optional<double>(const sketch::WindowAggregate&)> value;
};
const View kViews[] = {
    {"_count", [](const auto& a) { return std::optional<double>(static_cast<double>(a.count())); }},
    {"_sum", [](const auto& a) { return std::optional<double>(a.sum()); }},
    {"_min",
     [](const auto& a) { return std::isinf(a.min()) ? std::nullopt : std::optional(a.min()); }},
    {"_max",
     [](const auto& a) { return std::isinf(a.max()) ? std::nullopt : std::optional(a.max()); }},
};

std::string om_escape(const std::string& v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// Every view's samples as OpenMetrics text (each series' samples in time order).
std::string openmetrics(const std::vector<SeriesSpec>& data) {
  std::string out;
  for (const SeriesSpec& s : data) {
    std::string labels;
    for (const wire::Tag& t : s.tags) {
      labels += fmt::format("{}{}=\"{}\"", labels.empty() ? "" : ",", t.key, om_escape(t.value));
    }
    for (const View& view : kViews) {
      for (int w = 0; w < kWindows; ++w) {
        if (!s.has(w)) continue;
        const std::optional<double> v = view.value(window_of(s, w));
        if (!v) continue;
        out += fmt::format("{}{}{{{}}} {} {}\n", s.metric, view.suffix, labels, *v,
                           kBaseS + (w + 1) * kWindowS);
      }
    }
  }
  return out + "# EOF\n";
}

// The windows [from, to) of every series as one batch.
wire::WindowBatch batch_of(const std::vector<SeriesSpec>& data, std::uint64_t seq, int from,
                           int to) {
  wire::WindowBatch b;
  b.gateway_id = "gw-1";
  b.seq = seq;
  b.created_ms = (kBaseS + to * kWindowS) * 1000;
  for (const SeriesSpec& s : data) {
    for (int w = from; w < to; ++w) {
      if (!s.has(w)) continue;
      wire::WindowRecord r;
      r.key.metric = s.metric;
      r.key.tags = s.tags;
      r.window_start_ms = (kBaseS + w * kWindowS) * 1000;
      r.window_ms = static_cast<std::uint32_t>(kWindowS * 1000);
      r.agg = window_of(s, w);
      b.records.push_back(std::move(r));
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// The two servers, started once per test process.

std::string collector_config(const std::string& dir) {
  return fmt::format(
      "[collector]\ndata_dir = \"{}\"\nretained_memory_bytes = 0\n"
      "[mqtt]\nenabled = false\n"
      "[http]\nlisten = \"127.0.0.1:0\"\nlookback = \"10s\"\n"
      "[store]\nrollups = [\"site\", \"line,site\"]\n"
      "[[tenant]]\nname = \"acme\"\ntokens = [\"{}\"]\n"
      "[[gateway]]\nid = \"gw-1\"\ntenant = \"acme\"\ntoken = \"{}\"\n",
      dir, kReadToken, kGatewayToken);
}

struct Servers {
  store::testing::TempDir dir;
  // Two hours before the data when the store is created: the label rollups cover all of it.
  FakeClock clock{(kBaseS - 7200) * 1000};
  std::unique_ptr<CollectorApp> collector;
  testbed::PrometheusServer prometheus{testbed::PrometheusOptions{
      .prometheus = ES_PROMETHEUS, .promtool = ES_PROMTOOL, .lookback_delta = "9999ms"}};
  std::string error;  // why they did not start

  Status start_collector() {
    auto config = parse_collector_config(collector_config(dir.path()), "differential-test");
    if (!config.ok()) return config.status();
    auto app = CollectorApp::create(std::move(*config), CollectorDeps{.clock = &clock});
    if (!app.ok()) return app.status();
    collector = std::move(*app);
    return collector->start();
  }

  Status ingest(const wire::WindowBatch& b) {
    const Bytes payload = wire::encode_window_batch(b);
    const auto r = testbed::http_post(collector->http_port(), "/api/v1/ingest",
                                      std::string(payload.begin(), payload.end()),
                                      "application/octet-stream", kGatewayToken);
    if (r.status != 200) {
      return Status::internal(fmt::format("ingest seq {}: {} {}", b.seq, r.status, r.body));
    }
    return Status();
  }

  Status start() {
    const std::vector<SeriesSpec> data = dataset();
    ES_RETURN_IF_ERROR(prometheus.start(openmetrics(data)));
    ES_RETURN_IF_ERROR(start_collector());
    clock.set_now_ms((kBaseS + 3600) * 1000);
    // The first half is flushed into parts by a restart (stop() flushes the memtable); the
    // second stays in the memtable (and the WAL).
    std::uint64_t seq = 0;
    for (int from = 0; from < kWindows / 2; from += 30) {
      ES_RETURN_IF_ERROR(ingest(batch_of(data, ++seq, from, from + 30)));
    }
    collector->stop();
    collector.reset();
    ES_RETURN_IF_ERROR(start_collector());
    for (int from = kWindows / 2; from < kWindows; from += 30) {
      ES_RETURN_IF_ERROR(ingest(batch_of(data, ++seq, from, from + 30)));
    }
    return Status();
  }
};

// ---------------------------------------------------------------------------------------------
// Answers, as comparable values.

struct Point {
  double t = 0;
  std::string value;
};
struct SeriesAnswer {
  std::map<std::string, std::string> labels;
  std::vector<Point> points;
};
struct Answer {
  int http_status = 0;
  std::string status;  // "success", "error", or what went wrong reading the body
  std::string error_type;
  std::string error;
  std::string result_type;
  std::vector<SeriesAnswer> series;  // a scalar or string: one series without labels
};

std::string describe(const SeriesAnswer& s) {
  std::string out = "{";
  for (const auto& [k, v] : s.labels)
    out += fmt::format("{}{}=\"{}\"", out.size() > 1 ? ", " : "", k, v);
  out += "}";
  for (std::size_t i = 0; i < s.points.size() && i < 4; ++i) {
    out += fmt::format(" {}@{}", s.points[i].value, s.points[i].t);
  }
  if (s.points.size() > 4) out += fmt::format(" … ({} points)", s.points.size());
  return out;
}

Point point_of(const json& p) {
  Point out;
  if (p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_string()) {
    out.t = p[0].get<double>();
    out.value = p[1].get<std::string>();
  } else {
    out.value = "malformed point " + p.dump();
  }
  return out;
}

Answer read_answer(const testbed::HttpReply& reply) {
  Answer a;
  a.http_status = reply.status;
  const json body = json::parse(reply.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    a.status = "not JSON: " + reply.body.substr(0, 200);
    return a;
  }
  a.status = body.value("status", "");
  a.error_type = body.value("errorType", "");
  a.error = body.value("error", "");
  if (a.status != "success") return a;
  const json& data = body["data"];
  a.result_type = data.value("resultType", "");
  const json& result = data["result"];
  if (a.result_type == "scalar" || a.result_type == "string") {
    a.series.push_back(SeriesAnswer{{}, {point_of(result)}});
    return a;
  }
  for (const json& s : result) {
    SeriesAnswer sa;
    for (const auto& [k, v] : s["metric"].items()) sa.labels[k] = v.get<std::string>();
    if (s.contains("value")) sa.points.push_back(point_of(s["value"]));
    if (s.contains("values")) {
      for (const json& p : s["values"]) sa.points.push_back(point_of(p));
    }
    a.series.push_back(std::move(sa));
  }
  return a;
}

bool values_agree(const std::string& ours, const std::string& theirs, bool approx) {
  if (ours == theirs) return true;
  if (!approx) return false;
  const double x = std::strtod(ours.c_str(), nullptr);
  const double y = std::strtod(theirs.c_str(), nullptr);
  if (std::isnan(x) || std::isnan(y) || std::isinf(x) || std::isinf(y)) return false;
  return std::abs(x - y) <= 1e-9 * std::max(std::abs(x), std::abs(y));
}

// The error, or how many series a successful answer holds.
std::string summary(const Answer& a) {
  if (a.status != "success") return a.error.empty() ? a.status : a.error;
  return fmt::format("{} series", a.series.size());
}

// "" when the answers agree, else what differs.
std::string compare(Answer ours, Answer theirs, const testing::CorpusEntry& e) {
  if (theirs.status != "success" || ours.status != "success") {
    if (ours.status != theirs.status) {
      return fmt::format("status: ours {} ({}), Prometheus {} ({})", ours.status, summary(ours),
                         theirs.status, summary(theirs));
    }
    if (ours.http_status != theirs.http_status || ours.error_type != theirs.error_type) {
      return fmt::format("error type: ours {} {} ({}), Prometheus {} {} ({})", ours.http_status,
                         ours.error_type, ours.error, theirs.http_status, theirs.error_type,
                         theirs.error);
    }
    if (ours.error != theirs.error) {
      return fmt::format("error message:\n    ours:       {}\n    Prometheus: {}", ours.error,
                         theirs.error);
    }
    return {};
  }
  if (ours.result_type != theirs.result_type) {
    return fmt::format("result type: ours {}, Prometheus {}", ours.result_type, theirs.result_type);
  }
  if (ours.result_type == "vector" && !e.ordered) {
    auto by_labels = [](const SeriesAnswer& a, const SeriesAnswer& b) {
      return a.labels < b.labels;
    };
    std::sort(ours.series.begin(), ours.series.end(), by_labels);
    std::sort(theirs.series.begin(), theirs.series.end(), by_labels);
  }
  const std::size_t n = std::max(ours.series.size(), theirs.series.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (i >= ours.series.size()) return "missing series " + describe(theirs.series[i]);
    if (i >= theirs.series.size()) return "extra series " + describe(ours.series[i]);
    const SeriesAnswer& a = ours.series[i];
    const SeriesAnswer& b = theirs.series[i];
    if (a.labels != b.labels) {
      return fmt::format("series #{}:\n    ours:       {}\n    Prometheus: {}", i, describe(a),
                         describe(b));
    }
    bool same = a.points.size() == b.points.size();
    for (std::size_t k = 0; same && k < a.points.size(); ++k) {
      same = a.points[k].t == b.points[k].t &&
             values_agree(a.points[k].value, b.points[k].value, e.approx);
    }
    if (!same) {
      std::size_t k = 0;
      while (k < a.points.size() && k < b.points.size() && a.points[k].t == b.points[k].t &&
             values_agree(a.points[k].value, b.points[k].value, e.approx)) {
        ++k;
      }
      auto at = [](const SeriesAnswer& s, std::size_t k) {
        return k < s.points.size() ? fmt::format("{} @ {}", s.points[k].value, s.points[k].t)
                                   : std::string("(no more points)");
      };
      return fmt::format("{}: point #{} of {} vs {}:\n    ours:       {}\n    Prometheus: {}",
                         describe(b), k, a.points.size(), b.points.size(), at(a, k), at(b, k));
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Where Prometheus does not answer the same way twice. Its range evaluation keeps the series of
// a computed vector (a function's or an operator's result) in a Go map, so an aggregation over
// one sees them in a random order from one query to the next: sums, means and variances of
// non-integers round differently, and topk/bottomk break ties differently. A subquery is a
// range evaluation inside any query. Over a selector the order is the storage's, fixed.

struct OrderSensitivity {
  bool rounding = false;  // sum, avg, stddev, stdvar over a computed vector
  bool ties = false;      // topk, bottomk over a computed vector
};

// What depends on that order in a range query (`range`) and in an instant query (`instant`:
// only what lies inside a subquery).
struct Sensitivities {
  OrderSensitivity range;
  OrderSensitivity instant;
};

void classify(const query::Expr& e, bool in_subquery, Sensitivities& out) {
  auto visit = [&](const query::ExprPtr& child, bool sub) {
    if (child) classify(*child, sub, out);
  };
  std::visit(
      [&](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, query::Aggregate>) {
          const bool computed =
              !std::holds_alternative<query::VectorSelector>(query::strip_parens(*node.arg).node);
          if (computed) {
            OrderSensitivity s;
            s.rounding =
                node.op == query::AggregateOp::kSum || node.op == query::AggregateOp::kAvg ||
                node.op == query::AggregateOp::kStddev || node.op == query::AggregateOp::kStdvar;
            s.ties =
                node.op == query::AggregateOp::kTopk || node.op == query::AggregateOp::kBottomk;
            for (OrderSensitivity* o : {&out.range, in_subquery ? &out.instant : nullptr}) {
              if (o == nullptr) continue;
              o->rounding = o->rounding || s.rounding;
              o->ties = o->ties || s.ties;
            }
          }
          visit(node.param, in_subquery);
          visit(node.arg, in_subquery);
        } else if constexpr (std::is_same_v<T, query::Binary>) {
          visit(node.lhs, in_subquery);
          visit(node.rhs, in_subquery);
        } else if constexpr (std::is_same_v<T, query::Unary> || std::is_same_v<T, query::Paren>) {
          if constexpr (std::is_same_v<T, query::Unary>) {
            visit(node.arg, in_subquery);
          } else {
            visit(node.inner, in_subquery);
          }
        } else if constexpr (std::is_same_v<T, query::Call>) {
          for (const query::ExprPtr& a : node.args) visit(a, in_subquery);
        } else if constexpr (std::is_same_v<T, query::Subquery>) {
          visit(node.inner, true);
        }
      },
      e.node);
}

Sensitivities sensitivities(const std::string& expr) {
  Sensitivities out;
  auto parsed = query::parse_promql(expr);
  if (parsed.ok()) classify(**parsed, false, out);
  return out;
}

// ---------------------------------------------------------------------------------------------

std::string corpus_path(const std::string& name) {
  return std::string(ES_PROMQL_CORPUS_DIR) + "/" + name + ".txt";
}

const char* const kCorpusFiles[] = {"operators", "aggregations", "functions", "modifiers",
                                    "edge_cases"};

// Instant queries: before any window ended, the first window, when d3 starts, mid-range, after
// d6 stopped, the last window, and after all data (offsets still reach back).
const std::int64_t kInstantTimes[] = {kBaseS + 5,    kBaseS + 15,   kBaseS + 615, kBaseS + 903,
                                      kBaseS + 1213, kBaseS + 1805, kBaseS + 1897};
// Range query: from before the first window to the last one, a point every window.
constexpr std::int64_t kRangeStart = kBaseS - 25;
constexpr std::int64_t kRangeEnd = kBaseS + 1805;
constexpr std::int64_t kStep = kWindowS;

// Both servers, started once per test suite (each corpus file runs in a process of its own).
class DifferentialTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_ = new Servers;
    const Status st = servers_->start();
    if (!st.ok()) servers_->error = st.to_string();
  }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(servers_->error, ""); }

  static Answer ask_collector(const std::string& path) {
    return read_answer(testbed::http_get(servers_->collector->http_port(), path, kReadToken));
  }
  static Answer ask_prometheus(const std::string& path) {
    return read_answer(testbed::http_get(servers_->prometheus.port(), path));
  }

  static Servers* servers_;
};

Servers* DifferentialTest::servers_ = nullptr;

class PromqlDifferentialTest : public DifferentialTest,
                               public ::testing::WithParamInterface<const char*> {};
class ApiParametersTest : public DifferentialTest {};

std::string instant_path(const std::string& expr, std::int64_t t) {
  return fmt::format("/api/v1/query?query={}&time={}", url_encode(expr), t);
}
std::string range_path(const std::string& expr) {
  return fmt::format("/api/v1/query_range?query={}&start={}&end={}&step={}", url_encode(expr),
                     kRangeStart, kRangeEnd, kStep);
}

TEST_P(PromqlDifferentialTest, AnswersAsPrometheus) {
  std::ifstream in(corpus_path(GetParam()));
  ASSERT_TRUE(in) << corpus_path(GetParam());
  std::stringstream text;
  text << in.rdbuf();
  auto corpus = testing::parse_corpus(text.str(), std::string(GetParam()) + ".txt");
  ASSERT_TRUE(corpus.ok()) << corpus.status().to_string();
  ASSERT_FALSE(corpus->empty());

  int mismatches = 0;
  int evaluations = 0;
  int approximate = 0;  // compared to 1e-9 because Prometheus' rounding depends on map order
  int not_compared = 0;
  for (const testing::CorpusEntry& e : *corpus) {
    bool informative = false;  // Prometheus answered with data or an error at least once
    const Sensitivities order = sensitivities(e.reference);
    auto check = [&](const std::string& what, const std::string& ours_path,
                     const std::string& their_path, const OrderSensitivity& sensitivity) {
      if (sensitivity.ties) {
        // Which of equal series Prometheus keeps changes from one of its answers to the next.
        ++not_compared;
        return;
      }
      const Answer theirs = ask_prometheus(their_path);
      const Answer ours = ask_collector(ours_path);
      ++evaluations;
      informative = informative || theirs.status != "success" || !theirs.series.empty();
      testing::CorpusEntry how = e;
      if (sensitivity.rounding && !e.approx) {
        how.approx = true;
        ++approximate;
      }
      const std::string diff = compare(ours, theirs, how);
      if (!diff.empty()) {
        ++mismatches;
        ADD_FAILURE() << e.where << ": " << e.ours
                      << (e.reference != e.ours ? " <=> " + e.reference : "") << "\n  " << what
                      << ": " << diff;
      }
    };
    for (const std::int64_t t : kInstantTimes) {
      check(fmt::format("instant at base + {} s", t - kBaseS), instant_path(e.ours, t),
            instant_path(e.reference, t), order.instant);
    }
    check("range", range_path(e.ours), range_path(e.reference), order.range);
    if (!e.empty) {
      EXPECT_TRUE(informative) << e.where << ": " << e.reference
                               << " gives no data at any time: a mistake in the corpus, or mark "
                                  "it [empty]";
    }
  }
  std::printf(
      "%s: %zu expressions, %d evaluations on each server (%d compared to 1e-9 for Prometheus' "
      "map order, %d left out for its ties), %d mismatches\n",
      GetParam(), corpus->size(), evaluations, approximate, not_compared, mismatches);
}

INSTANTIATE_TEST_SUITE_P(Corpus, PromqlDifferentialTest, ::testing::ValuesIn(kCorpusFiles),
                         [](const auto& info) { return std::string(info.param); });

// The query API's parameters: what each server says to missing, malformed and out-of-range
// times, steps and queries (both answer with the same code, type and text).
TEST_F(ApiParametersTest, ErrorsAsPrometheus) {
  const std::vector<std::string> paths = {
      "/api/v1/query?query=1&time=x",
      "/api/v1/query?time=5",
      "/api/v1/query?query=1&time=2023-11-14T22:13:20.123Z",
      "/api/v1/query?query=" + url_encode("sum(") + "&time=5",
      "/api/v1/query_range?query=1&start=10&end=20&step=0",
      "/api/v1/query_range?query=1&start=10&end=20&step=-1",
      "/api/v1/query_range?query=1&end=20&step=1",
      "/api/v1/query_range?query=1&start=10&step=1",
      "/api/v1/query_range?query=1&start=10&end=5&step=1",
      "/api/v1/query_range?query=1&start=10&end=20",
      "/api/v1/query_range?query=1&start=0&end=200000&step=1",
      "/api/v1/query_range?query=1&start=x&end=20&step=1",
      "/api/v1/query_range?query=1&start=1&end=20&step=x",
      "/api/v1/query_range?start=1&end=20&step=1",
      "/api/v1/query_range?query=" + url_encode("sum(") + "&start=1&end=20&step=1",
      "/api/v1/query_range?query=" + url_encode("temp_max[1m:10s]") + "&start=1&end=20&step=1",
      "/api/v1/query_range?query=" + url_encode("\"a\"") + "&start=1&end=20&step=1",
      "/api/v1/query_range?query=1&start=1&end=7201&step=1h30m",
      "/api/v1/query_range?query=1&start=2023-11-14T22:13:20Z&end=2023-11-14T22:14:20.5Z"
      "&step=15",
  };
  for (const std::string& path : paths) {
    const std::string diff = compare(ask_collector(path), ask_prometheus(path), {});
    EXPECT_EQ(diff, "") << path;
  }
}

// Every corpus file runs: none lies in the directory without being listed above.
TEST(PromqlCorpus, EveryFileIsListed) {
  std::set<std::string> listed(std::begin(kCorpusFiles), std::end(kCorpusFiles));
  for (const auto& f : std::filesystem::directory_iterator(ES_PROMQL_CORPUS_DIR)) {
    EXPECT_EQ(f.path().extension(), ".txt") << f.path();
    EXPECT_TRUE(listed.count(f.path().stem().string())) << f.path() << " is not in kCorpusFiles";
  }
}

}  // namespace
}  // namespace edgesketch::collector
