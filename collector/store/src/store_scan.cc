// The scan path: series selection, tier choice, and merging memtable and part rows into step
// buckets.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "row_accumulator.h"
#include "store_impl.h"

namespace edgesketch::store {
namespace {

// One cell of a scan (a series or group at one point). Its histogram is, in turn: none; the
// copied bytes of its only row so far (not decoded: most cells of a query on a rollup or a
// coarse tier get one row); while its rows come one after the other (a series' windows within a
// step, read in key order), a run in the grid's shared merger, which at its end keeps the merge
// as an object in `hist`; once its rows interleave with other cells' (a group's series), its
// own dense merger, within the scan's dense budget (past it, runs again). At most one of
// bytes, hist and dense holds something; a histogram is decoded once and never serialized again
// (except where two threads' grids meet).
struct ScanCell {
  RowAccumulator acc;  // everything but the histogram
  Bytes bytes;         // not validated yet
  std::optional<sketch::ExpHistogram> hist;
  std::unique_ptr<sketch::ExpHistogramAccumulator> dense;

  bool holds_histogram() const { return !bytes.empty() || hist.has_value(); }
  std::size_t held_bytes() const { return hist ? hist->memory_bytes() : bytes.capacity(); }
  void release_held() {
    Bytes().swap(bytes);
    hist.reset();
  }
};

// What turns a cell's histogram into its answer; one per thread of the final phase.
struct CellFinisher {
  sketch::ExpHistogramAccumulator::Scratch scratch;

  // The quantile φ of a cell's histogram, which it then drops; nullopt when it has none or an
  // empty one. Copied bytes that do not decode: nullopt and kCorruption in `error`.
  std::optional<double> take_quantile(ScanCell& c, double phi, Status& error) {
    std::optional<double> q;
    if (c.dense) {
      if (!c.dense->empty() && c.dense->count() > 0) q = c.dense->quantile(phi);
      c.dense.reset();
    } else if (c.hist) {
      if (c.hist->count() > 0) q = c.hist->quantile(phi);
    } else if (!c.bytes.empty()) {
      Result<double> r = sketch::ExpHistogramAccumulator::quantile_of(c.bytes, phi, scratch);
      if (!r.ok()) {
        error = r.status();
      } else if (!std::isnan(*r)) {
        q = *r;
      }
    }
    c.release_held();
    return q;
  }
  // Leaves the cell's histogram in `hist` (dense buckets built into one and freed; copied bytes
  // decoded, or dropped with kCorruption when they do not decode).
  Status settle(ScanCell& c) {
    if (c.dense) {
      std::unique_ptr<sketch::ExpHistogramAccumulator> dense = std::move(c.dense);
      if (dense->empty()) return Status();
      Result<sketch::ExpHistogram> h = dense->to_histogram();
      if (!h.ok()) return h.status();
      c.hist = std::move(h).value();
      return Status();
    }
    if (c.bytes.empty()) return Status();
    Result<sketch::ExpHistogram> h = sketch::ExpHistogram::deserialize(c.bytes);
    Bytes().swap(c.bytes);
    if (!h.ok()) return h.status();
    c.hist = std::move(h).value();
    return Status();
  }
};

// Accumulators of one scan: one row per selected series (or per group of them), one lazily
// created cell per point.
class ScanGrid {
 public:
  ScanGrid(const std::vector<std::uint64_t>& ids, const std::vector<std::uint32_t>& group_of,
           std::size_t rows, std::int64_t start, std::int64_t step, std::int64_t resolution,
           std::size_t points, std::size_t dense_budget)
      : ids_(ids),
        group_of_(group_of),
        start_(start),
        step_(step),
        resolution_(resolution),
        points_(points),
        dense_budget_(dense_budget),
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
  ScanCell* cell(std::size_t s, std::int64_t ws) {
    const std::int64_t end = ws + resolution_;
    const std::int64_t rel = end - start_ + step_ - 1;
    if (end <= start_ - step_ || rel < 0) return nullptr;
    const auto k = static_cast<std::size_t>(rel / step_);
    if (k >= points_) return nullptr;
    auto& row = cells_[s];
    if (row.empty()) row.resize(points_);
    if (!row[k]) {
      row[k] = new_cell();
      used_ += sizeof(ScanCell);
    }
    return row[k];
  }

