// The simulation loop (see sim_runner.h).
#include "sim_runner.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "record_format.h"

namespace edgesketch::sim {

SimRunner::SimRunner(Fleet& fleet, FaultInjector& faults, const RunOptions& options,
                     Transport& transport, RecordWriter* record, const Clock& clock,
                     const std::atomic<bool>* stop, std::FILE* progress)
    : fleet_(fleet),
      faults_(faults),
      options_(options),
      transport_(transport),
      record_(record),
      clock_(clock),
      stop_(stop),
      progress_(progress),
      held_(fleet.size()),
      label_defined_(fleet.options().event_codes, false) {
  readings_.reserve(ES_BATCH_MAX_READINGS);
  sent_readings_.reserve(ES_BATCH_MAX_READINGS);
}

void SimRunner::define_dictionary() {
  if (record_ == nullptr) return;
  for (es_metric m : fleet_.metrics()) {
    // line-fields metrics are named as the agent (and Prometheus-style consumers) name fields:
    // <measurement>_<field>.
    std::string name = es_metric_name(m);
    if (options_.format.line_fields) name = std::string(kLineFieldsMeasurement) + "_" + name;
    record_->define_metric(static_cast<std::uint32_t>(m), name, es_metric_is_categorical(m) != 0);
  }
  for (std::uint32_t i = 0; i < fleet_.size(); ++i) {
    const es_device& d = fleet_.device(i);
    record_->define_device(i, d.device_id, {{"site", d.site}, {"line", d.line}});
  }
}

void SimRunner::to_recorded(const es_batch& b, std::vector<RecordedReading>& out) {
  out.resize(b.count);
  for (std::uint8_t g = 0; g < b.group_count; ++g) {
    const es_batch_group& grp = b.groups[g];
    const bool categorical = es_metric_is_categorical(static_cast<es_metric>(grp.metric)) != 0;
    for (std::uint16_t i = grp.first; i < grp.first + grp.count; ++i) {
      RecordedReading& r = out[i];
      r.metric_id = grp.metric;
      r.ts_ms = b.ts_ms[i];
      r.value = categorical ? 0.0 : b.values[i];
      r.label_id = categorical ? b.codes[i] : 0;
      if (categorical && record_ != nullptr && !label_defined_[r.label_id]) {
        char label[ES_NAME_MAX];
        es_format_event_label(r.label_id, label, sizeof label);
        record_->define_label(r.label_id, label);
        label_defined_[r.label_id] = true;
      }
    }
  }
}

void SimRunner::count_sent(std::uint8_t flags) {
  if (flags & record::kFlagDuplicate) ++stats_.duplicate_messages;
  if (flags & record::kFlagLate) ++stats_.late_messages;
}

void SimRunner::send_and_record(std::uint32_t device, std::uint64_t batch_seq, std::int64_t sent_ms,
                                std::uint8_t flags, const EncodedBatch& encoded,
                                const std::vector<RecordedReading>& readings) {
  if (options_.format.line_fields) {
    const EncodedMessage& m = encoded.messages()[0];
    const auto rows =
        static_cast<std::uint32_t>(std::count(m.payload.begin(), m.payload.end(), '\n'));
    add_to_pack(m.payload, rows, m.readings.size(), sent_ms);
    if (pack_batches_ == packed_.size()) packed_.emplace_back();
    PackedBatch& pb = packed_[pack_batches_++];
    pb.header = RecordedMessageHeader{device, batch_seq, sent_ms, flags};
    pb.readings.clear();
    for (std::uint16_t i : m.readings) pb.readings.push_back(readings[i]);
    if (pack_lines_ >= options_.message_lines) flush_pack();
    return;
  }
  sent_readings_.clear();
  bool any = false;
  for (const EncodedMessage& m : encoded.messages()) {
    Status s = transport_.send(m.topic, m.payload);
    if (!s.ok()) {
      ++stats_.send_errors;
      stats_.unsent_readings += m.readings.size();
      last_send_error_ = s.to_string();
      continue;
    }
    any = true;
    ++stats_.messages_sent;
    stats_.bytes_sent += m.payload.size();
    stats_.readings_sent += m.readings.size();
    for (std::uint16_t i : m.readings) sent_readings_.push_back(readings[i]);
  }
  if (!any) return;
  count_sent(flags);
  if (record_ != nullptr) {
    record_->add_message(RecordedMessageHeader{device, batch_seq, sent_ms, flags}, sent_readings_);
  }
}

void SimRunner::add_to_pack(std::string_view lines, std::uint32_t rows, std::size_t reading_count,
                            std::int64_t now_ms) {
  constexpr std::size_t kMaxPackReadings = 4096;  // the agent's max_readings_per_batch
  if (pack_lines_ > 0 && pack_readings_ + reading_count > kMaxPackReadings) flush_pack();
  if (pack_lines_ == 0) pack_first_ms_ = now_ms;
  pack_.append(lines);
  pack_lines_ += rows;
  pack_readings_ += reading_count;
}

void SimRunner::flush_pack() {
  if (pack_lines_ == 0) return;
  Status s = transport_.send(kLineFieldsTopic, pack_);
  if (s.ok()) {
    ++stats_.messages_sent;
    stats_.bytes_sent += pack_.size();
    stats_.malformed_messages += pack_malformed_;
    for (std::size_t i = 0; i < pack_batches_; ++i) {
      const PackedBatch& pb = packed_[i];
      stats_.readings_sent += pb.readings.size();
      count_sent(pb.header.flags);
      if (record_ != nullptr) record_->add_message(pb.header, pb.readings);
    }
  } else {
    ++stats_.send_errors;
    for (std::size_t i = 0; i < pack_batches_; ++i) {
      stats_.unsent_readings += packed_[i].readings.size();
    }
    last_send_error_ = s.to_string();
  }
  pack_.clear();
  pack_lines_ = 0;
  pack_readings_ = 0;
  pack_batches_ = 0;
  pack_malformed_ = 0;
}

void SimRunner::send_malformed(std::uint32_t device, std::int64_t ready_ms) {
  bool any = false;
  for (EncodedMessage& m : encoded_.messages()) {
    faults_.corrupt(device, options_.format.payload, m.payload);
    if (options_.format.line_fields) {
      // One bad line among the pack's good ones: the agent skips it and takes the rest.
      m.payload.push_back('\n');
      add_to_pack(m.payload, 1, 0, ready_ms);
      ++pack_malformed_;
      if (pack_lines_ >= options_.message_lines) flush_pack();
      continue;
    }
    Status s = transport_.send(m.topic, m.payload);
    if (s.ok()) {
      any = true;
      ++stats_.messages_sent;
      stats_.bytes_sent += m.payload.size();
    } else {
      ++stats_.send_errors;
      last_send_error_ = s.to_string();
    }
  }
  if (any) ++stats_.malformed_messages;
}

void SimRunner::release_held(std::uint32_t device, std::int64_t now_ms, bool force) {
  std::deque<HeldMessage>& q = held_[device];
  if (q.empty()) return;
  const std::int64_t release_ms = faults_.hold_until(device);
  if (!force && release_ms > now_ms) return;
  const std::int64_t sent_ms = force ? std::min(release_ms, now_ms) : release_ms;
  for (const HeldMessage& m : q) {
    send_and_record(device, m.batch_seq, sent_ms, m.flags, m.encoded, m.readings);
  }
  q.clear();
}

Status SimRunner::handle(std::uint32_t device, es_batch& b) {
  ++stats_.messages_generated;
  stats_.readings_generated += b.count;
  // A burst due before this batch goes out first, so a device's messages stay in order.
  release_held(device, b.ready_ms, false);
  const MessageFate fate = faults_.decide(device, b.ready_ms);
  if (fate.offline) {
    ++stats_.offline_messages;
    stats_.offline_readings += b.count;
    return Status();
  }
  if (is_row_format(options_.format)) align_rows(b);
  if (sends_sensor_resolution(options_.format)) round_to_sensor_resolution(b);
  ES_RETURN_IF_ERROR(encode_batch(b, options_.format, encoded_));
  if (fate.malformed) {
    send_malformed(device, b.ready_ms);
    return Status();
  }
  to_recorded(b, readings_);
  if (fate.hold) {
    held_[device].push_back(HeldMessage{b.batch_seq, record::kFlagLate, encoded_, readings_});
    if (fate.duplicate) {
      held_[device].push_back(HeldMessage{b.batch_seq, record::kFlagLate | record::kFlagDuplicate,
                                          encoded_, readings_});
    }
    return Status();
  }
  send_and_record(device, b.batch_seq, b.ready_ms, 0, encoded_, readings_);
  if (fate.duplicate) {
    send_and_record(device, b.batch_seq, b.ready_ms, record::kFlagDuplicate, encoded_, readings_);
  }
  return Status();
}

void SimRunner::pace(std::int64_t simulated_offset_ms) {
  if (options_.speed <= 0) return;
  const std::int64_t target_ns =
      wall_start_ns_ +
      static_cast<std::int64_t>(static_cast<double>(simulated_offset_ms) * 1e6 / options_.speed);
  for (;;) {
    if (stop_ != nullptr && stop_->load()) return;
    std::int64_t now = clock_.monotonic_ns();
    if (now >= target_ns) return;
    // What the transport queued leaves before the wait, not after it.
    if (Status s = transport_.flush(); !s.ok()) last_send_error_ = s.to_string();
    // Bounded slices, so a stop request is noticed within 100 ms.
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(std::min<std::int64_t>(target_ns - now, 100'000'000)));
  }
}

