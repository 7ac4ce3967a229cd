// Binary operators: arithmetic and comparisons (with `bool`) between scalars and vectors, vector
// matching (on/ignoring, group_left/group_right) and the set operators and/or/unless, per step as
// Prometheus' VectorBinop, VectorAnd, VectorOr and VectorUnless.
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "evaluator.h"
#include "go_pow.h"

namespace edgesketch::query::eval {
namespace {

// Prometheus' vectorElemBinop: the value, and whether the element is kept (comparisons filter).
std::pair<double, bool> elem(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::kAdd:
      return {l + r, true};
    case BinaryOp::kSub:
      return {l - r, true};
    case BinaryOp::kMul:
      return {l * r, true};
    case BinaryOp::kDiv:
      return {l / r, true};
    case BinaryOp::kMod:
      return {std::fmod(l, r), true};
    case BinaryOp::kPow:
      return {go_pow(l, r), true};
    case BinaryOp::kEq:
      return {l, l == r};
    case BinaryOp::kNe:
      return {l, l != r};
    case BinaryOp::kGt:
      return {l, l > r};
    case BinaryOp::kLt:
      return {l, l < r};
    case BinaryOp::kGe:
      return {l, l >= r};
    case BinaryOp::kLe:
      return {l, l <= r};
    default:
      return {std::numeric_limits<double>::quiet_NaN(), false};
  }
}

// Arithmetic drops the metric name; comparisons keep it (unless `bool`).
bool drops_name(BinaryOp op) { return !is_comparison(op) && !is_set_operator(op); }

// The labels two series are matched on (Prometheus' signature / MatchLabels).
Labels match_labels(const Labels& l, const Binary& b) {
  if (b.on) return keep_labels(l, b.matching_labels);
  return drop_labels(drop_metric_name(l), b.matching_labels);
}

// Prometheus' resultMetric: the labels of the result of `many` op `one`.
Labels result_labels(const Labels& many, const Labels& one, const Binary& b) {
  Labels out = drops_name(b.op) ? drop_metric_name(many) : many;
  if (b.card == MatchCard::kOneToOne) {
    out = b.on ? keep_labels(out, b.matching_labels) : drop_labels(out, b.matching_labels);
  }
  for (const auto& name : b.include) set_label(out, name, label_value(one, name));
  if (b.return_bool) out = drop_metric_name(out);
  return out;
}

// Signature ids of the series of two vectors: equal ids iff equal match labels.
struct Signatures {
  std::vector<std::uint32_t> lhs, rhs;
  std::size_t count = 0;
};
Signatures signatures(const Vector& lhs, const Vector& rhs, const Binary& b) {
  Signatures sigs;
  std::unordered_map<std::string, std::uint32_t> index;
  auto id = [&](const Labels& l) {
    auto [it, fresh] =
        index.try_emplace(labels_key(match_labels(l, b)), static_cast<std::uint32_t>(index.size()));
    return it->second;
  };
  for (std::size_t s = 0; s < lhs.size(); ++s) sigs.lhs.push_back(id(lhs.labels(s)));
  for (std::size_t s = 0; s < rhs.size(); ++s) sigs.rhs.push_back(id(rhs.labels(s)));
  sigs.count = index.size();
  return sigs;
}

std::vector<std::vector<char>> presence_all(const Vector& v, std::size_t n) {
  std::vector<std::vector<char>> out;
  out.reserve(v.size());
  for (std::size_t s = 0; s < v.size(); ++s) out.push_back(presence(v, s, n));
  return out;
}

// Keeps the samples of series `s` at the steps where keep[i] is set.
void filter(Vector& v, std::size_t s, const std::vector<char>& keep) {
  if (!v.sketch) {
    FloatSeries& f = v.floats[s];
    for (std::size_t i = 0; i < f.has.size(); ++i) f.has[i] = f.has[i] && keep[i];
    return;
  }
  SketchSeries& sk = v.sketches[s];
  std::size_t w = 0;
  for (std::size_t j = 0; j < sk.points.size(); ++j) {
    if (!keep[sk.points[j].first]) continue;
    if (w != j) {
      sk.points[w] = std::move(sk.points[j]);
      if (!sk.quantiles.empty()) sk.quantiles[w] = sk.quantiles[j];
    }
    ++w;
  }
  sk.points.resize(w);
  if (!sk.quantiles.empty()) sk.quantiles.resize(w);
}

std::string op_what(BinaryOp op) {
  return fmt::format("the operator \"{}\"", binary_op_string(op));
}

}  // namespace

