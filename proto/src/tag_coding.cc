// Tags of a WindowRecord, coded by hand on nanopb's stream primitives.
#include "tag_coding.h"

#include <fmt/format.h>

#include "edgesketch.pb.h"

namespace edgesketch::wire::internal {
namespace {

// Bytes of a string field with a one-byte key (field numbers below 16); 0 when omitted.
std::size_t string_field_size(std::string_view s) {
  return s.empty() ? 0 : 1 + static_cast<std::size_t>(varint_size(s.size())) + s.size();
}

bool encode_tags_thunk(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  static_assert(edgesketch_v1_Tag_key_tag < 16 && edgesketch_v1_Tag_value_tag < 16);
  for (const Tag& tag : *static_cast<const std::vector<Tag>*>(*arg)) {
    const std::size_t size = string_field_size(tag.key) + string_field_size(tag.value);
    if (!pb_encode_tag_for_field(stream, field) || !pb_encode_varint(stream, size) ||
        !encode_string(stream, edgesketch_v1_Tag_key_tag, tag.key) ||
        !encode_string(stream, edgesketch_v1_Tag_value_tag, tag.value)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool decode_sorted_tag(DecodeContext& ctx, pb_istream_t* stream, const FieldPath& record,
                       std::vector<Tag>* tags) {
  const FieldPath path = record.child("tags", tags->size());
  if (tags->size() >= ctx.limits.max_tags) {
    return ctx.fail(ErrorReason::kTooManyTags, path,
                    fmt::format("more than max_tags {} tags", ctx.limits.max_tags));
  }
  if (!is_length_delimited(stream)) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected a length-delimited message");
  }
  std::string_view key, value;
  while (stream->bytes_left > 0) {
    pb_wire_type_t wire_type;
    std::uint32_t field = 0;
    bool eof = false;
    if (!pb_decode_tag(stream, &wire_type, &field, &eof)) {
      return ctx.fail(decode_failure(ctx, *stream, path));
    }
    if (field == edgesketch_v1_Tag_key_tag || field == edgesketch_v1_Tag_value_tag) {
      pb_istream_t sub;
      std::string_view* target = field == edgesketch_v1_Tag_key_tag ? &key : &value;
      if (wire_type != PB_WT_STRING) {
        return ctx.fail(ErrorReason::kMalformed, path,
                        fmt::format("field {} has wire type {}, not a string", field,
                                    static_cast<int>(wire_type)));
      }
      if (!pb_make_string_substream(stream, &sub) || !take_rest(&sub, target) ||
          !pb_close_string_substream(stream, &sub)) {
        return ctx.fail(decode_failure(ctx, *stream, path));
      }
    } else if (field == 0) {
      return ctx.fail(ErrorReason::kMalformed, path, "field number 0");
    } else if (!pb_skip_field(stream, wire_type)) {
      return ctx.fail(decode_failure(ctx, *stream, path));
    }
  }
  Status s = check_name(path.child("key"), key, ctx.limits, /*required=*/true);
  if (s.ok()) s = check_name(path.child("value"), value, ctx.limits, /*required=*/false);
  if (!s.ok()) return ctx.fail(std::move(s));
  if (!tags->empty() && !(tags->back().key < key)) {
    return ctx.fail(ErrorReason::kTagOrder, path.child("key"),
                    fmt::format("\"{}\" does not sort after the previous key \"{}\" (tags must be "
                                "sorted by key, keys unique)",
                                key, tags->back().key));
  }
  tags->push_back(Tag{std::string(key), std::string(value)});
  return true;
}

pb_callback_t encode_tags_callback(const std::vector<Tag>* tags) {
  pb_callback_t cb{};
  cb.funcs.encode = &encode_tags_thunk;
  cb.arg = const_cast<std::vector<Tag>*>(tags);
  return cb;
}

}  // namespace edgesketch::wire::internal
