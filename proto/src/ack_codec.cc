// Ack codec: the collector's application acks, seqs packed, rejections as submessages.
#include "edgesketch/wire/codec.h"

#include <cassert>
#include <optional>

#include <fmt/format.h>

#include "edgesketch.pb.h"
#include "nanopb_io.h"
#include "validation.h"

namespace edgesketch::wire {
namespace {

using internal::DecodeCallback;
using internal::DecodeContext;
using internal::EncodeCallback;
using internal::FieldPath;

// Fails with too_many_ack_entries once seqs and rejections together pass the limit.
bool check_ack_room(DecodeContext& ctx, const Ack& ack, const FieldPath& path) {
  if (ack.seqs.size() + ack.rejected.size() < ctx.limits.max_ack_entries) return true;
  return ctx.fail(
      ErrorReason::kTooManyAckEntries, path,
      fmt::format("more than max_ack_entries {} seqs and rejections", ctx.limits.max_ack_entries));
}

}  // namespace

Result<Ack> decode_ack(ByteSpan bytes, const Limits& limits) {
  const FieldPath root{nullptr, "ack"};
  ES_RETURN_IF_ERROR(internal::check_payload_size(root, bytes.size(), limits));
  // Acks carry no timestamps, so the clock is not needed.
  DecodeContext ctx(limits, /*now=*/0);
  Ack ack;
  const FieldPath gateway_path = root.child("gateway_id");

  DecodeCallback gateway_cb(ctx, [&](pb_istream_t* s) {
    return internal::read_string(ctx, s, gateway_path, &ack.gateway_id);
  });
  // Called once per packed run (consumed here in full) or once per unpacked varint.
  DecodeCallback seqs_cb(ctx, [&](pb_istream_t* s) {
    while (s->bytes_left > 0) {
      const FieldPath path = root.child("seqs", ack.seqs.size());
      if (!check_ack_room(ctx, ack, path)) return false;
      std::uint64_t seq;
      if (!pb_decode_varint(s, &seq)) return ctx.fail(internal::decode_failure(ctx, *s, path));
      ack.seqs.push_back(seq);
    }
    return true;
  });
  DecodeCallback rejected_cb(ctx, [&](pb_istream_t* s) {
    const FieldPath path = root.child("rejected", ack.rejected.size());
    if (!check_ack_room(ctx, ack, path)) return false;
    if (!internal::is_length_delimited(s)) {
      return ctx.fail(ErrorReason::kMalformed, path, "expected a length-delimited message");
    }
    AckRejection rejection;
    const FieldPath reason_path = path.child("reason");
    DecodeCallback reason_cb(ctx, [&](pb_istream_t* rs) {
      return internal::read_string(ctx, rs, reason_path, &rejection.reason);
    });
    edgesketch_v1_AckRejection msg = edgesketch_v1_AckRejection_init_zero;
    msg.reason = reason_cb.callback();
    if (!pb_decode(s, edgesketch_v1_AckRejection_fields, &msg)) {
      return ctx.fail(internal::decode_failure(ctx, *s, path));
    }
    rejection.seq = msg.seq;
    ack.rejected.push_back(std::move(rejection));
    return true;
  });

  edgesketch_v1_Ack msg = edgesketch_v1_Ack_init_zero;
  msg.gateway_id = gateway_cb.callback();
  msg.seqs = seqs_cb.callback();
  msg.rejected = rejected_cb.callback();
  internal::InputStream in(bytes);
  if (!pb_decode(in.get(), edgesketch_v1_Ack_fields, &msg)) {
    return internal::decode_failure(ctx, *in.get(), root);
  }
  ES_RETURN_IF_ERROR(internal::check_name(gateway_path, ack.gateway_id, limits, true));
  return ack;
}

Bytes encode_ack(const Ack& ack) {
  EncodeCallback seqs_cb([&](pb_ostream_t* stream, const pb_field_t* field) {
    if (ack.seqs.empty()) return true;
    std::size_t size = 0;
    for (std::uint64_t seq : ack.seqs) size += static_cast<std::size_t>(varint_size(seq));
    if (!pb_encode_tag(stream, PB_WT_STRING, field->tag) || !pb_encode_varint(stream, size)) {
      return false;
    }
    for (std::uint64_t seq : ack.seqs) {
      if (!pb_encode_varint(stream, seq)) return false;
    }
    return true;
  });
  EncodeCallback rejected_cb([&](pb_ostream_t* stream, const pb_field_t* field) {
    for (const AckRejection& r : ack.rejected) {
      edgesketch_v1_AckRejection msg = edgesketch_v1_AckRejection_init_zero;
      msg.seq = r.seq;
      msg.reason = internal::encode_string_callback(&r.reason);
      if (!internal::encode_submessage(stream, field, edgesketch_v1_AckRejection_fields, &msg)) {
        return false;
      }
    }
    return true;
  });
  edgesketch_v1_Ack msg = edgesketch_v1_Ack_init_zero;
  msg.gateway_id = internal::encode_string_callback(&ack.gateway_id);
  msg.seqs = seqs_cb.callback();
  msg.rejected = rejected_cb.callback();
  std::optional<Bytes> out = internal::encode_message(edgesketch_v1_Ack_fields, &msg);
  assert(out && "encoding an Ack cannot fail");
  return out ? std::move(*out) : Bytes();
}

}  // namespace edgesketch::wire