Result<Value> Evaluator::eval_node(const Binary& b, const Expr&, const ScanFields& want) {
  // Set operators pass the left side's series through: its sketches (never a quantile computed
  // by the source, as the points are filtered) come as the caller wants them.
  ScanFields side_want;
  if (is_set_operator(b.op)) {
    side_want = want;
    side_want.quantile.reset();
  }
  ES_ASSIGN_OR_RETURN(Value lhs, eval(*b.lhs, side_want));
  ES_ASSIGN_OR_RETURN(Value rhs, eval(*b.rhs, b.op == BinaryOp::kOr ? side_want : ScanFields{}));
  auto* ls = std::get_if<Scalar>(&lhs);
  auto* rs = std::get_if<Scalar>(&rhs);
  if (ls && rs) {
    for (std::size_t i = 0; i < ctx_.n; ++i) {
      const auto [v, keep] = elem(b.op, ls->v[i], rs->v[i]);
      ls->v[i] = is_comparison(b.op) ? (keep ? 1 : 0) : v;  // the parser requires `bool`
    }
    return lhs;
  }
  if (ls) return scalar_vector(b, std::move(std::get<Vector>(rhs)), *ls, true);
  if (rs) return scalar_vector(b, std::move(std::get<Vector>(lhs)), *rs, false);
  if (is_set_operator(b.op)) {
    return set_operation(b, std::move(std::get<Vector>(lhs)), std::move(std::get<Vector>(rhs)));
  }
  return vector_vector(b, std::move(std::get<Vector>(lhs)), std::move(std::get<Vector>(rhs)));
}