void SimRunner::maybe_report_progress(bool final_line) {
  if (progress_ == nullptr || options_.progress_interval_ms <= 0) return;
  const std::int64_t now = clock_.monotonic_ns();
  if (!final_line && now < next_progress_ns_) return;
  next_progress_ns_ = now + options_.progress_interval_ms * 1'000'000;
  const double interval_s = static_cast<double>(now - last_progress_ns_) / 1e9;
  const double rate =
      interval_s > 0
          ? static_cast<double>(stats_.readings_sent - last_progress_readings_) / interval_s
          : 0.0;
  last_progress_ns_ = now;
  last_progress_readings_ = stats_.readings_sent;
  std::fprintf(progress_,
               "edgesketch-sim: %7.1f s wall, +%.1f s simulated, %llu readings sent "
               "(%.0f/s now), %llu messages, %.1f MB%s%s\n",
               static_cast<double>(now - wall_start_ns_) / 1e9,
               static_cast<double>(sim_now_ms_ - fleet_.options().start_ms) / 1e3,
               static_cast<unsigned long long>(stats_.readings_sent), rate,
               static_cast<unsigned long long>(stats_.messages_sent),
               static_cast<double>(stats_.bytes_sent) / 1e6,
               stats_.send_errors ? ", send errors; last: " : "",
               stats_.send_errors ? last_send_error_.c_str() : "");
  std::fflush(progress_);
}

