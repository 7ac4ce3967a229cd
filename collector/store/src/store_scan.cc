// The scan path: series selection, tier choice, and merging memtable and part rows into step
// buckets.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "row_accumulator.h"
#include "store_impl.h"

namespace edgesketch::store {
namespace {

// Accumulators of one scan: one row per selected series (or per group of them), one lazily
// created cell per point.
class ScanGrid {
 public:
  ScanGrid(const std::vector<std::uint64_t>& ids, const std::vector<std::uint32_t>& group_of,
           std::size_t rows, std::int64_t start, std::int64_t step, std::int64_t resolution,
           std::size_t points)
      : ids_(ids),
        group_of_(group_of),
        start_(start),
        step_(step),
        resolution_(resolution),
        points_(points),
        cells_(rows) {}

  // Accumulator row of series `id` (its group's when grouping), or npos when not selected.
  std::size_t series_index(std::uint64_t id) {
    if (last_ < ids_.size() && ids_[last_] == id) return row_of(last_);
    auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id) return npos;
    last_ = static_cast<std::size_t>(it - ids_.begin());
    return row_of(last_);
  }
  // The cell of the row whose window starts at ws: the point t with ws + resolution in
  // (t - step, t]; nullptr when that point is out of range.
  RowAccumulator* cell(std::size_t s, std::int64_t ws) {
    const std::int64_t end = ws + resolution_;
    const std::int64_t rel = end - start_ + step_ - 1;
    if (end <= start_ - step_ || rel < 0) return nullptr;
    const auto k = static_cast<std::size_t>(rel / step_);
    if (k >= points_) return nullptr;
    auto& row = cells_[s];
    if (row.empty()) row.resize(points_);
    return &row[k];
  }
  // The accumulators of row s: none, or one per point (empty() where no row reached it).
  std::vector<RowAccumulator>& row(std::size_t s) { return cells_[s]; }
  std::size_t rows() const { return cells_.size(); }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  std::size_t row_of(std::size_t i) const { return group_of_.empty() ? i : group_of_[i]; }

  const std::vector<std::uint64_t>& ids_;
  const std::vector<std::uint32_t>& group_of_;
  std::int64_t start_, step_, resolution_;
  std::size_t points_;
  std::vector<std::vector<RowAccumulator>> cells_;
  std::size_t last_ = static_cast<std::size_t>(-1);
};

// The row without the sketches the scan does not read.
PartRow wanted(PartRow row, const ScanRequest& req) {
  if (!req.histogram) row.histogram = {};
  if (!req.distinct) row.distinct = {};
  if (!req.topk) row.topk = {};
  return row;
}

}  // namespace

