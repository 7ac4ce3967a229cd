// Coarsening: merging window batches into wider windows so a full outbox keeps old data at a
// lower time resolution instead of dropping it. Exact for count, min, max and every sketch
// (WindowAggregate::merge); sums are floating-point sums (exact while they are integers < 2^53).
#pragma once

#include <cstdint>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::agent {

struct CoarsenResult {
  // The merged batches, seq = 0 and created_ms = 0 (the outbox assigns both). Each fits
  // limits.max_records_per_batch and limits.max_payload_bytes whatever seq and created_ms get.
  std::vector<wire::WindowBatch> batches;
  std::uint64_t records_in = 0;
  std::uint64_t records_out = 0;
  // Records kept apart because their aggregates refused to merge (sketch parameters differ).
  std::uint64_t unmergeable_records = 0;
};

// Merges the records of `inputs` into windows of `window_ms`: records with the same series key,
// distinct_of and topk_of whose windows fall into the same coarse window
// [floor(start / window_ms) * window_ms, + window_ms) become one record (delta when any input
// was). A record whose window_ms does not divide `window_ms` keeps its own window and merges only
// with records of that same window. Batches of different (tenant, gateway_id) never share an
// output batch. Output order is deterministic: records in order of first appearance.
// Errors: kInvalidArgument when window_ms is 0; kOutOfRange when one merged record alone does
// not fit limits.max_payload_bytes.
Result<CoarsenResult> coarsen_window_batches(std::vector<wire::WindowBatch> inputs,
                                             std::uint32_t window_ms, const wire::Limits& limits);

}  // namespace edgesketch::agent
