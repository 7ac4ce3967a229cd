// The aggregator: turns parsed readings into closed window records (WindowRecord) grouped into
// WindowBatches for the outbox. One thread owns it (the agent's aggregator thread); it does no
// I/O and takes time from an injected Clock.
//
// Semantics (docs/agent.md, "Windowing")
// -------------------------------------
//  - Every reading is checked against the agent's clock first: a timestamp more than
//    max_future_ms ahead of now or more than max_past_ms behind it is rejected and counted
//    (clock_future / clock_past), as is a non-finite numeric value (non_finite). A reading that
//    no rule matches is counted as unmatched.
//  - Each rule whose glob matches the metric and whose `where` condition (if any) holds for the
//    reading maps it to a series (a reading every matching rule's condition refuses counts as
//    unmatched; each refusal counts in where_skipped): metric + the rule's group_by tags (sorted by
//    key; "device" is the device id; an absent tag is left out).
//  - Windows are event-time tumbling windows of the rule's window_ms, aligned to the Unix epoch.
//    Each series has its own watermark = the largest timestamp it has seen - allowed_lateness_ms;
//    a window closes as soon as the watermark passes its end. (Per series, so one device with a
//    fast clock cannot close everyone else's windows early.) A series that receives nothing for
//    idle_timeout_ms of wall clock has all its windows closed by poll().
//  - A reading for a window that already closed (its end is at or before the series' watermark
//    or before the end of a window the series already closed) goes into a *delta* window of the
//    same start, flagged delta; the collector merges it into what it has. A delta window closes
//    delta_hold_ms of wall clock after it opened (poll()), so a late burst becomes one record.
//  - Numeric readings feed count/sum/min/max and the histogram; label readings count and feed
//    distinct/top-K when those rank the label. A distinct/top-K of a tag (or "device") takes that
//    tag's value from every reading that has it, numeric or label.
//
// Journal positions: add() takes the journal record number its readings came from (0 = not
// journaled). Each open window remembers the smallest record that fed it; take_batches() reports
// journal_upto = the highest record number r such that every reading fed from records <= r is in
// a closed window, plus the close marks replay needs to count no reading twice (see
// take_batches(), set_replay_fence() and window/close_marks.h).
//
// Cost: add() does no allocation per reading in steady state (series keys are hashed with XXH3
// and looked up in an open-addressing table; a new series or a new window allocates its key and
// sketches once). Memory is bounded by max_series.
//
// Thread safety: not thread-safe; one thread calls everything. stats() returns a copy.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"
#include "window/close_marks.h"
#include "window/rule.h"