Result<Value> Evaluator::scalar_vector(const Binary& b, Vector vec, const Scalar& s,
                                       bool scalar_left) {
  ES_RETURN_IF_ERROR(require_floats(vec, op_what(b.op)));
  const bool drop = drops_name(b.op) || b.return_bool;
  for (auto& f : vec.floats) {
    if (drop) f.labels = drop_metric_name(f.labels);
    for (std::size_t i = 0; i < ctx_.n; ++i) {
      if (!f.has[i]) continue;
      const double lv = scalar_left ? s.v[i] : f.v[i];
      const double rv = scalar_left ? f.v[i] : s.v[i];
      auto [value, keep] = elem(b.op, lv, rv);
      // A comparison keeps the vector's value, on whichever side it is.
      if (is_comparison(b.op) && scalar_left) value = rv;
      if (b.return_bool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (keep) {
        f.v[i] = value;
      } else {
        f.has[i] = 0;
      }
    }
  }
  if (drop) ES_RETURN_IF_ERROR(merge_equal_labels(vec));
  return Value(std::move(vec));
}

Result<Value> Evaluator::vector_vector(const Binary& b, Vector lhs, Vector rhs) {
  ES_RETURN_IF_ERROR(require_floats(lhs, op_what(b.op)));
  ES_RETURN_IF_ERROR(require_floats(rhs, op_what(b.op)));
  const std::size_t n = ctx_.n;
  // group_right: the right side is the "many" side; the values keep their sides.
  const bool swap = b.card == MatchCard::kOneToMany;
  const Vector& many = swap ? rhs : lhs;
  const Vector& one = swap ? lhs : rhs;
  const Signatures sigs = signatures(many, one, b);
  const std::vector<std::uint32_t>& many_sig = sigs.lhs;
  const std::vector<std::uint32_t>& one_sig = sigs.rhs;
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  // Per signature: the step (+1) it was last seen on the one side, by which series; the step it
  // was last matched (one-to-one).
  std::vector<std::uint32_t> one_stamp(sigs.count, 0), one_at(sigs.count, kNone),
      matched_stamp(sigs.count, 0);
  std::unordered_map<std::uint64_t, std::size_t> pair_out;  // (many, one) → output series
  std::unordered_map<std::string, std::size_t> out_index;   // labels → output series
  std::vector<std::uint32_t> out_stamp, out_sig;
  Vector out;
  out.ordered = many.ordered;
  for (std::size_t i = 0; i < n; ++i) {
    const auto stamp = static_cast<std::uint32_t>(i + 1);
    bool any_many = false, any_one = false;
    for (const auto& f : many.floats) {
      if (f.has[i]) {
        any_many = true;
        break;
      }
    }
    for (const auto& f : one.floats) {
      if (f.has[i]) {
        any_one = true;
        break;
      }
    }
    if (!any_many || !any_one) continue;  // nothing can match at this step
    for (std::size_t r = 0; r < one.floats.size(); ++r) {
      if (!one.floats[r].has[i]) continue;
      const std::uint32_t sig = one_sig[r];
      if (one_stamp[sig] == stamp) {
        const FloatSeries& prev = one.floats[one_at[sig]];
        return execution_error(fmt::format(
            "found duplicate series for the match group {} on the {} hand-side of the operation: "
            "[{}, {}];many-to-many matching not allowed: matching labels must be unique on one "
            "side",
            labels_to_string(match_labels(one.floats[r].labels, b)), swap ? "left" : "right",
            labels_to_string(one.floats[r].labels), labels_to_string(prev.labels)));
      }
      one_stamp[sig] = stamp;
      one_at[sig] = static_cast<std::uint32_t>(r);
    }
    for (std::size_t l = 0; l < many.floats.size(); ++l) {
      const FloatSeries& m = many.floats[l];
      if (!m.has[i]) continue;
      const std::uint32_t sig = many_sig[l];
      if (one_stamp[sig] != stamp) continue;
      const std::uint32_t r = one_at[sig];
      const FloatSeries& o = one.floats[r];
      const double vl = swap ? o.v[i] : m.v[i];
      const double vr = swap ? m.v[i] : o.v[i];
      auto [value, keep] = elem(b.op, vl, vr);
      if (b.return_bool) {
        value = keep ? 1 : 0;
      } else if (!keep) {
        continue;
      }
      const std::uint64_t pair = (static_cast<std::uint64_t>(l) << 32) | r;
      auto p = pair_out.find(pair);
      if (p == pair_out.end()) {
        Labels labels = result_labels(m.labels, o.labels, b);
        auto [it, fresh] = out_index.try_emplace(labels_key(labels), out.floats.size());
        if (fresh) {
          ES_RETURN_IF_ERROR(ctx_.budget->charge_points(n));
          out.floats.push_back(new_float_series(std::move(labels), n));
          out_stamp.push_back(0);
          out_sig.push_back(kNone);
        }
        p = pair_out.emplace(pair, it->second).first;
      }
      const std::size_t o_idx = p->second;
      if (b.card == MatchCard::kOneToOne) {
        if (matched_stamp[sig] == stamp) {
          return execution_error(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
        }
        matched_stamp[sig] = stamp;
      } else if (out_stamp[o_idx] == stamp && out_sig[o_idx] == sig) {
        return execution_error(
            "multiple matches for labels: grouping labels must ensure unique matches");
      }
      if (out_stamp[o_idx] == stamp) {
        return execution_error("vector cannot contain metrics with the same labelset");
      }
      out_stamp[o_idx] = stamp;
      out_sig[o_idx] = sig;
      FloatSeries& f = out.floats[o_idx];
      f.v[i] = value;
      f.has[i] = 1;
    }
  }
  return Value(std::move(out));
}

Result<Value> Evaluator::set_operation(const Binary& b, Vector lhs, Vector rhs) {
  const std::size_t n = ctx_.n;
  if (b.op == BinaryOp::kOr && !lhs.empty() && !rhs.empty() && lhs.sketch != rhs.sketch) {
    return Status::invalid_argument(
        "\"or\" between sketch-valued series (m) and float series (m_count, m_sum, m_min, m_max) "
        "is not defined: both sides must be of one kind");
  }
  const Signatures sigs = signatures(lhs, rhs, b);
  const auto lp = presence_all(lhs, n);
  const auto rp = presence_all(rhs, n);
  // Per signature and step: present on the right (and, unless) or on the left (or).
  std::vector<std::uint32_t> stamp_of(sigs.count, 0);
  std::vector<std::vector<char>> keep_l(lhs.size(), std::vector<char>(n, 0));
  std::vector<std::vector<char>> keep_r(rhs.size(), std::vector<char>(n, 0));
  for (std::size_t i = 0; i < n; ++i) {
    const auto stamp = static_cast<std::uint32_t>(i + 1);
    if (b.op == BinaryOp::kOr) {
      for (std::size_t s = 0; s < lhs.size(); ++s) {
        if (!lp[s][i]) continue;
        keep_l[s][i] = 1;
        stamp_of[sigs.lhs[s]] = stamp;
      }
      for (std::size_t s = 0; s < rhs.size(); ++s) {
        if (rp[s][i] && stamp_of[sigs.rhs[s]] != stamp) keep_r[s][i] = 1;
      }
      continue;
    }
    for (std::size_t s = 0; s < rhs.size(); ++s) {
      if (rp[s][i]) stamp_of[sigs.rhs[s]] = stamp;
    }
    for (std::size_t s = 0; s < lhs.size(); ++s) {
      if (!lp[s][i]) continue;
      const bool matched = stamp_of[sigs.lhs[s]] == stamp;
      keep_l[s][i] = b.op == BinaryOp::kAnd ? matched : !matched;
    }
  }
  for (std::size_t s = 0; s < lhs.size(); ++s) filter(lhs, s, keep_l[s]);
  if (b.op != BinaryOp::kOr) return Value(std::move(lhs));
  for (std::size_t s = 0; s < rhs.size(); ++s) filter(rhs, s, keep_r[s]);
  if (lhs.empty()) {
    rhs.ordered = false;
    lhs = std::move(rhs);
  } else {
    for (auto& f : rhs.floats) lhs.floats.push_back(std::move(f));
    for (auto& sk : rhs.sketches) lhs.sketches.push_back(std::move(sk));
  }
  ES_RETURN_IF_ERROR(merge_equal_labels(lhs));
  return Value(std::move(lhs));
}

}  // namespace edgesketch::query::eval
