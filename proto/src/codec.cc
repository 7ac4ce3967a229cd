// WindowBatch codec: nanopb callbacks stream records, tags, strings and sketch blobs between the
// wire and the domain types, validating as they go.
#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/compression.h"

#include <cassert>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "edgesketch.pb.h"
#include "nanopb_io.h"
#include "tag_coding.h"
#include "validation.h"

namespace edgesketch::wire {
namespace {

using internal::DecodeCallback;
using internal::DecodeContext;
using internal::EncodeCallback;
using internal::FieldPath;
using internal::read_string;
using sketch::ExpHistogram;
using sketch::HyperLogLog;
using sketch::TopK;

// Reads a sketch blob (the whole substream) and deserializes it into *out.
template <typename Sketch>
bool read_sketch(DecodeContext& ctx, pb_istream_t* stream, const FieldPath& path,
                 std::optional<Sketch>* out) {
  if (stream->bytes_left > ctx.limits.max_sketch_bytes) {
    return ctx.fail(ErrorReason::kSketchTooLarge, path,
                    fmt::format("{} bytes exceed max_sketch_bytes {}", stream->bytes_left,
                                ctx.limits.max_sketch_bytes));
  }
  ByteSpan bytes;
  if (!internal::take_rest(stream, &bytes)) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected length-delimited bytes");
  }
  Result<Sketch> sketch = Sketch::deserialize(bytes);
  if (!sketch.ok()) return ctx.fail(ErrorReason::kBadSketch, path, sketch.status().message());
  *out = std::move(sketch).value();
  return true;
}

// Decodes and validates one WindowRecord from its submessage stream.
bool decode_record(DecodeContext& ctx, pb_istream_t* stream, const FieldPath& path,
                   WindowRecord* out) {
  if (!internal::is_length_delimited(stream)) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected a length-delimited message");
  }
  std::optional<ExpHistogram> histogram;
  std::optional<HyperLogLog> distinct;
  std::optional<TopK> topk;
  const internal::RecordFieldPaths paths(path);

  DecodeCallback metric_cb(
      ctx, [&](pb_istream_t* s) { return read_string(ctx, s, paths.metric, &out->key.metric); });
  DecodeCallback tags_cb(ctx, [&](pb_istream_t* s) {
    return internal::decode_sorted_tag(ctx, s, path, &out->key.tags);
  });
  DecodeCallback distinct_of_cb(ctx, [&](pb_istream_t* s) {
    return read_string(ctx, s, paths.distinct_of, &out->distinct_of);
  });
  DecodeCallback topk_of_cb(
      ctx, [&](pb_istream_t* s) { return read_string(ctx, s, paths.topk_of, &out->topk_of); });
  DecodeCallback hist_cb(
      ctx, [&](pb_istream_t* s) { return read_sketch(ctx, s, paths.histogram, &histogram); });
  DecodeCallback distinct_cb(
      ctx, [&](pb_istream_t* s) { return read_sketch(ctx, s, paths.distinct, &distinct); });
  DecodeCallback topk_cb(ctx,
                         [&](pb_istream_t* s) { return read_sketch(ctx, s, paths.topk, &topk); });

  edgesketch_v1_WindowRecord rec = edgesketch_v1_WindowRecord_init_zero;
  rec.metric = metric_cb.callback();
  rec.tags = tags_cb.callback();
  rec.distinct_of = distinct_of_cb.callback();
  rec.topk_of = topk_of_cb.callback();
  rec.histogram.data = hist_cb.callback();
  rec.distinct.data = distinct_cb.callback();
  rec.topk.data = topk_cb.callback();
  if (!pb_decode(stream, edgesketch_v1_WindowRecord_fields, &rec)) {
    return ctx.fail(internal::decode_failure(ctx, *stream, path));
  }

