// coarsen_window_batches: group records by (series, coarse window), merge, repack within limits.
#include "outbox/coarsen.h"

#include <limits>
#include <string>
#include <unordered_map>

#include "edgesketch/wire/codec.h"

namespace edgesketch::agent {

namespace {

void key_part(std::string& k, std::string_view s) {
  k += std::to_string(s.size());
  k += ':';
  k += s;
}

// Identity of an output record: source (tenant, gateway), series, sketch targets and window.
std::string merge_key(const wire::WindowBatch& b, const wire::WindowRecord& r) {
  std::string k;
  key_part(k, b.tenant);
  key_part(k, b.gateway_id);
  key_part(k, r.key.metric);
  k += std::to_string(r.key.tags.size());
  for (const wire::Tag& t : r.key.tags) {
    key_part(k, t.key);
    key_part(k, t.value);
  }
  key_part(k, r.distinct_of);
  key_part(k, r.topk_of);
  k += std::to_string(r.window_start_ms);
  k += '/';
  k += std::to_string(r.window_ms);
  return k;
}

std::int64_t floor_to(std::int64_t v, std::int64_t step) {
  std::int64_t q = v / step;
  if (v % step != 0 && v < 0) --q;
  return q * step;
}

// Encoded size of `batch` with `records` as the only record, minus the same batch without it:
// protobuf concatenates repeated fields, so a batch's size is the header's plus these.
std::size_t encoded_record_bytes(const wire::WindowBatch& header, const wire::WindowRecord& r,
                                 std::size_t header_bytes) {
  wire::WindowBatch one = header;
  one.records.push_back(r);
  return wire::encode_window_batch(one).size() - header_bytes;
}

}  // namespace

Result<CoarsenResult> coarsen_window_batches(std::vector<wire::WindowBatch> inputs,
                                             std::uint32_t window_ms, const wire::Limits& limits) {
  if (window_ms == 0) return Status::invalid_argument("coarsen: window_ms is 0");
  CoarsenResult result;

  // One output group per (tenant, gateway_id), in order of first appearance.
  struct Group {
    std::string tenant;
    std::string gateway_id;
    std::vector<wire::WindowRecord> records;
  };
  std::vector<Group> groups;
  std::unordered_map<std::string, std::size_t> group_of;
  std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> record_of;

  for (wire::WindowBatch& b : inputs) {
    std::string gk;
    key_part(gk, b.tenant);
    key_part(gk, b.gateway_id);
    auto [git, gnew] = group_of.try_emplace(gk, groups.size());
    if (gnew) groups.push_back({b.tenant, b.gateway_id, {}});
    const std::size_t g = git->second;
    for (wire::WindowRecord& r : b.records) {
      ++result.records_in;
      if (r.window_ms != 0 && r.window_ms < window_ms && window_ms % r.window_ms == 0) {
        r.window_ms = window_ms;
        r.window_start_ms = floor_to(r.window_start_ms, window_ms);
      }
      auto [it, fresh] = record_of.try_emplace(merge_key(b, r), g, groups[g].records.size());
      if (fresh) {
        groups[g].records.push_back(std::move(r));
        continue;
      }
      wire::WindowRecord& into = groups[it->second.first].records[it->second.second];
      if (into.agg.merge(r.agg).ok()) {
        into.delta = into.delta || r.delta;
      } else {
        // Sketch parameters changed between the two (a rule edit): keep both, still exact.
        ++result.unmergeable_records;
        groups[g].records.push_back(std::move(r));
      }
    }
  }

  // Repack each group into batches within the limits, measuring with the widest seq and
  // created_ms so the caller's values always fit.
  for (Group& g : groups) {
    wire::WindowBatch header;
    header.tenant = g.tenant;
    header.gateway_id = g.gateway_id;
    header.seq = std::numeric_limits<std::uint64_t>::max();
    header.created_ms = std::numeric_limits<std::int64_t>::min();
    const std::size_t header_bytes = wire::encode_window_batch(header).size();
    wire::WindowBatch current;
    std::size_t current_bytes = header_bytes;
    auto flush = [&] {
      if (current.records.empty()) return;
      current.tenant = g.tenant;
      current.gateway_id = g.gateway_id;
      result.records_out += current.records.size();
      result.batches.push_back(std::move(current));
      current = wire::WindowBatch();
      current_bytes = header_bytes;
    };
    for (wire::WindowRecord& r : g.records) {
      const std::size_t n = encoded_record_bytes(header, r, header_bytes);
      if (header_bytes + n > limits.max_payload_bytes) {
        return Status::out_of_range("coarsen: a merged record of " + r.key.metric + " takes " +
                                    std::to_string(n) + " bytes, over max_payload_bytes " +
                                    std::to_string(limits.max_payload_bytes));
      }
      if (current_bytes + n > limits.max_payload_bytes ||
          current.records.size() >= limits.max_records_per_batch) {
        flush();
      }
      current.records.push_back(std::move(r));
      current_bytes += n;
    }
    flush();
  }
  return result;
}

}  // namespace edgesketch::agent