  // Merges one row into cell c. Errors are of the row's sketches or of bytes copied earlier
  // into the cell (dropped then); the scalars are merged regardless.
  Status add(ScanCell* c, const PartRow& row) {
    if (row.histogram.empty()) return c->acc.add_to_run(row, shared_);  // merger untouched
    PartRow rest = row;
    rest.histogram = {};
    const std::uint64_t before = c->acc.rows();
    Status first = c->acc.add_to_run(rest, shared_);
    if (c->acc.rows() == before) return first;  // the counts overflow: nothing merged
    Status s = add_histogram(c, row.histogram);
    return first.ok() ? s : first;
  }

  // Merges the cells of `other` (a grid of the same shape that scanned other blocks) into this
  // one; neither may have a run in progress (end_run() both after).
  Status absorb(ScanGrid& other) {
    Status first;
    auto keep = [&first](Status s) {
      if (first.ok() && !s.ok()) first = std::move(s);
    };
    Bytes h;
    for (std::size_t s = 0; s < cells_.size(); ++s) {
      auto& theirs = other.cells_[s];
      if (theirs.empty()) continue;
      auto& mine = cells_[s];
      if (mine.empty()) mine.resize(points_);
      for (std::size_t k = 0; k < theirs.size(); ++k) {
        if (!theirs[k]) continue;
        if (!mine[k]) {
          // The cell stays in the other grid's pool, which outlives this grid's use of it.
          used_ += sizeof(ScanCell);
          mine[k] = theirs[k];
          theirs[k] = nullptr;
          continue;
        }
        ScanCell& src = *theirs[k];
        ScanCell& dst = *mine[k];
        const std::uint64_t before = dst.acc.rows();
        keep(dst.acc.merge_except_histogram(src.acc));
        if (dst.acc.rows() != before) {
          // Cells split between two grids are few (at the grids' block boundaries): their
          // histograms travel as bytes.
          h.clear();
          if (src.dense && !src.dense->empty()) src.dense->serialize(h);
          if (src.hist) src.hist->serialize(h);
          if (!src.bytes.empty()) h = src.bytes;
          if (!h.empty()) keep(add_histogram(&dst, h));
        }
        src = ScanCell();  // its memory goes now; the slot with the pool
        theirs[k] = nullptr;
      }
    }
    return first;
  }

  // Merges serialized histogram bytes into cell c (see ScanCell for the cell's states).
  Status add_histogram(ScanCell* c, ByteSpan bytes) {
    ScanCell* const previous = last_cell_;
    last_cell_ = c;
    if (c->dense) return add_dense(c, bytes);
    if (c == run_) {
      if (run_started_) return shared_.add(bytes, scratch_);
      // The run's second row: now it takes the merger.
      shared_.reset();
      run_started_ = true;
      Status first = shared_.add(pending_, scratch_);
      Status s = shared_.add(bytes, scratch_);
      return first.ok() ? s : first;
    }
    Status first = Status();
    auto keep = [&first](Status s) {
      if (first.ok() && !s.ok()) first = std::move(s);
    };
    if (c->holds_histogram() && c != previous && used_ < dense_budget_) {
      // Rows of this cell interleave with other cells' rows: dense buckets from now on.
      c->dense = std::make_unique<sketch::ExpHistogramAccumulator>();
      keep(move_held(c, *c->dense));
      used_ += c->dense->memory_bytes();
      keep(add_dense(c, bytes));
      return first;
    }
    keep(end_run());
    run_ = c;
    if (!c->holds_histogram()) {
      // The cell's first histogram: copied, decoded only if a second row joins the run.
      pending_.assign(bytes.begin(), bytes.end());
      run_started_ = false;
      return first;
    }
    // More rows for a cell that holds a histogram: the run starts from it.
    shared_.reset();
    run_started_ = true;
    keep(move_held(c, shared_));
    keep(shared_.add(bytes, scratch_));
    return first;
  }

