// ReadingBatch codec: the device-side message, decoded into nanopb's static structs (the
// firmware's own layout) and flattened into readings.
#include "edgesketch/wire/codec.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "edgesketch.pb.h"
#include "nanopb_io.h"
#include "validation.h"

namespace edgesketch::wire {
namespace {

using internal::FieldPath;

// nanopb's fixed-size strings are NUL-terminated; strnlen guards against a missing terminator.
template <std::size_t N>
std::string_view fixed_string(const char (&s)[N]) {
  return {s, strnlen(s, N)};
}

// Validated batch tags or reading tags: keys required and unique. Returns them sorted.
Result<std::vector<Tag>> decode_tags(const edgesketch_v1_Tag* tags, std::size_t count,
                                     const FieldPath& parent, const Limits& limits) {
  std::vector<Tag> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const FieldPath path = parent.child("tags", i);
    const std::string_view key = fixed_string(tags[i].key);
    const std::string_view value = fixed_string(tags[i].value);
    ES_RETURN_IF_ERROR(internal::check_name(path.child("key"), key, limits, true));
    ES_RETURN_IF_ERROR(internal::check_name(path.child("value"), value, limits, false));
    out.push_back(Tag{std::string(key), std::string(value)});
  }
  std::sort(out.begin(), out.end());
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].key == out[i - 1].key) {
      return internal::field_error(ErrorReason::kDuplicateTag, parent.child("tags"),
                                   fmt::format("key \"{}\" appears twice", out[i].key));
    }
  }
  return out;
}

// batch_tags overlaid with reading_tags (both sorted, keys unique): a reading's tag wins.
std::vector<Tag> merge_tags(const std::vector<Tag>& batch_tags, std::vector<Tag> reading_tags) {
  if (reading_tags.empty()) return batch_tags;
  std::vector<Tag> out;
  out.reserve(batch_tags.size() + reading_tags.size());
  auto b = batch_tags.begin();
  auto r = reading_tags.begin();
  while (b != batch_tags.end() || r != reading_tags.end()) {
    if (r == reading_tags.end() || (b != batch_tags.end() && b->key < r->key)) {
      out.push_back(*b++);
    } else {
      if (b != batch_tags.end() && b->key == r->key) ++b;
      out.push_back(std::move(*r++));
    }
  }
  return out;
}

Status check_tag_count(const FieldPath& path, std::size_t count, const Limits& limits) {
  if (count <= limits.max_tags) return Status();
  return internal::field_error(ErrorReason::kTooManyTags, path,
                               fmt::format("{} tags (batch and reading tags merged) exceed "
                                           "max_tags {}",
                                           count, limits.max_tags));
}

// Copies `value` into a fixed-size nanopb string field (which must leave room for the NUL).
template <std::size_t N>
Status copy_fixed(const FieldPath& path, std::string_view value, ErrorReason too_long,
                  char (&out)[N]) {
  if (value.size() >= N) {
    return internal::field_error(
        too_long, path,
        fmt::format("{} bytes do not fit the device-side limit of {}", value.size(), N - 1));
  }
  if (value.find('\0') != std::string_view::npos) {
    return internal::field_error(ErrorReason::kBadString, path, "contains NUL");
  }
  std::memcpy(out, value.data(), value.size());
  out[value.size()] = '\0';
  return Status();
}

Status copy_tags(const FieldPath& path, const std::vector<const Tag*>& tags, edgesketch_v1_Tag* out,
                 pb_size_t* count, std::size_t capacity) {
  if (tags.size() > capacity) {
    return internal::field_error(
        ErrorReason::kTooManyTags, path,
        fmt::format("{} tags do not fit the device-side limit of {}", tags.size(), capacity));
  }
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const FieldPath p = path.child("tags", i);
    ES_RETURN_IF_ERROR(
        copy_fixed(p.child("key"), tags[i]->key, ErrorReason::kNameTooLong, out[i].key));
    ES_RETURN_IF_ERROR(
        copy_fixed(p.child("value"), tags[i]->value, ErrorReason::kNameTooLong, out[i].value));
  }
  *count = static_cast<pb_size_t>(tags.size());
  return Status();
}

