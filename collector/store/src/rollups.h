// Label rollups: for each configured label set R (StoreOptions::rollups), the store keeps, next
// to the stored series, one series per metric and per combination of R's values that merges
// every record of that metric with those values, window by window (exact: sketches merge
// exactly). Queries such as `histogram_quantile(0.99, sum by (site) (m))` then read one series
// per site instead of every series of every site.
//
// A rollup series is an ordinary catalog series whose tags are R's labels (those the records
// have) plus the reserved tag `__rollup__` = R's names sorted and joined by ','. It is written
// by the same apply step as the records it merges (ingest and WAL replay alike), so it goes
// through the WAL, tiers, merges and retention with them and is exact after any crash.
//
// A rollup is complete only for windows after it was configured: since_ms (persisted in
// <dir>/ROLLUPS) is the end of every window stored when the set first appeared, rounded up to
// the coarsest tier, so no row at or after since_ms holds data from before. Removing a set from
// the configuration forgets its since_ms (adding it back starts again).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/env/env.h"
#include "edgesketch/store/store.h"
#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::store {

using RollupSet = RollupInfo;

// Normalizes configured sets (sorted, unique, non-empty, no reserved names); errors name the set.
Result<std::vector<RollupSet>> make_rollup_sets(const std::vector<std::vector<std::string>>& sets);

// Appends to `out` the rollup records of `records`: one per set, metric, values of the set's
// labels, window, delta flag and sketch subjects, merging every record that maps to it. A
// record's sketches are decoded only when it starts a rollup record or carries more than a
// histogram; histograms merge straight from their bytes. Records whose sketches do not merge
// into the rollup record (the store's apply counts that conflict like any other) get one of
// their own. Errors: a record whose sketches do not decode (the caller's decoder validated them).
Status expand_rollups(const std::vector<RollupSet>& sets,
                      std::span<const wire::WindowRecordView> records,
                      std::vector<wire::WindowRecord>& out);

// OK unless a record carries a tag whose key starts with "__" (reserved for the store).
Status check_reserved_tags(std::span<const wire::WindowRecordView> records);

// <dir>/ROLLUPS: one line per set, "<name> <since_ms>".
Result<std::vector<std::pair<std::string, std::int64_t>>> read_rollup_state(
    env::Env& env, const std::string& path);
Status write_rollup_state(env::Env& env, const std::string& path,
                          const std::vector<RollupSet>& sets);

}  // namespace edgesketch::store
