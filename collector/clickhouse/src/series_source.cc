#include "edgesketch/clickhouse/series_source.h"

#include <algorithm>
#include "edgesketch/common/byte_coding.h"
#include "sql_text.h"

namespace edgesketch::clickhouse {
namespace {

// Windows are at most a day long (a rule's window divides 24 h), which bounds how far before a
// point's interval a window that ends in it can start.
constexpr std::int64_t kMaxWindowMs = 86'400'000;
// Bound on one string read from ClickHouse's answer.
constexpr std::size_t kMaxString = std::size_t{1} << 26;

Status corrupt_answer(const char* what) {
  return Status::failed_precondition(std::string("clickhouse: unreadable answer (") + what + ")");
}

ByteSpan span_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The aggregate of one stored row: its scalars and whichever sketches it carries.
Result<sketch::WindowAggregate> row_aggregate(std::uint64_t count, double sum, double min,
                                              double max, std::string_view hist,
                                              std::string_view hll, std::string_view topk) {
  auto bytes = [](std::string_view s) {
    return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  std::optional<sketch::ExpHistogram> h;
  std::optional<sketch::HyperLogLog> d;
  std::optional<sketch::TopK> t;
  if (!hist.empty()) {
    ES_ASSIGN_OR_RETURN(auto v, sketch::ExpHistogram::deserialize(bytes(hist)));
    h = std::move(v);
  }
  if (!hll.empty()) {
    ES_ASSIGN_OR_RETURN(auto v, sketch::HyperLogLog::deserialize(bytes(hll)));
    d = std::move(v);
  }
  if (!topk.empty()) {
    ES_ASSIGN_OR_RETURN(auto v, sketch::TopK::deserialize(bytes(topk)));
    t = std::move(v);
  }
  return sketch::WindowAggregate::from_parts(count, sum, min, max, std::move(h), std::move(d),
                                             std::move(t));
}

}  // namespace

// A Client borrowed from the pool for one call, returned when the call ends.
class ClickHouseSeriesSource::Lease {
 public:
  Lease(ClickHouseSeriesSource& source, std::unique_ptr<Client> client)
      : source_(source), client_(std::move(client)) {}
  ~Lease() { source_.give_back(std::move(client_)); }
  Client& operator*() { return *client_; }

 private:
  ClickHouseSeriesSource& source_;
  std::unique_ptr<Client> client_;
};

ClickHouseSeriesSource::ClickHouseSeriesSource(ClientOptions client, SchemaOptions schema)
    : client_options_(std::move(client)), schema_(std::move(schema)) {}

ClickHouseSeriesSource::~ClickHouseSeriesSource() = default;

Result<std::unique_ptr<Client>> ClickHouseSeriesSource::borrow() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return Client::create(client_options_);
}

void ClickHouseSeriesSource::give_back(std::unique_ptr<Client> client) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(client));
}

std::string ClickHouseSeriesSource::matcher_sql(std::span<const query::LabelMatcher> matchers) {
  std::string sql = "1";
  for (const query::LabelMatcher& m : matchers) {
    const std::string value =
        m.name() == query::kMetricNameLabel
            ? std::string("metric")
            : "label_values[indexOf(label_names, " + sql_string(m.name()) + ")]";
    sql += " AND ";
    switch (m.op()) {
      case query::MatchOp::kEqual:
        sql += value + " = " + sql_string(m.value());
        break;
      case query::MatchOp::kNotEqual:
        sql += value + " != " + sql_string(m.value());
        break;
      case query::MatchOp::kRegexMatch:
        sql += "match(" + value + ", " + sql_string("^(?:" + m.value() + ")$") + ")";
        break;
      case query::MatchOp::kRegexNoMatch:
        sql += "NOT match(" + value + ", " + sql_string("^(?:" + m.value() + ")$") + ")";
        break;
    }
  }
  return sql;
}