  // Merges the histogram cell c holds (object or copied bytes) into m and frees it there.
  Status move_held(ScanCell* c, sketch::ExpHistogramAccumulator& m) {
    Status s = c->hist ? m.add(*c->hist) : m.add(c->bytes, scratch_);
    used_ -= std::min(used_, c->held_bytes());
    c->release_held();
    return s;
  }

  Status add_dense(ScanCell* c, ByteSpan bytes) {
    const std::size_t before = c->dense->memory_bytes();
    Status s = c->dense->add(bytes, scratch_);
    used_ += c->dense->memory_bytes() - before;
    return s;
  }

  // Keeps the histogram of the run in progress in its cell (before reading the cells, and
  // whenever rows of another source follow).
  Status end_run() {
    ScanCell* c = run_;
    run_ = nullptr;
    if (c == nullptr) return Status();
    if (!run_started_) {
      c->bytes.assign(pending_.begin(), pending_.end());
      used_ += c->bytes.capacity();
      return Status();
    }
    run_started_ = false;
    if (shared_.empty()) return Status();
    Result<sketch::ExpHistogram> h = shared_.to_histogram();
    if (!h.ok()) return h.status();
    c->hist = std::move(h).value();
    used_ += c->hist->memory_bytes();
    return Status();
  }

  std::vector<ScanCell*>& row(std::size_t s) { return cells_[s]; }
  std::size_t used_bytes() const { return used_; }
  std::size_t rows() const { return cells_.size(); }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  std::size_t row_of(std::size_t i) const { return group_of_.empty() ? i : group_of_[i]; }