  auto check = [&](Status s) { return s.ok() || ctx.fail(std::move(s)); };
  if (!check(internal::check_name(paths.metric, out->key.metric, ctx.limits, true))) return false;
  if (!check(internal::check_timestamp(path.child("window_start_ms"), rec.window_start_ms,
                                       ctx.limits, ctx.now_ms)) ||
      !check(internal::check_window(path, rec.window_start_ms, rec.window_ms, ctx.limits))) {
    return false;
  }
  // A sketch submessage without its bytes has nothing to deserialize.
  if ((rec.has_histogram && !histogram) || (rec.has_distinct && !distinct) ||
      (rec.has_topk && !topk)) {
    const FieldPath& p = rec.has_histogram && !histogram ? paths.histogram
                         : rec.has_distinct && !distinct ? paths.distinct
                                                         : paths.topk;
    return ctx.fail(ErrorReason::kBadSketch, p, "present but holds no data");
  }
  if (!check(internal::check_sketch_subject(path, "distinct sketch", distinct.has_value(),
                                            "distinct_of", out->distinct_of)) ||
      !check(internal::check_sketch_subject(path, "topk sketch", topk.has_value(), "topk_of",
                                            out->topk_of))) {
    return false;
  }
  Result<sketch::WindowAggregate> agg = sketch::WindowAggregate::from_parts(
      rec.count, rec.sum, rec.min, rec.max, std::move(histogram), std::move(distinct),
      std::move(topk));
  if (!agg.ok()) return ctx.fail(ErrorReason::kBadAggregate, path, agg.status().message());
  out->agg = std::move(agg).value();
  out->window_start_ms = rec.window_start_ms;
  out->window_ms = rec.window_ms;
  out->delta = rec.delta;
  return true;
}

// The sketch blobs of one record, serialized before nanopb runs (callbacks must not allocate).
struct SerializedSketches {
  Bytes histogram;
  Bytes distinct;
  Bytes topk;
};

// Decodes a WindowBatch.
Result<WindowBatch> decode_batch(ByteSpan bytes, const Limits& limits, std::int64_t now_ms) {
  const FieldPath root{nullptr, "window_batch"};
  ES_RETURN_IF_ERROR(internal::check_payload_size(root, bytes.size(), limits));
  DecodeContext ctx(limits, now_ms);
  WindowBatch batch;
  edgesketch_v1_WindowBatch msg = edgesketch_v1_WindowBatch_init_zero;

  const FieldPath gateway_path = root.child("gateway_id");
  const FieldPath tenant_path = root.child("tenant");
  DecodeCallback gateway_cb(
      ctx, [&](pb_istream_t* s) { return read_string(ctx, s, gateway_path, &batch.gateway_id); });
  DecodeCallback tenant_cb(
      ctx, [&](pb_istream_t* s) { return read_string(ctx, s, tenant_path, &batch.tenant); });
  DecodeCallback records_cb(ctx, [&](pb_istream_t* s) {
    const FieldPath path = root.child("records", batch.records.size());
    // Encoders write fields in number order, so schema_version is known here: refuse another
    // schema before reading its records. (0 may mean "not seen yet": checked at the end.)
    if (msg.schema_version != 0 && msg.schema_version != kSchemaVersion) {
      return ctx.fail(
          ErrorReason::kSchemaVersion, root.child("schema_version"),
          fmt::format("{} is not the supported version {}", msg.schema_version, kSchemaVersion));
    }
    if (batch.records.size() >= limits.max_records_per_batch) {
      return ctx.fail(
          ErrorReason::kTooManyRecords, path,
          fmt::format("more than max_records_per_batch {} records", limits.max_records_per_batch));
    }
    WindowRecord record;
    if (!decode_record(ctx, s, path, &record)) return false;
    batch.records.push_back(std::move(record));
    return true;
  });
  msg.gateway_id = gateway_cb.callback();
  msg.tenant = tenant_cb.callback();
  msg.records = records_cb.callback();

  internal::InputStream in(bytes);
  if (!pb_decode(in.get(), edgesketch_v1_WindowBatch_fields, &msg)) {
    return internal::decode_failure(ctx, *in.get(), root);
  }
  if (msg.schema_version != kSchemaVersion) {
    return internal::field_error(
        ErrorReason::kSchemaVersion, root.child("schema_version"),
        fmt::format("{} is not the supported version {}", msg.schema_version, kSchemaVersion));
  }
  if (!msg.has_record_count || msg.record_count != batch.records.size()) {
    return internal::field_error(
        ErrorReason::kTruncated, root.child("record_count"),
        msg.has_record_count ? fmt::format("says {} records but {} arrived (payload cut short?)",
                                           msg.record_count, batch.records.size())
                             : fmt::format("is missing after {} records (payload cut short?)",
                                           batch.records.size()));
  }
  ES_RETURN_IF_ERROR(internal::check_name(gateway_path, batch.gateway_id, limits, true));
  ES_RETURN_IF_ERROR(
      internal::check_timestamp(root.child("created_ms"), msg.created_ms, limits, now_ms));
  batch.schema_version = msg.schema_version;
  batch.seq = msg.seq;
  batch.created_ms = msg.created_ms;
  return batch;
}

}  // namespace