template <typename T, std::size_t N>
constexpr std::size_t capacity_of(const T (&)[N]) {
  return N;
}

// Appends `reading` to the last Samples of `msg` when it continues that run; false otherwise.
bool append_to_samples(edgesketch_v1_ReadingBatch& msg, const Reading& reading,
                       std::int64_t& last_ts) {
  if (msg.samples_count == 0) return false;
  edgesketch_v1_Samples& s = msg.samples[msg.samples_count - 1];
  const std::size_t n = s.ts_delta_ms_count;
  const bool is_label_run = s.labels_count > 0;
  if ((n > 0 && reading.is_label != is_label_run) || fixed_string(s.metric) != reading.metric) {
    return false;
  }
  const std::size_t cap = reading.is_label ? capacity_of(s.labels) : capacity_of(s.values);
  if (n >= cap || n >= capacity_of(s.ts_delta_ms)) return false;
  std::int64_t delta;
  if (__builtin_sub_overflow(reading.ts_ms, last_ts, &delta) || delta < INT32_MIN ||
      delta > INT32_MAX || reading.label.size() >= sizeof(s.labels[0]) ||
      reading.label.find('\0') != std::string::npos) {
    return false;
  }
  s.ts_delta_ms[n] = static_cast<std::int32_t>(delta);
  s.ts_delta_ms_count = static_cast<pb_size_t>(n + 1);
  if (reading.is_label) {
    std::memcpy(s.labels[n], reading.label.data(), reading.label.size());
    s.labels[n][reading.label.size()] = '\0';
    s.labels_count = static_cast<pb_size_t>(n + 1);
  } else {
    s.values[n] = reading.value;
    s.values_count = static_cast<pb_size_t>(n + 1);
  }
  last_ts = reading.ts_ms;
  return true;
}

}  // namespace