  const std::vector<std::uint64_t>& ids_;
  const std::vector<std::uint32_t>& group_of_;
  std::int64_t start_, step_, resolution_;
  std::size_t points_;
  std::size_t dense_budget_;
  std::size_t used_ = 0;  // bytes of cells, copied histograms and dense mergers
  // Cells come from a pool of fixed-size chunks (a scan creates one per series or group and point:
  // hundreds of thousands of them), freed with the grid.
  ScanCell* new_cell() {
    if (pool_used_ == kPoolChunk || pool_.empty()) {
      pool_.push_back(std::make_unique<ScanCell[]>(kPoolChunk));
      pool_used_ = 0;
    }
    return &pool_.back()[pool_used_++];
  }
  static constexpr std::size_t kPoolChunk = 256;
  std::vector<std::unique_ptr<ScanCell[]>> pool_;
  std::size_t pool_used_ = 0;
  std::vector<std::vector<ScanCell*>> cells_;
  std::size_t last_ = static_cast<std::size_t>(-1);
  sketch::ExpHistogramAccumulator shared_;
  sketch::ExpHistogramAccumulator::Scratch scratch_;
  ScanCell* run_ = nullptr;        // the cell whose rows are coming one after the other
  bool run_started_ = false;       // shared_ holds the run (else pending_ is its only row)
  Bytes pending_;                  // the run's first histogram until a second row comes
  ScanCell* last_cell_ = nullptr;  // the cell of the last histogram added
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
  if (req.quantile && !(*req.quantile >= 0 && *req.quantile <= 1)) {
    return Status::invalid_argument("scan: quantile must be in [0, 1]");
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
  ScanGrid grid(ids, req.group_of, rows, req.start_ms, req.step_ms, tier_ms, points,
                options_.scan_dense_bytes);
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
        if (result.rows_read > req.max_rows) return;
        const std::int64_t ws = floor_div(row.window_start, tier_ms) * tier_ms;
        if (ws <= lo || ws > hi) return;
        const std::size_t s = grid.series_index(row.series_id);
        if (s == ScanGrid::npos) return;
        if (ScanCell* c = grid.cell(s, ws)) {
          if (!grid.add(c, wanted(row, req)).ok()) ++sketch_errors;
          ++result.rows_read;
        }
      });
      if (!grid.end_run().ok()) ++sketch_errors;
    }
  }

  // The blocks to read: those of the tier's parts in range that may hold a selected series.
  struct BlockTask {
    const PartReader* reader;
    std::size_t block;
  };
  std::vector<BlockTask> tasks;
  std::uint64_t task_rows = 0;
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
      tasks.push_back({p->reader.get(), b});
      task_rows += e.rows;
    }
  }

  // Rows merged by all threads so far, against req.max_rows: every thread adds its rows after
  // each block and stops once the total is over the limit.
  std::atomic<std::uint64_t> rows_merged{result.rows_read};
  auto over_limit = [&] { return rows_merged.load(std::memory_order_relaxed) > req.max_rows; };

  // Reads tasks [from, to) into grid g.
  struct Counts {
    std::uint64_t rows_read = 0, blocks_read = 0, blocks_corrupt = 0, sketch_errors = 0;
  };
  auto scan_blocks = [&](std::size_t from, std::size_t to, ScanGrid& g, Counts& n) {
    Bytes scratch;
    for (std::size_t t = from; t < to && !over_limit(); ++t) {
      const std::uint64_t rows_before = n.rows_read;
      auto block = tasks[t].reader->read_block(tasks[t].block);
      if (!block.ok()) {
        ++corrupt_blocks_;
        ++n.blocks_corrupt;
        spdlog::error("store {}: scan skipped a block: {}", dir_, block.status().to_string());
        continue;
      }
      ++n.blocks_read;
      const PartBlock& blk = *block;
      const std::size_t rows_in_block = blk.rows();
      std::size_t i = 0;
      while (i < rows_in_block) {
        const std::uint64_t sid = blk.series_id(i);
        std::size_t j = i;
        while (j < rows_in_block && blk.series_id(j) == sid) ++j;
        const std::size_t s = g.series_index(sid);
        if (s != ScanGrid::npos) {
          // Rows of one series are sorted by time: binary search the range's start.
          const auto& ws = blk.window_starts();
          std::size_t k = static_cast<std::size_t>(
              std::upper_bound(ws.begin() + static_cast<std::ptrdiff_t>(i),
                               ws.begin() + static_cast<std::ptrdiff_t>(j), lo) -
              ws.begin());
          for (; k < j && ws[k] <= hi; ++k) {
            ScanCell* c = g.cell(s, ws[k]);
            if (c == nullptr) continue;
            if (!g.add(c, wanted(blk.row(k, scratch), req)).ok()) ++n.sketch_errors;
            ++n.rows_read;
          }
        }
        i = j;
      }
      rows_merged.fetch_add(n.rows_read - rows_before, std::memory_order_relaxed);
    }
    if (!g.end_run().ok()) ++n.sketch_errors;
  };

  // Large scans read their blocks on several threads, each into its own grid over a contiguous
  // share of the blocks (in key order, so a series' cells mostly stay in one grid); the grids are
  // then merged in order, which keeps the result deterministic.
  std::size_t threads = options_.scan_threads;
  if (threads == 0) threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
  threads = std::min(threads, tasks.size() / 2);
  if (task_rows < options_.scan_parallel_min_rows) threads = 1;
  std::vector<Counts> counts(std::max<std::size_t>(threads, 1));
  std::vector<std::unique_ptr<ScanGrid>> grids;  // the other threads' (their pools hold cells)
  if (threads <= 1) {
    scan_blocks(0, tasks.size(), grid, counts[0]);
  } else {
    std::vector<std::size_t> cut(threads + 1, tasks.size());
    cut[0] = 0;
    for (std::size_t t = 1; t < threads; ++t) cut[t] = tasks.size() * t / threads;
    for (std::size_t t = 1; t < threads; ++t) {
      grids.push_back(std::make_unique<ScanGrid>(ids, req.group_of, rows, req.start_ms, req.step_ms,
                                                 tier_ms, points,
                                                 options_.scan_dense_bytes / threads));
    }
    std::vector<std::thread> workers;
    for (std::size_t t = 1; t < threads; ++t) {
      workers.emplace_back([&, t] { scan_blocks(cut[t], cut[t + 1], *grids[t - 1], counts[t]); });
    }
    scan_blocks(cut[0], cut[1], grid, counts[0]);
    for (auto& w : workers) w.join();
    result.cell_bytes = grid.used_bytes();
    for (auto& g : grids) result.cell_bytes += g->used_bytes();
    for (auto& g : grids) {
      if (!grid.absorb(*g).ok()) ++sketch_errors;
    }
  }
  if (threads <= 1) result.cell_bytes = grid.used_bytes();
  for (const Counts& n : counts) {
    result.rows_read += n.rows_read;
    result.blocks_read += n.blocks_read;
    result.blocks_skipped_corrupt += n.blocks_corrupt;
    sketch_errors += n.sketch_errors;
  }
  if (!grid.end_run().ok()) ++sketch_errors;
  if (result.rows_read > req.max_rows) {
    result.rows_limit_exceeded = true;
    return result;
  }

  // The answers: each accumulator row's points (quantiles computed, histograms built) — on the
  // scan's threads too, each over a contiguous share of the rows, gathered in order.
  const bool grouped = !req.group_of.empty();
  auto finish_rows = [&](std::size_t from, std::size_t to, std::vector<SeriesPoints>& out,
                         std::uint64_t& errors) {
    CellFinisher f;
    for (std::size_t s = from; s < to; ++s) {
      auto& row = grid.row(s);
      if (row.empty()) continue;
      SeriesPoints sp;
      sp.points.reserve(static_cast<std::size_t>(
          std::count_if(row.begin(), row.end(), [](const ScanCell* c) { return c != nullptr; })));
      sp.series_id = grouped ? s : ids[s];
      if (!grouped) {
        if (auto info = catalog_->info(ids[s])) sp.key = std::move(info->key);
      }
      for (std::size_t k = 0; k < row.size(); ++k) {
        if (!row[k]) continue;
        ScanCell& cell = *row[k];
        row[k] = nullptr;
        std::optional<double> q;
        Status hs;
        if (req.histogram && req.quantile) {
          q = f.take_quantile(cell, *req.quantile, hs);
        } else {
          hs = f.settle(cell);
        }
        if (!hs.ok()) ++errors;
        auto agg = std::move(cell.acc).to_aggregate(std::move(cell.hist));
        cell = ScanCell();
        if (!agg.ok()) {
          spdlog::warn("store {}: {} {} point {}: {}", dir_, grouped ? "group" : "series",
                       sp.series_id, k, agg.status().to_string());
          continue;
        }
        sp.points.push_back(
            {req.start_ms + static_cast<std::int64_t>(k) * req.step_ms, std::move(agg).value(), q});
      }
      if (!sp.points.empty()) out.push_back(std::move(sp));
    }
  };
  const std::size_t finishers = std::min(threads, grid.rows());
  if (finishers <= 1) {
    finish_rows(0, grid.rows(), result.series, sketch_errors);
  } else {
    std::vector<std::vector<SeriesPoints>> parts_out(finishers);
    std::vector<std::uint64_t> errors(finishers, 0);
    std::vector<std::thread> workers;
    auto cut = [&](std::size_t t) { return grid.rows() * t / finishers; };
    for (std::size_t t = 1; t < finishers; ++t) {
      workers.emplace_back([&, t] { finish_rows(cut(t), cut(t + 1), parts_out[t], errors[t]); });
    }
    finish_rows(cut(0), cut(1), parts_out[0], errors[0]);
    for (auto& w : workers) w.join();
    for (std::size_t t = 0; t < finishers; ++t) {
      sketch_errors += errors[t];
      for (auto& sp : parts_out[t]) result.series.push_back(std::move(sp));
    }
  }
  if (sketch_errors > 0) {
    spdlog::warn("store {}: scan of tenant '{}': {} rows had sketches that did not merge", dir_,
                 req.tenant, sketch_errors);
  }
  return result;
}

}  // namespace edgesketch::store