Result<WindowBatch> decode_window_batch(ByteSpan payload, const Limits& limits,
                                        std::int64_t now_ms) {
  Bytes scratch;
  ES_ASSIGN_OR_RETURN(const ByteSpan bytes, uncompressed_payload(payload, limits, scratch));
  return decode_batch(bytes, limits, now_ms);
}

Bytes encode_window_batch(const WindowBatch& batch) {
  std::vector<SerializedSketches> sketches(batch.records.size());
  for (std::size_t i = 0; i < batch.records.size(); ++i) {
    const sketch::WindowAggregate& agg = batch.records[i].agg;
    if (agg.histogram()) agg.histogram()->serialize(sketches[i].histogram);
    if (agg.distinct()) agg.distinct()->serialize(sketches[i].distinct);
    if (agg.topk()) agg.topk()->serialize(sketches[i].topk);
  }

  EncodeCallback records_cb([&](pb_ostream_t* stream, const pb_field_t* field) {
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      const WindowRecord& r = batch.records[i];
      const SerializedSketches& sk = sketches[i];
      edgesketch_v1_WindowRecord rec = edgesketch_v1_WindowRecord_init_zero;
      rec.metric = internal::encode_string_callback(&r.key.metric);
      rec.tags = internal::encode_tags_callback(&r.key.tags);
      rec.window_start_ms = r.window_start_ms;
      rec.window_ms = r.window_ms;
      rec.count = r.agg.count();
      rec.sum = r.agg.sum();
      rec.min = r.agg.min();
      rec.max = r.agg.max();
      rec.has_histogram = r.agg.histogram() != nullptr;
      rec.histogram.data = internal::encode_bytes_callback(&sk.histogram);
      rec.has_distinct = r.agg.distinct() != nullptr;
      rec.distinct.data = internal::encode_bytes_callback(&sk.distinct);
      rec.has_topk = r.agg.topk() != nullptr;
      rec.topk.data = internal::encode_bytes_callback(&sk.topk);
      rec.delta = r.delta;
      rec.distinct_of = internal::encode_string_callback(&r.distinct_of);
      rec.topk_of = internal::encode_string_callback(&r.topk_of);
      if (!internal::encode_submessage(stream, field, edgesketch_v1_WindowRecord_fields, &rec)) {
        return false;
      }
    }
    return true;
  });

  edgesketch_v1_WindowBatch msg = edgesketch_v1_WindowBatch_init_zero;
  msg.schema_version = batch.schema_version;
  msg.gateway_id = internal::encode_string_callback(&batch.gateway_id);
  msg.seq = batch.seq;
  msg.created_ms = batch.created_ms;
  msg.records = records_cb.callback();
  msg.tenant = internal::encode_string_callback(&batch.tenant);
  msg.has_record_count = true;
  msg.record_count = static_cast<std::uint32_t>(batch.records.size());
  std::optional<Bytes> out = internal::encode_message(edgesketch_v1_WindowBatch_fields, &msg);
  assert(out && "encoding a WindowBatch cannot fail");
  return out ? std::move(*out) : Bytes();
}

}  // namespace edgesketch::wire