Result<ReadingBatch> decode_reading_batch(ByteSpan bytes, const Limits& limits,
                                          std::int64_t now_ms) {
  const FieldPath root{nullptr, "reading_batch"};
  ES_RETURN_IF_ERROR(internal::check_payload_size(root, bytes.size(), limits));
  // ~44 KiB: on the heap, not on the stack of an MQTT callback thread.
  auto msg = std::make_unique<edgesketch_v1_ReadingBatch>();
  internal::DecodeContext ctx(limits, now_ms);
  internal::InputStream in(bytes);
  if (!pb_decode(in.get(), edgesketch_v1_ReadingBatch_fields, msg.get())) {
    return internal::decode_failure(ctx, *in.get(), root);
  }

  ReadingBatch batch;
  batch.device_id = fixed_string(msg->device_id);
  batch.batch_seq = msg->batch_seq;
  ES_RETURN_IF_ERROR(internal::check_name(root.child("device_id"), batch.device_id, limits, true));
  ES_ASSIGN_OR_RETURN(batch.tags, decode_tags(msg->tags, msg->tags_count, root, limits));
  ES_RETURN_IF_ERROR(check_tag_count(root.child("tags"), batch.tags.size(), limits));

  std::size_t total = msg->readings_count;
  for (pb_size_t i = 0; i < msg->samples_count; ++i) total += msg->samples[i].ts_delta_ms_count;
  if (total > limits.max_readings_per_batch) {
    return internal::field_error(ErrorReason::kTooManyReadings, root,
                                 fmt::format("{} readings exceed max_readings_per_batch {}", total,
                                             limits.max_readings_per_batch));
  }
  batch.readings.reserve(total);

  for (pb_size_t i = 0; i < msg->samples_count; ++i) {
    const edgesketch_v1_Samples& s = msg->samples[i];
    const FieldPath path = root.child("samples", i);
    const std::string_view metric = fixed_string(s.metric);
    ES_RETURN_IF_ERROR(internal::check_name(path.child("metric"), metric, limits, true));
    const std::size_t n = s.ts_delta_ms_count;
    const bool labels = s.labels_count > 0;
    if ((labels && s.values_count > 0) || (labels ? s.labels_count : s.values_count) != n) {
      return internal::field_error(
          ErrorReason::kBadSamples, path,
          fmt::format("{} timestamps, {} values and {} labels: exactly one of values / labels "
                      "must have one entry per timestamp",
                      n, s.values_count, s.labels_count));
    }
    std::int64_t ts = s.base_ms;
    for (std::size_t j = 0; j < n; ++j) {
      const FieldPath ts_path = path.child("ts_delta_ms", j);
      if (__builtin_add_overflow(ts, s.ts_delta_ms[j], &ts)) {
        return internal::field_error(ErrorReason::kClockFuture, ts_path,
                                     "base_ms plus the deltas overflows 64 bits");
      }
      ES_RETURN_IF_ERROR(internal::check_timestamp(ts_path, ts, limits, now_ms));
      Reading r;
      r.device_id = batch.device_id;
      r.metric = metric;
      r.tags = batch.tags;
      r.ts_ms = ts;
      r.is_label = labels;
      if (labels) {
        const std::string_view label = fixed_string(s.labels[j]);
        ES_RETURN_IF_ERROR(internal::check_string(path.child("labels", j), label,
                                                  limits.max_label_bytes,
                                                  ErrorReason::kLabelTooLong, false));
        r.label = label;
      } else {
        r.value = s.values[j];
      }
      batch.readings.push_back(std::move(r));
    }
  }

  for (pb_size_t i = 0; i < msg->readings_count; ++i) {
    const edgesketch_v1_Reading& row = msg->readings[i];
    const FieldPath path = root.child("readings", i);
    Reading r;
    r.device_id = batch.device_id;
    r.metric = fixed_string(row.metric);
    ES_RETURN_IF_ERROR(internal::check_name(path.child("metric"), r.metric, limits, true));
    ES_RETURN_IF_ERROR(internal::check_timestamp(path.child("ts_ms"), row.ts_ms, limits, now_ms));
    r.ts_ms = row.ts_ms;
    if (row.which_payload == edgesketch_v1_Reading_value_tag) {
      r.value = row.payload.value;
    } else if (row.which_payload == edgesketch_v1_Reading_label_tag) {
      r.is_label = true;
      r.label = fixed_string(row.payload.label);
      ES_RETURN_IF_ERROR(internal::check_string(
          path.child("label"), r.label, limits.max_label_bytes, ErrorReason::kLabelTooLong, false));
    } else {
      return internal::field_error(ErrorReason::kMissingField, path, "has neither value nor label");
    }
    ES_ASSIGN_OR_RETURN(std::vector<Tag> own, decode_tags(row.tags, row.tags_count, path, limits));
    r.tags = merge_tags(batch.tags, std::move(own));
    ES_RETURN_IF_ERROR(check_tag_count(path.child("tags"), r.tags.size(), limits));
    batch.readings.push_back(std::move(r));
  }
  return batch;
}

