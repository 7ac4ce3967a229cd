// Glue between nanopb's C streams and callbacks and our C++ state. Internal to es_wire.
//
// nanopb calls back through C function pointers: nothing may throw across them, so every
// callback goes through a thunk that catches everything and records the failure in the
// DecodeContext, which then outranks nanopb's own terse error message.
#pragma once

#include <pb.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/error_reason.h"
#include "edgesketch/wire/limits.h"
#include "validation.h"

namespace edgesketch::wire::internal {

// State shared by every callback of one decode.
struct DecodeContext {
  DecodeContext(const Limits& l, std::int64_t now) : limits(l), now_ms(now) {}

  // Records the first error; returns false so callbacks can `return ctx.fail(...)`.
  bool fail(Status status) {
    if (error.ok()) error = std::move(status);
    return false;
  }
  bool fail(ErrorReason reason, const FieldPath& path, std::string_view detail) {
    return fail(field_error(reason, path, detail));
  }

  const Limits& limits;
  std::int64_t now_ms;
  Status error;  // the first error a callback recorded
};

// A nanopb input stream over bytes in memory. Every substream nanopb derives from it for a
// length-delimited field shares its state, so callbacks can take views of string and bytes
// fields without copying (take_rest). Not copyable: the stream points at the cursor.
class InputStream {
 public:
  explicit InputStream(ByteSpan bytes);
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  pb_istream_t* get() { return &stream_; }

 private:
  friend bool is_length_delimited(const pb_istream_t* stream);
  static bool read(pb_istream_t* stream, pb_byte_t* buf, std::size_t count);

  const std::uint8_t* cursor_;
  pb_istream_t stream_;
};

// True when `stream` is an InputStream or one of its substreams. A callback for a
// length-delimited field gets a substream, except when a hostile sender gives the field a scalar
// wire type: nanopb then passes the raw scalar in a temporary stack stream.
bool is_length_delimited(const pb_istream_t* stream);

// Consumes the rest of `stream` and returns it as a view into the input; false (consuming
// nothing) unless is_length_delimited(stream).
bool take_rest(pb_istream_t* stream, ByteSpan* out);
inline bool take_rest(pb_istream_t* stream, std::string_view* out) {
  ByteSpan span;
  if (!take_rest(stream, &span)) return false;
  *out = std::string_view(reinterpret_cast<const char*>(span.data()), span.size());
  return true;
}

// Reads a string field (the whole of `stream`, a view into the input) into *out, checking it as
// a name (check_name: size and UTF-8; empty allowed). False with the error in `ctx` otherwise.
bool read_string(DecodeContext& ctx, pb_istream_t* stream, const FieldPath& path, std::string* out);

// The Status for a failed pb_decode of `what`: the callback's error when one was recorded,
// else nanopb's message classified as truncated or malformed.
Status decode_failure(const DecodeContext& ctx, const pb_istream_t& stream, const FieldPath& what);

// Binds a callable `bool fn(pb_istream_t*)` as a nanopb decode callback. The binder must outlive
// the pb_decode call. Exceptions become errors in `ctx`.
template <typename Fn>
class DecodeCallback {
 public:
  DecodeCallback(DecodeContext& ctx, Fn fn) : ctx_(ctx), fn_(std::move(fn)) {}
  DecodeCallback(const DecodeCallback&) = delete;
  DecodeCallback& operator=(const DecodeCallback&) = delete;

  pb_callback_t callback() {
    pb_callback_t cb{};
    cb.funcs.decode = &thunk;
    cb.arg = this;
    return cb;
  }

 private:
  static bool thunk(pb_istream_t* stream, const pb_field_t*, void** arg) noexcept {
    auto* self = static_cast<DecodeCallback*>(*arg);
    try {
      return self->fn_(stream);
    } catch (const std::bad_alloc&) {
      return self->ctx_.fail(wire_error(ErrorReason::kOutOfMemory, "allocation failed"));
    } catch (...) {
      return self->ctx_.fail(Status::internal("wire: exception in a decode callback"));
    }
  }

  DecodeContext& ctx_;
  Fn fn_;
};

// Encode callbacks for strings and byte blobs: `value` must outlive pb_encode. Empty values are
// omitted (proto3 defaults).
pb_callback_t encode_string_callback(const std::string* value);
pb_callback_t encode_bytes_callback(const Bytes* value);

// Binds a callable `bool fn(pb_ostream_t*, const pb_field_t*)` as a nanopb encode callback; the
// binder must outlive the pb_encode call. The callable must not throw (a throw fails the encode).
template <typename Fn>
class EncodeCallback {
 public:
  explicit EncodeCallback(Fn fn) : fn_(std::move(fn)) {}
  EncodeCallback(const EncodeCallback&) = delete;
  EncodeCallback& operator=(const EncodeCallback&) = delete;

  pb_callback_t callback() const {
    pb_callback_t cb{};
    cb.funcs.encode = &thunk;
    cb.arg = const_cast<EncodeCallback*>(this);
    return cb;
  }

 private:
  static bool thunk(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) noexcept {
    try {
      return static_cast<const EncodeCallback*>(*arg)->fn_(stream, field);
    } catch (...) {
      return false;
    }
  }

  Fn fn_;
};

// Writes `message` (described by `fields`) as one element of the repeated submessage field
// `field`, from an encode callback of that field.
inline bool encode_submessage(pb_ostream_t* stream, const pb_field_t* field,
                              const pb_msgdesc_t* fields, const void* message) {
  return pb_encode_tag_for_field(stream, field) && pb_encode_submessage(stream, fields, message);
}

// Writes a length-delimited field `field_number` holding a string (no-op when empty).
bool encode_string(pb_ostream_t* stream, std::uint32_t field_number, std::string_view value);

// Encodes `message` into exactly-sized bytes (a sizing pass, then a write pass). nullopt when
// nanopb fails, which only a bug (or a callback that failed) can cause.
std::optional<Bytes> encode_message(const pb_msgdesc_t* fields, const void* message);

}  // namespace edgesketch::wire::internal