Result<ScanResult> Store::Impl::scan(const ScanRequest& req) const {
  if (req.step_ms <= 0 || req.end_ms <= req.start_ms) {
    return Status::invalid_argument(
        "scan: need step_ms > 0 and end_ms > start_ms (got start " + std::to_string(req.start_ms) +
        ", end " + std::to_string(req.end_ms) + ", step " + std::to_string(req.step_ms) + ")");
  }
  const auto& tiers = options_.tiers_ms;
  std::size_t ti = 0;
  if (req.tier_ms) {
    ti = tier_index(*req.tier_ms);
    if (ti == tiers.size()) {
      return Status::invalid_argument("scan: no tier of " + std::to_string(*req.tier_ms) + " ms");
    }
  } else {
    for (std::size_t i = 0; i < tiers.size(); ++i) {
      // Rows of the tier must partition every (t - step, t]: the step and the points' phase
      // (start) are multiples of its resolution. (An instant query at 12:34:56 with a 1 h range
      // reads the 10 s tier: the 1 h rows end on the hour.)
      if (req.step_ms % tiers[i] == 0 &&
          floor_div(req.start_ms, tiers[i]) * tiers[i] == req.start_ms) {
        ti = i;
      }
    }
  }
  const std::uint32_t tier_ms = tiers[ti];
  const auto points =
      static_cast<std::size_t>((req.end_ms - req.start_ms + req.step_ms - 1) / req.step_ms);
  std::vector<std::uint64_t> ids;
  if (req.series_ids) {
    ids = *req.series_ids;
    if (!std::is_sorted(ids.begin(), ids.end()) ||
        std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return Status::invalid_argument("scan: series_ids must be sorted and unique");
    }
  } else {
    ES_ASSIGN_OR_RETURN(ids, catalog_->select(req.tenant, req.matchers));
  }
  std::size_t rows = ids.size();
  if (!req.group_of.empty()) {
    if (!req.series_ids || req.group_of.size() != ids.size()) {
      return Status::invalid_argument("scan: group_of needs series_ids and one group per id");
    }
    rows = std::size_t{*std::max_element(req.group_of.begin(), req.group_of.end())} + 1;
    if (rows > ids.size()) {
      return Status::invalid_argument("scan: more groups than series");
    }
  }
  ScanResult result;
  result.tier_ms = tier_ms;
  if (ids.empty()) return result;
  if (points > options_.max_scan_cells / rows) {
    return Status::resource_exhausted("scan: " + std::to_string(rows) + " series x " +
                                      std::to_string(points) + " points exceed max_scan_cells " +
                                      std::to_string(options_.max_scan_cells) +
                                      "; narrow the matchers, shorten the range or raise the step");
  }
  // Window starts of the rows that can reach a point: ends in (start - step, last point].
  const std::int64_t lo = req.start_ms - req.step_ms - tier_ms;  // exclusive
  const std::int64_t hi =
      req.start_ms + static_cast<std::int64_t>(points - 1) * req.step_ms - tier_ms;
  ScanGrid grid(ids, req.group_of, rows, req.start_ms, req.step_ms, tier_ms, points);
  std::uint64_t sketch_errors = 0;

  std::shared_ptr<const PartSet> parts;
  {
    // The memtable and the part set are read under one shared lock: a flush swaps one for the
    // other under the exclusive lock, so every row is seen exactly once.
    std::shared_lock lock(mem_mu_);
    parts = parts_snapshot();
    auto it = memtables_.find(req.tenant);
    if (it != memtables_.end()) {
      // The memtable holds the finest tier; a coarser tier's row is the merge of its fine rows.
      it->second.for_each([&](const PartRow& row) {
        const std::int64_t ws = floor_div(row.window_start, tier_ms) * tier_ms;
        if (ws <= lo || ws > hi) return;
        const std::size_t s = grid.series_index(row.series_id);
        if (s == ScanGrid::npos) return;
        if (RowAccumulator* c = grid.cell(s, ws)) {
          if (!c->add_decoded(wanted(row, req)).ok()) ++sketch_errors;
          ++result.rows_read;
        }
      });
    }
  }

  Bytes scratch;
  for (const auto& p : *parts) {
    const ManifestPart& m = p->meta;
    if (m.tenant != req.tenant || m.tier_ms != tier_ms || m.max_ws <= lo || m.min_ws > hi) {
      continue;
    }
    const auto& index = p->reader->index();
    for (std::size_t b = 0; b < index.size(); ++b) {
      const BlockIndexEntry& e = index[b];
      // Any selected series inside the block's key range?
      auto first = std::lower_bound(ids.begin(), ids.end(), e.first_series);
      if (first == ids.end() || *first > e.last_series) continue;
      if (e.first_series == e.last_series && (e.last_ws <= lo || e.first_ws > hi)) continue;
      auto block = p->reader->read_block(b);
      if (!block.ok()) {
        ++corrupt_blocks_;
        ++result.blocks_skipped_corrupt;
        spdlog::error("store {}: scan skipped a block: {}", dir_, block.status().to_string());
        continue;
      }
      ++result.blocks_read;
      const PartBlock& blk = *block;
      const std::size_t n = blk.rows();
      std::size_t i = 0;
      while (i < n) {
        const std::uint64_t sid = blk.series_id(i);
        std::size_t j = i;
        while (j < n && blk.series_id(j) == sid) ++j;
        const std::size_t s = grid.series_index(sid);
        if (s != ScanGrid::npos) {
          // Rows of one series are sorted by time: binary search the range's start.
          const auto& ws = blk.window_starts();
          std::size_t k = static_cast<std::size_t>(
              std::upper_bound(ws.begin() + static_cast<std::ptrdiff_t>(i),
                               ws.begin() + static_cast<std::ptrdiff_t>(j), lo) -
              ws.begin());
          for (; k < j && ws[k] <= hi; ++k) {
            RowAccumulator* c = grid.cell(s, ws[k]);
            if (c == nullptr) continue;
            if (!c->add_decoded(wanted(blk.row(k, scratch), req)).ok()) ++sketch_errors;
            ++result.rows_read;
          }
        }
        i = j;
      }
    }
  }
  if (sketch_errors > 0) {
    spdlog::warn("store {}: scan of tenant '{}': {} rows had sketches that did not merge", dir_,
                 req.tenant, sketch_errors);
  }

  const bool grouped = !req.group_of.empty();
  for (std::size_t s = 0; s < grid.rows(); ++s) {
    auto& row = grid.row(s);
    if (row.empty()) continue;
    SeriesPoints sp;
    sp.series_id = grouped ? s : ids[s];
    if (!grouped) {
      if (auto info = catalog_->info(ids[s])) sp.key = std::move(info->key);
    }
    for (std::size_t k = 0; k < row.size(); ++k) {
      if (row[k].empty()) continue;
      auto agg = std::move(row[k]).to_aggregate();
      if (!agg.ok()) {
        spdlog::warn("store {}: {} {} point {}: {}", dir_, grouped ? "group" : "series",
                     sp.series_id, k, agg.status().to_string());
        continue;
      }
      sp.points.push_back(
          {req.start_ms + static_cast<std::int64_t>(k) * req.step_ms, std::move(agg).value()});
    }
    if (!sp.points.empty()) result.series.push_back(std::move(sp));
  }
  return result;
}

}  // namespace edgesketch::store