Result<Bytes> encode_reading_batch(const ReadingBatch& batch) {
  const FieldPath root{nullptr, "reading_batch"};
  auto msg = std::make_unique<edgesketch_v1_ReadingBatch>();
  ES_RETURN_IF_ERROR(copy_fixed(root.child("device_id"), batch.device_id, ErrorReason::kNameTooLong,
                                msg->device_id));
  msg->batch_seq = batch.batch_seq;
  std::vector<const Tag*> batch_tags;
  for (const Tag& t : batch.tags) {
    for (const Tag* seen : batch_tags) {
      if (seen->key == t.key) {
        return internal::field_error(ErrorReason::kDuplicateTag, root.child("tags"),
                                     fmt::format("key \"{}\" appears twice", t.key));
      }
    }
    batch_tags.push_back(&t);
  }
  ES_RETURN_IF_ERROR(
      copy_tags(root, batch_tags, msg->tags, &msg->tags_count, capacity_of(msg->tags)));

  std::int64_t last_ts = 0;  // timestamp of the last reading appended to a Samples
  for (std::size_t i = 0; i < batch.readings.size(); ++i) {
    const Reading& r = batch.readings[i];
    const FieldPath path = root.child("readings", i);
    if (!r.device_id.empty() && r.device_id != batch.device_id) {
      return Status::invalid_argument(
          fmt::format("{}.device_id: \"{}\" differs from the batch's \"{}\"", path.str(),
                      r.device_id, batch.device_id));
    }
    // The tags this reading adds to (or overrides in) the batch tags.
    std::vector<const Tag*> extra;
    for (const Tag& t : r.tags) {
      if (std::find(batch.tags.begin(), batch.tags.end(), t) == batch.tags.end()) {
        extra.push_back(&t);
      }
    }
    for (const Tag& t : batch.tags) {
      auto same_key = [&](const Tag& x) { return x.key == t.key; };
      if (std::find_if(r.tags.begin(), r.tags.end(), same_key) == r.tags.end()) {
        return Status::invalid_argument(fmt::format(
            "{}.tags: lacks the batch tag \"{}\"; a decoder would add it", path.str(), t.key));
      }
    }
    if (extra.empty() && append_to_samples(*msg, r, last_ts)) continue;
    if (extra.empty() && msg->samples_count < capacity_of(msg->samples) &&
        r.metric.size() < sizeof(msg->samples[0].metric)) {
      edgesketch_v1_Samples& s = msg->samples[msg->samples_count];
      s = edgesketch_v1_Samples{};
      ES_RETURN_IF_ERROR(
          copy_fixed(path.child("metric"), r.metric, ErrorReason::kNameTooLong, s.metric));
      s.base_ms = r.ts_ms;
      std::int64_t run_ts = r.ts_ms;
      msg->samples_count = static_cast<pb_size_t>(msg->samples_count + 1);
      // A fresh run: the delta is 0 and the label, if any, is checked on append.
      if (append_to_samples(*msg, r, run_ts)) {
        last_ts = run_ts;
        continue;
      }
      msg->samples_count = static_cast<pb_size_t>(msg->samples_count - 1);
    }
    if (msg->readings_count >= capacity_of(msg->readings)) {
      return internal::field_error(
          ErrorReason::kTooManyReadings, root,
          fmt::format("the readings do not fit the device-side limits of {} samples of {} "
                      "values and {} rows",
                      capacity_of(msg->samples), capacity_of(msg->samples[0].values),
                      capacity_of(msg->readings)));
    }
    edgesketch_v1_Reading& row = msg->readings[msg->readings_count];
    row = edgesketch_v1_Reading{};
    ES_RETURN_IF_ERROR(
        copy_fixed(path.child("metric"), r.metric, ErrorReason::kNameTooLong, row.metric));
    row.ts_ms = r.ts_ms;
    if (r.is_label) {
      row.which_payload = edgesketch_v1_Reading_label_tag;
      ES_RETURN_IF_ERROR(
          copy_fixed(path.child("label"), r.label, ErrorReason::kLabelTooLong, row.payload.label));
    } else {
      row.which_payload = edgesketch_v1_Reading_value_tag;
      row.payload.value = r.value;
    }
    ES_RETURN_IF_ERROR(copy_tags(path, extra, row.tags, &row.tags_count, capacity_of(row.tags)));
    msg->readings_count = static_cast<pb_size_t>(msg->readings_count + 1);
  }
  std::optional<Bytes> out = internal::encode_message(edgesketch_v1_ReadingBatch_fields, msg.get());
  if (!out) return Status::internal("reading_batch: nanopb encoding failed");
  return std::move(*out);
}

}  // namespace edgesketch::wire