Result<SimStats> SimRunner::run() {
  const FleetOptions& fo = fleet_.options();
  const std::int64_t start_ms = fo.start_ms;
  const std::int64_t end_ms = fo.start_ms + fo.duration_ms;
  const std::int64_t tick_ms = std::max<std::int64_t>(1, options_.tick_ms);
  define_dictionary();
  wall_start_ns_ = clock_.monotonic_ns();
  last_progress_ns_ = wall_start_ns_;
  next_progress_ns_ = wall_start_ns_ + options_.progress_interval_ms * 1'000'000;
  sim_now_ms_ = start_ms;
  while (sim_now_ms_ < end_ms) {
    if (stop_ != nullptr && stop_->load()) {
      stats_.interrupted = true;
      break;
    }
    const std::int64_t tick_end = std::min(sim_now_ms_ + tick_ms, end_ms);
    pace(tick_end - start_ms);
    for (std::uint32_t d = 0; d < fleet_.size(); ++d) {
      while (fleet_.poll(d, tick_end - 1, batch_)) ES_RETURN_IF_ERROR(handle(d, batch_));
      release_held(d, tick_end - 1, false);
    }
    if (pack_lines_ > 0 && tick_end - pack_first_ms_ >= fo.max_delay_ms) flush_pack();
    sim_now_ms_ = tick_end;
    maybe_report_progress(false);
  }
  // End of the run: whatever the devices still hold goes out now.
  for (std::uint32_t d = 0; d < fleet_.size(); ++d) {
    if (fleet_.flush(d, sim_now_ms_, batch_)) ES_RETURN_IF_ERROR(handle(d, batch_));
    release_held(d, sim_now_ms_, true);
  }
  flush_pack();
  Status t = transport_.finish();
  if (!t.ok()) last_send_error_ = t.to_string();
  stats_.simulated_ms = sim_now_ms_ - start_ms;
  stats_.wall_seconds = static_cast<double>(clock_.monotonic_ns() - wall_start_ns_) / 1e9;
  maybe_report_progress(true);
  if (record_ != nullptr) ES_RETURN_IF_ERROR(record_->finish());
  if (!t.ok()) return t;
  return stats_;
}

}  // namespace edgesketch::sim
