// Glue between nanopb's C streams and callbacks and our C++ state.
#include "nanopb_io.h"

#include <cstring>

#include <fmt/format.h>

namespace edgesketch::wire::internal {

InputStream::InputStream(ByteSpan bytes) : cursor_(bytes.data()) {
  stream_.callback = &InputStream::read;
  stream_.state = &cursor_;
  stream_.bytes_left = bytes.size();
  stream_.errmsg = nullptr;
}

bool InputStream::read(pb_istream_t* stream, pb_byte_t* buf, std::size_t count) {
  // pb_read() has checked bytes_left, and passes buf == nullptr only to its own buffer reader.
  auto*& cursor = *static_cast<const std::uint8_t**>(stream->state);
  std::memcpy(buf, cursor, count);
  cursor += count;
  return true;
}

bool is_length_delimited(const pb_istream_t* stream) {
  return stream->callback == &InputStream::read;
}

bool take_rest(pb_istream_t* stream, ByteSpan* out) {
  if (!is_length_delimited(stream)) return false;
  auto*& cursor = *static_cast<const std::uint8_t**>(stream->state);
  *out = ByteSpan(cursor, stream->bytes_left);
  cursor += stream->bytes_left;
  stream->bytes_left = 0;
  return true;
}

Status decode_failure(const DecodeContext& ctx, const pb_istream_t& stream, const FieldPath& what) {
  if (!ctx.error.ok()) return ctx.error;
  std::string_view msg = PB_GET_ERROR(&stream);
  // nanopb reports running out of input as one of these; everything else is a bad encoding.
  const bool truncated =
      msg == "end-of-stream" || msg == "parent stream too short" || msg == "io error";
  return field_error(truncated ? ErrorReason::kTruncated : ErrorReason::kMalformed, what,
                     fmt::format("protobuf decoding failed: {}", msg));
}

bool read_string(DecodeContext& ctx, pb_istream_t* stream, const FieldPath& path,
                 std::string* out) {
  std::string_view view;
  if (!take_rest(stream, &view)) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected a length-delimited string");
  }
  Status s = check_name(path, view, ctx.limits, /*required=*/false);
  if (!s.ok()) return ctx.fail(std::move(s));
  out->assign(view);
  return true;
}

namespace {

bool encode_string_thunk(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  const auto* s = static_cast<const std::string*>(*arg);
  if (s->empty()) return true;
  return pb_encode_tag_for_field(stream, field) &&
         pb_encode_string(stream, reinterpret_cast<const pb_byte_t*>(s->data()), s->size());
}

bool encode_bytes_thunk(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  const auto* b = static_cast<const Bytes*>(*arg);
  if (b->empty()) return true;
  return pb_encode_tag_for_field(stream, field) && pb_encode_string(stream, b->data(), b->size());
}

}  // namespace

pb_callback_t encode_string_callback(const std::string* value) {
  pb_callback_t cb{};
  cb.funcs.encode = &encode_string_thunk;
  cb.arg = const_cast<std::string*>(value);
  return cb;
}

pb_callback_t encode_bytes_callback(const Bytes* value) {
  pb_callback_t cb{};
  cb.funcs.encode = &encode_bytes_thunk;
  cb.arg = const_cast<Bytes*>(value);
  return cb;
}

bool encode_string(pb_ostream_t* stream, std::uint32_t field_number, std::string_view value) {
  if (value.empty()) return true;
  return pb_encode_tag(stream, PB_WT_STRING, field_number) &&
         pb_encode_string(stream, reinterpret_cast<const pb_byte_t*>(value.data()), value.size());
}

std::optional<Bytes> encode_message(const pb_msgdesc_t* fields, const void* message) {
  std::size_t size = 0;
  if (!pb_get_encoded_size(&size, fields, message)) return std::nullopt;
  Bytes out(size);
  pb_ostream_t stream = pb_ostream_from_buffer(out.data(), out.size());
  if (!pb_encode(&stream, fields, message) || stream.bytes_written != size) return std::nullopt;
  return out;
}

}  // namespace edgesketch::wire::internal