namespace edgesketch::agent {

struct WindowOptions {
  // A window closes when its series has seen a timestamp this far past the window's end.
  std::int64_t allowed_lateness_ms = 5'000;
  // poll() closes every window of a series that received nothing for this long (wall clock).
  std::int64_t idle_timeout_ms = 30'000;
  // poll() closes a delta window this long (wall clock) after its first late reading.
  std::int64_t delta_hold_ms = 5'000;
  // Clock sanity: readings more than this far ahead of the agent's clock are rejected.
  std::int64_t max_future_ms = 5 * 60'000;
  // Clock sanity: readings more than this far behind the agent's clock are rejected. Keep it
  // below the collector's wire::Limits::max_past_ms (30 days) or it will reject the records.
  std::int64_t max_past_ms = 7LL * 24 * 3600 * 1000;
};

struct AggregatorOptions {
  // Copied into every WindowBatch.
  std::string tenant;
  std::string gateway_id;
  // Empty: {default_rule()}.
  std::vector<RuleSpec> rules;
  WindowOptions window;
  // Series kept at most (open or recently closed); readings of further new series are rejected
  // and counted (too_many_series) until idle series are retired.
  std::size_t max_series = 200'000;
  // A series with no open window is forgotten after this long without readings (wall clock).
  // Until then it remembers its watermark, so late readings become delta records.
  std::int64_t series_retention_ms = 10 * 60'000;
  // Bounds of one WindowBatch: records, and an estimate of the encoded bytes (kept below the
  // collector's limits.max_payload_bytes).
  std::size_t max_records_per_batch = 2'000;
  std::size_t max_batch_bytes = 512u << 10;
  // Rule windows are checked against these (min/max window) and names against max_name_bytes.
  wire::Limits limits;
  // Wall clock for clock sanity, idle timeouts and created_ms; nullptr = the system clock. Not
  // owned; must outlive the aggregator.
  const Clock* clock = nullptr;
};

// Why a reading was rejected; the names are metric labels.
enum class RejectReason : std::uint8_t {
  kClockFuture = 0,  // "clock_future"
  kClockPast,        // "clock_past"
  kNonFinite,        // "non_finite": NaN or infinite value
  kTooManySeries,    // "too_many_series": max_series reached
};
inline constexpr std::size_t kRejectReasons = 4;
std::string_view reject_reason_name(RejectReason reason);

// Counters since create(); gauges as of the last call.
struct AggregatorStats {
  std::uint64_t readings = 0;   // handed to add()
  std::uint64_t accepted = 0;   // passed clock sanity and matched at least one rule
  std::uint64_t unmatched = 0;  // no rule matched the metric, or no matching rule's where held
  // (reading, rule) pairs a rule's where refused, by rule name: the rules in effect that have a
  // where, then rules of earlier rule sets (SIGHUP) that are gone; counts carry across reloads
  // by name.
  std::vector<std::pair<std::string, std::uint64_t>> where_skipped;
  std::array<std::uint64_t, kRejectReasons> rejected{};  // index = RejectReason
  std::uint64_t late_readings = 0;                       // went into a delta window
  std::uint64_t windows_closed = 0;                      // records produced, deltas included
  std::uint64_t deltas_closed = 0;                       // of which delta records
  std::uint64_t batches = 0;          // WindowBatches handed out by take_batches()
  std::uint64_t series_retired = 0;   // series forgotten after series_retention_ms
  std::uint64_t replay_skipped = 0;   // (reading, rule) pairs the replay fence kept out
  std::uint64_t open_series = 0;      // gauge: series known
  std::uint64_t open_windows = 0;     // gauge: windows open
  std::uint64_t sketch_bytes = 0;     // gauge: memory_bytes() of the open windows' sketches
  std::uint64_t pending_records = 0;  // gauge: closed, not yet taken
};

// What take_batches() hands over.
struct ClosedBatches {
  // Each within max_records_per_batch / max_batch_bytes; seq is left 0 (the outbox assigns it).
  std::vector<wire::WindowBatch> batches;
  // Every reading that add() received from journal records <= journal_upto is in a closed
  // window (in these batches or earlier ones): pass it to Outbox::append with the *last* batch
  // and 0 with the others (the outbox only ever raises it), so a crash between two appends
  // replays what the later batches hold. With several inputs feeding records out of order the
  // caller must also cap it below the oldest record it appended to the journal but has not fed
  // yet. 0 = nothing to report.
  std::uint64_t journal_upto = 0;
  // marks[i]: the close marks of the windows in batches[i] (those fed from journal records).
  // Persist them (close_marks.h) right after batches[i] is committed, and hand them to
  // set_replay_fence() on restart so replay does not count those readings again.
  std::vector<std::vector<CloseMark>> marks;
};

// The heap a closed batch holds (its records, their keys and sketches): what keeping it in
// memory costs, an estimate on the high side. O(records).
std::size_t window_batch_memory_bytes(const wire::WindowBatch& batch);

class Aggregator {
 public:
  // kInvalidArgument naming the rule and field for a bad rule or bad options.
  static Result<std::unique_ptr<Aggregator>> create(AggregatorOptions options);
  ~Aggregator();
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // Feeds readings (from one payload, journal record `record_no`, 0 = not journaled). Closes
  // windows whose series watermark passed their end. Never fails: what it cannot use it counts.
  void add(std::span<const wire::Reading> readings, std::uint64_t record_no = 0);

  // Closes idle series' windows and delta windows past their hold, retires old series. Call it
  // every 100 ms .. 1 s from the aggregator thread.
  void poll();

  // Closes every open window (SIGTERM, before the final take_batches()).
  void flush_all();

  // Replaces the rules (SIGHUP). Open windows of rules that are unchanged (same name, same
  // spec) stay open; those of changed or removed rules are closed into pending records first.
  // On error (a bad rule) nothing changes.
  Status reload_rules(std::vector<RuleSpec> rules);

  // True when closed records wait for take_batches().
  bool has_pending() const { return !closed_.batches.empty(); }

  // Hands over every closed record as WindowBatches and the journal position they settle.
  ClosedBatches take_batches();

