// zstd framing of window batch payloads (see compression.h).
#include "edgesketch/wire/compression.h"

#include <zstd.h>

#include <fmt/format.h>

#include <memory>

#include "edgesketch/wire/error_reason.h"

namespace edgesketch::wire {
namespace {

constexpr unsigned char kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};

struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

// One context per thread: decoders and encoders run on many threads, each context on one.
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}
ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  return ctx.get();
}

}  // namespace

bool is_compressed_payload(ByteSpan bytes) {
  return bytes.size() >= 4 && bytes[0] == kMagic[0] && bytes[1] == kMagic[1] &&
         bytes[2] == kMagic[2] && bytes[3] == kMagic[3];
}

Bytes compress_window_batch(ByteSpan encoded, int level) {
  Bytes out(ZSTD_compressBound(encoded.size()));
  ZSTD_CCtx* cctx = thread_cctx();
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  const std::size_t n =
      ZSTD_compress2(cctx, out.data(), out.size(), encoded.data(), encoded.size());
  // Cannot fail with a ZSTD_compressBound-sized buffer and valid parameters.
  if (ZSTD_isError(n)) return Bytes(encoded.begin(), encoded.end());
  out.resize(n);
  return out;
}

Result<ByteSpan> uncompressed_payload(ByteSpan bytes, const Limits& limits, Bytes& scratch) {
  if (bytes.size() > limits.max_payload_bytes) {
    return wire_error(ErrorReason::kPayloadTooLarge,
                      fmt::format("window_batch: {} bytes exceed max_payload_bytes {}",
                                  bytes.size(), limits.max_payload_bytes));
  }
  if (!is_compressed_payload(bytes)) return bytes;
  const unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return wire_error(ErrorReason::kBadCompression,
                      "window_batch: zstd frame without a valid content size");
  }
  if (size > limits.max_payload_bytes) {
    return wire_error(ErrorReason::kPayloadTooLarge,
                      fmt::format("window_batch: zstd frame holds {} bytes, above "
                                  "max_payload_bytes {}",
                                  size, limits.max_payload_bytes));
  }
  // One frame, nothing after it.
  const std::size_t frame = ZSTD_findFrameCompressedSize(bytes.data(), bytes.size());
  if (ZSTD_isError(frame) || frame != bytes.size()) {
    return wire_error(ErrorReason::kBadCompression,
                      "window_batch: not exactly one complete zstd frame");
  }
  scratch.resize(static_cast<std::size_t>(size));
  const std::size_t n = ZSTD_decompressDCtx(thread_dctx(), scratch.data(), scratch.size(),
                                            bytes.data(), bytes.size());
  if (ZSTD_isError(n) || n != size) {
    return wire_error(
        ErrorReason::kBadCompression,
        fmt::format("window_batch: zstd: {}",
                    ZSTD_isError(n) ? ZSTD_getErrorName(n) : "content size mismatch"));
  }
  return ByteSpan(scratch.data(), scratch.size());
}

}  // namespace edgesketch::wire