Result<std::vector<ClickHouseSeriesSource::Selected>> ClickHouseSeriesSource::select(
    Client& client, std::string_view tenant, std::span<const query::LabelMatcher> matchers,
    std::size_t limit) {
  ES_ASSIGN_OR_RETURN(std::string rows,
                      client.query("SELECT series_id, metric, label_names, label_values FROM " +
                                   sql_table(schema_.database, "series") +
                                   " FINAL WHERE tenant = " + sql_string(tenant) + " AND " +
                                   matcher_sql(matchers) + " ORDER BY series_id FORMAT RowBinary"));
  std::vector<Selected> out;
  ByteReader in(span_of(rows));
  while (in.ok() && !in.at_end()) {
    Selected s;
    s.id = in.u64();
    s.labels.push_back(
        query::Label{std::string(query::kMetricNameLabel), std::string(in.string(kMaxString))});
    const std::uint64_t names = in.varint();
    std::vector<std::string> keys;
    for (std::uint64_t i = 0; in.ok() && i < names; ++i) keys.emplace_back(in.string(kMaxString));
    const std::uint64_t values = in.varint();
    if (!in.ok() || values != names) return corrupt_answer("series labels");
    for (std::uint64_t i = 0; in.ok() && i < values; ++i) {
      s.labels.push_back(query::Label{std::move(keys[i]), std::string(in.string(kMaxString))});
    }
    if (!in.ok()) return corrupt_answer("series");
    query::sort_labels(s.labels);
    // The engine's matchers have the last word on what a selector selects.
    if (!query::matches_all(s.labels, matchers)) continue;
    if (out.size() == limit) {
      return Status::resource_exhausted("more than " + std::to_string(limit) +
                                        " series match; narrow the selector");
    }
    out.push_back(std::move(s));
  }
  if (!in.ok()) return corrupt_answer("series");
  return out;
}