  // Replay after a restart: readings from journal record r that would go into a window with a
  // mark whose fed_upto >= r are skipped for that window's rule (counted in replay_skipped).
  // Set it before replaying, clear it afterwards (it costs a lookup per reading while set).
  void set_replay_fence(std::span<const CloseMark> marks);
  void clear_replay_fence();

  // Smallest journal record that still feeds an open window; 0 when none does.
  std::uint64_t min_open_record() const;

  // O(series): walks the open windows for the gauges.
  AggregatorStats stats() const;
  const std::vector<RuleSpec>& rules() const { return rule_specs_; }

 private:
  struct CompiledRule;
  struct OpenWindow;
  struct Series;
  class SeriesIndex;

  explicit Aggregator(AggregatorOptions options);
  Status compile(const std::vector<RuleSpec>& specs, std::vector<CompiledRule>& out) const;
  const std::vector<std::uint32_t>& rules_for(const std::string& metric);
  // False when the series limit kept the reading out. `same_key`: the previous reading had the
  // same metric, device and tags and this rule took it (its series can be reused).
  bool add_to_rule(std::uint32_t rule_index, const wire::Reading& r, std::uint64_t record_no,
                   std::int64_t now_ms, bool same_key);
  // values[i]: the reading's value of group key i, or nullptr.
  bool series_matches(const Series& s, std::uint32_t rule_index, const std::string& metric,
                      const std::string* const* values, std::size_t groups) const;
  Series* find_or_create_series(std::uint32_t rule_index, const wire::Reading& r,
                                std::uint64_t hash, const std::string* const* values);
  // Applies the numeric values add() staged (prefetching their histogram buckets first).
  void flush_staged();
  void close_window(Series& s, std::size_t window_index);
  void close_all_windows(Series& s);
  // Appends a closed record (and its mark) to the last batch of closed_, or to a new one when it
  // would exceed max_records_per_batch / max_batch_bytes.
  void emit(wire::WindowRecord rec, const CloseMark& mark);
  void retire_series(std::int64_t now_ms, bool force_rebuild);
  void rebuild_index();

  AggregatorOptions options_;
  std::unique_ptr<Clock> owned_clock_;  // when options_.clock is null
  const Clock& clock_;
  std::vector<RuleSpec> rule_specs_;
  std::vector<CompiledRule> rules_;
  // metric name -> indices of the rules it matches (bounded; see rules_for()).
  std::unordered_map<std::string, std::vector<std::uint32_t>> metric_rules_;
  std::string last_metric_;
  const std::vector<std::uint32_t>* last_rules_ = nullptr;
  std::vector<std::uint32_t> scratch_rules_;
  std::vector<Series> series_;
  std::unique_ptr<SeriesIndex> index_;
  // Closed records, cut into batches as they close (each record is held once: no list of
  // records waits to be cut up), until take_batches(); created_ms and journal_upto are set then.
  ClosedBatches closed_;
  std::size_t closed_batch_bytes_ = 0;  // estimate_record_bytes() of closed_.batches.back()
  std::size_t closed_records_ = 0;
  // Numeric values of the current add() call not yet applied; each points into an open window,
  // so they are flushed before any window is created, moved or closed.
  struct StagedValue {
    sketch::WindowAggregate* agg;
    double value;
  };
  std::vector<StagedValue> staged_;
  struct FenceKey {
    std::uint64_t series_hash;
    std::int64_t window_start_ms;
    friend bool operator==(const FenceKey&, const FenceKey&) = default;
  };
  struct FenceKeyHash {
    std::size_t operator()(const FenceKey& k) const {
      return static_cast<std::size_t>(
          k.series_hash ^ (static_cast<std::uint64_t>(k.window_start_ms) * 0x9e3779b97f4a7c15ull));
    }
  };
  std::unordered_map<FenceKey, std::uint64_t, FenceKeyHash> replay_fence_;
  // where_skipped of rules replaced by reload_rules(), by name.
  std::map<std::string, std::uint64_t> retired_where_skipped_;
  // Numbers the readings that reach the rules (CompiledRule::took_seq).
  std::uint64_t rule_seq_ = 0;
  std::uint64_t max_record_fed_ = 0;
  std::int64_t last_retire_ms_ = 0;
  AggregatorStats stats_;
};

}  // namespace edgesketch::agent
