// `edgesketch-sim export`: the numeric readings of a record file in another system's import
// format, so a peer can load exactly what the agents were sent (bench/peers/).
//
// Format "vm-jsonl" is VictoriaMetrics' /api/v1/import format: one JSON object per line,
//   {"metric":{"__name__":"vibration","device":"dev-0007","line":"line-2","site":"site-07"},
//    "values":[0.41,0.39],"timestamps":[1704067200000,1704067200010]}
// each line up to 1,000 points of one series (device, metric) in the order the record holds
// them, labels sorted by name (the device's record tags plus `device`). Values in the shortest
// form that reads back to the same double.
//
// Left out, and counted in the summary: duplicate copies of messages (record::kFlagDuplicate:
// a peer without deduplication would count them twice, the edgesketch collector counts them
// once), categorical readings (labels are not floats) and non-finite values (JSON has none).
// Memory: the points not yet written, at most 1,000 per series and 4 Mi in all (64 MiB).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "edgesketch/common/status.h"

namespace edgesketch::sim {

struct ExportOptions {
  std::string record_path;
  std::string format = "vm-jsonl";
};

struct ExportSummary {
  std::uint64_t readings_exported = 0;
  std::uint64_t duplicate_readings_skipped = 0;
  std::uint64_t categorical_readings_skipped = 0;
  std::uint64_t non_finite_readings_skipped = 0;
  std::uint64_t lines = 0;
};

// kInvalidArgument for an unknown format; the reader's errors for a bad record; kIoError when
// writing fails.
Result<ExportSummary> export_record(const ExportOptions& options, std::FILE* out);

}  // namespace edgesketch::sim