Result<std::vector<query::SeriesRows>> ClickHouseSeriesSource::scan(std::string_view tenant,
                                                                    const query::ScanRequest& req) {
  if (req.step_ms <= 0) return Status::invalid_argument("scan: step must be positive");
  ES_ASSIGN_OR_RETURN(auto borrowed, borrow());
  Lease client(*this, std::move(borrowed));
  auto selected = select(*client, tenant, req.matchers, req.max_series);
  if (!selected.ok()) {
    if (selected.status().code() == StatusCode::kResourceExhausted) {
      return Status::resource_exhausted("the query selects more than " +
                                        std::to_string(req.max_series) + " series");
    }
    return selected.status();
  }
  if (req.stats != nullptr) req.stats->series = selected->size();
  if (selected->empty() || req.end_ms < req.start_ms) return std::vector<query::SeriesRows>{};

  const std::int64_t start = req.start_ms;
  const std::int64_t step = req.step_ms;
  const std::int64_t last_t = start + (req.end_ms - start) / step * step;
  const std::string window_end = "(window_start + window_ms)";
  const std::string t = std::to_string(start) + " + intDiv(" + window_end + " - " +
                        std::to_string(start - step + 1) + ", " + std::to_string(step) + ") * " +
                        std::to_string(step);
  std::string ids;
  for (const Selected& s : *selected) ids += (ids.empty() ? "" : ",") + std::to_string(s.id);
  const std::string where =
      " WHERE tenant = " + sql_string(tenant) + " AND series_id IN (" + ids + ")" +
      " AND window_start > " + std::to_string(start - step - kMaxWindowMs) +
      " AND window_start <= " + std::to_string(last_t) + " AND " + window_end + " > " +
      std::to_string(start - step) + " AND " + window_end + " <= " + std::to_string(last_t);
  const bool sketches = req.fields.histogram || req.fields.distinct || req.fields.topk;
  const std::string from =
      " FROM " + sql_table(schema_.database, tier_table(schema_.tiers_ms.front())) + " FINAL";
  std::string sql;
  if (sketches) {
    sql = "SELECT series_id, " + t + " AS t, count, sum, min, max, " +
          (req.fields.histogram ? "hist" : "''") + ", " + (req.fields.distinct ? "hll" : "''") +
          ", " + (req.fields.topk ? "topk" : "''") + from + where +
          " ORDER BY series_id, t FORMAT RowBinary";
  } else {
    sql = "SELECT series_id, " + t + " AS t, sum(count), sum(sum), min(min), max(max)" + from +
          where + " GROUP BY series_id, t ORDER BY series_id, t FORMAT RowBinary";
  }
  ES_ASSIGN_OR_RETURN(std::string rows, (*client).query(sql));

  std::vector<query::SeriesRows> out;
  std::size_t points = 0;
  std::size_t rows_read = 0;
  std::size_t next_selected = 0;  // both are in series_id order
  ByteReader in(span_of(rows));
  while (in.ok() && !in.at_end()) {
    const std::uint64_t id = in.u64();
    const auto point_t = static_cast<std::int64_t>(in.u64());
    const std::uint64_t count = in.u64();
    const double sum = in.f64();
    const double min = in.f64();
    const double max = in.f64();
    std::string_view hist, hll, topk;
    if (sketches) {
      hist = in.string(kMaxString);
      hll = in.string(kMaxString);
      topk = in.string(kMaxString);
    }
    if (!in.ok()) return corrupt_answer("windows");
    ++rows_read;
    ES_ASSIGN_OR_RETURN(sketch::WindowAggregate agg,
                        row_aggregate(count, sum, min, max, hist, hll, topk));
    if (out.empty() || (*selected)[next_selected - 1].id != id) {
      while (next_selected < selected->size() && (*selected)[next_selected].id != id) {
        ++next_selected;
      }
      if (next_selected == selected->size()) return corrupt_answer("an unselected series");
      out.push_back(query::SeriesRows{(*selected)[next_selected].labels, {}});
      ++next_selected;
    }
    std::vector<query::StepPoint>& pts = out.back().points;
    if (!pts.empty() && pts.back().t_ms == point_t) {
      ES_RETURN_IF_ERROR(pts.back().agg.merge(agg));
      continue;
    }
    if (++points > req.max_points) {
      return Status::resource_exhausted("the query loads more than " +
                                        std::to_string(req.max_points) + " points");
    }
    pts.push_back(query::StepPoint{point_t, std::move(agg), std::nullopt});
  }
  if (!in.ok()) return corrupt_answer("windows");
  if (req.stats != nullptr) req.stats->points = rows_read;
  if (req.group) return query::group_rows(std::move(out), *req.group);
  std::sort(out.begin(), out.end(), [](const query::SeriesRows& a, const query::SeriesRows& b) {
    return a.labels < b.labels;
  });
  return out;
}

Result<std::vector<query::Labels>> ClickHouseSeriesSource::series(
    std::string_view tenant, std::span<const query::LabelMatcher> matchers, std::int64_t,
    std::int64_t, std::size_t limit) {
  ES_ASSIGN_OR_RETURN(auto borrowed, borrow());
  Lease client(*this, std::move(borrowed));
  ES_ASSIGN_OR_RETURN(auto selected, select(*client, tenant, matchers, limit));
  std::vector<query::Labels> out;
  out.reserve(selected.size());
  for (Selected& s : selected) out.push_back(std::move(s.labels));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> ClickHouseSeriesSource::label_values(
    std::string_view tenant, std::string_view name, std::span<const query::LabelMatcher> matchers,
    std::int64_t start_ms, std::int64_t end_ms) {
  ES_ASSIGN_OR_RETURN(auto all, series(tenant, matchers, start_ms, end_ms, 10'000'000));
  return query::label_values_of(all, name);
}

Result<std::vector<std::string>> ClickHouseSeriesSource::label_names(
    std::string_view tenant, std::span<const query::LabelMatcher> matchers, std::int64_t start_ms,
    std::int64_t end_ms) {
  ES_ASSIGN_OR_RETURN(auto all, series(tenant, matchers, start_ms, end_ms, 10'000'000));
  return query::label_names_of(all);
}

std::int64_t ClickHouseSeriesSource::resolution_ms(std::int64_t) const {
  return schema_.tiers_ms.empty() ? 0 : schema_.tiers_ms.front();
}

}  // namespace edgesketch::clickhouse
