#include "record_export.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

#include "edgesketch/common/json_string.h"
#include "edgesketch/common/number_text.h"
#include "record_format.h"
#include "record_reader.h"

namespace edgesketch::sim {
namespace {

// `{"__name__":"<metric>",<sorted labels>}` of each (device, metric), built on first use.
class LabelSetCache {
 public:
  const std::string& get(const RecordReader& reader, std::uint32_t device_id,
                         std::uint32_t metric_id) {
    if (device_id >= sets_.size()) sets_.resize(device_id + 1);
    auto& per_metric = sets_[device_id];
    if (metric_id >= per_metric.size()) per_metric.resize(metric_id + 1);
    std::string& text = per_metric[metric_id];
    if (text.empty()) text = build(reader.devices()[device_id], reader.metrics()[metric_id]);
    return text;
  }

 private:
  static std::string build(const RecordDevice& device, const RecordMetric& metric) {
    std::vector<std::pair<std::string, std::string>> labels = device.tags;
    labels.erase(std::remove_if(labels.begin(), labels.end(),
                                [](const auto& kv) { return kv.first == "device"; }),
                 labels.end());
    labels.emplace_back("device", device.name);
    std::sort(labels.begin(), labels.end());
    std::string text = "{\"__name__\":";
    append_json_string(text, metric.name);
    for (const auto& [key, value] : labels) {
      text += ',';
      append_json_string(text, key);
      text += ':';
      append_json_string(text, value);
    }
    text += '}';
    return text;
  }

  std::vector<std::vector<std::string>> sets_;
};

// The points of one (device, metric) not yet written.
struct PendingSeries {
  std::uint32_t device_id = 0;
  std::uint32_t metric_id = 0;
  std::vector<double> values;
  std::vector<std::int64_t> timestamps;
};

class VmJsonlWriter {
 public:
  VmJsonlWriter(const RecordReader& reader, std::FILE* out, ExportSummary& summary)
      : reader_(reader), out_(out), summary_(summary) {}

  Status add(std::uint32_t device_id, std::uint32_t metric_id, double value, std::int64_t ts) {
    if (device_id >= index_.size()) index_.resize(device_id + 1);
    auto& per_metric = index_[device_id];
    if (metric_id >= per_metric.size()) per_metric.resize(metric_id + 1, kNone);
    std::uint32_t& slot = per_metric[metric_id];
    if (slot == kNone) {
      slot = static_cast<std::uint32_t>(pending_.size());
      pending_.push_back({device_id, metric_id, {}, {}});
    }
    PendingSeries& p = pending_[slot];
    p.values.push_back(value);
    p.timestamps.push_back(ts);
    ++buffered_;
    if (p.values.size() >= kPointsPerLine) ES_RETURN_IF_ERROR(write(p));
    if (buffered_ >= kMaxBufferedPoints) return flush();
    return Status();
  }

  // Writes every series' pending points, in the order the series first appeared.
  Status flush() {
    for (PendingSeries& p : pending_) ES_RETURN_IF_ERROR(write(p));
    return Status();
  }

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  // Points per line: VictoriaMetrics reads lines of any length, this keeps each one short.
  static constexpr std::size_t kPointsPerLine = 1000;
  // Points held across all series before everything is written (16 bytes each: 64 MiB).
  static constexpr std::size_t kMaxBufferedPoints = std::size_t{4} << 20;

  Status write(PendingSeries& p) {
    if (p.values.empty()) return Status();
    line_ = "{\"metric\":";
    line_ += labels_.get(reader_, p.device_id, p.metric_id);
    line_ += ",\"values\":[";
    for (std::size_t i = 0; i < p.values.size(); ++i) {
      if (i > 0) line_ += ',';
      append_double(line_, p.values[i]);
    }
    line_ += "],\"timestamps\":[";
    for (std::size_t i = 0; i < p.timestamps.size(); ++i) {
      if (i > 0) line_ += ',';
      append_int(line_, p.timestamps[i]);
    }
    line_ += "]}\n";
    if (std::fwrite(line_.data(), 1, line_.size(), out_) != line_.size()) {
      return Status::io_error("export: write failed");
    }
    summary_.readings_exported += p.values.size();
    ++summary_.lines;
    buffered_ -= p.values.size();
    p.values.clear();
    p.timestamps.clear();
    return Status();
  }

  const RecordReader& reader_;
  std::FILE* out_;
  ExportSummary& summary_;
  LabelSetCache labels_;
  std::vector<std::vector<std::uint32_t>> index_;  // [device][metric] -> pending_ slot
  std::vector<PendingSeries> pending_;
  std::size_t buffered_ = 0;
  std::string line_;
};

}  // namespace

Result<ExportSummary> export_record(const ExportOptions& options, std::FILE* out) {
  if (options.format != "vm-jsonl") {
    return Status::invalid_argument("export: unknown format '" + options.format +
                                    "' (known: vm-jsonl)");
  }
  ES_ASSIGN_OR_RETURN(auto reader, RecordReader::open(options.record_path));
  ExportSummary summary;
  VmJsonlWriter writer(*reader, out, summary);
  RecordMessage message;
  while (true) {
    ES_ASSIGN_OR_RETURN(bool more, reader->next(message));
    if (!more) break;
    if ((message.header.flags & record::kFlagDuplicate) != 0) {
      summary.duplicate_readings_skipped += message.readings.size();
      continue;
    }
    for (const RecordedReading& r : message.readings) {
      if (reader->metrics()[r.metric_id].categorical) {
        ++summary.categorical_readings_skipped;
      } else if (!std::isfinite(r.value)) {
        ++summary.non_finite_readings_skipped;
      } else {
        ES_RETURN_IF_ERROR(writer.add(message.header.device_id, r.metric_id, r.value, r.ts_ms));
      }
    }
  }
  ES_RETURN_IF_ERROR(writer.flush());
  if (std::fflush(out) != 0) return Status::io_error("export: write failed");
  return summary;
}

}  // namespace edgesketch::sim
