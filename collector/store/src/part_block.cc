// Column encoding, zstd framing and hostile-input-safe decoding of part blocks.
#include "edgesketch/store/part_block.h"

#include <zstd.h>

#include <bit>
#include <cstring>

#include "edgesketch/common/crc32c.h"
#include "float_coding.h"
#include "histogram_compact.h"

namespace edgesketch::store {
namespace {

constexpr std::uint8_t kHasHistogram = 1;
constexpr std::uint8_t kHasDistinct = 2;
constexpr std::uint8_t kHasTopk = 4;
constexpr std::uint8_t kStripMin = 8;
constexpr std::uint8_t kStripMax = 16;
constexpr std::uint8_t kStripSum = 32;
constexpr std::uint8_t kCompactHistogram = 64;  // format 2: in the compact histogram column
constexpr std::uint8_t kKnownFlagsV1 = 63;
constexpr std::uint8_t kKnownFlagsV2 = 127;

// The prediction of a row's sum from its count, min and max (format 2's sum column).
double predicted_sum(std::uint64_t count, double min, double max) {
  return static_cast<double>(count) * ((min + max) / 2);
}

// Calls fn(begin, end) for each run of rows of one series.
template <typename Fn>
void for_each_run(std::span<const PartRow> rows, Fn&& fn) {
  std::size_t i = 0;
  while (i < rows.size()) {
    std::size_t j = i + 1;
    while (j < rows.size() && rows[j].series_id == rows[i].series_id) ++j;
    fn(i, j);
    i = j;
  }
}

// Offset of the histogram's (sum, min, max) triple in its serialized bytes, or 0 when the
// header does not parse or the sketch is empty (no triple).
std::size_t histogram_stats_offset(ByteSpan h) {
  ByteReader r(h);
  r.u8();
  r.u8();
  r.u8();
  r.varint();
  const std::uint64_t count = r.varint();
  if (!r.ok() || count == 0 || r.remaining() < 24) return 0;
  return h.size() - r.remaining();
}

Status corrupt(const char* what) { return Status::corruption(std::string("part block: ") + what); }

}  // namespace

namespace {

// The raw (uncompressed) columns of a block; `ends`, when given, gets each column's end offset.
void encode_columns(std::span<const PartRow> rows, Bytes& raw, std::vector<std::size_t>* ends) {
  Bytes col;
  auto put_column = [&raw, ends](const Bytes& c) {
    put_varint(raw, c.size());
    put_bytes(raw, c);
    if (ends != nullptr) ends->push_back(raw.size());
  };
  // 1. series ids, run-length coded.
  {
    col.clear();
    std::uint64_t prev = 0;
    std::size_t i = 0;
    while (i < rows.size()) {
      std::size_t j = i + 1;
      while (j < rows.size() && rows[j].series_id == rows[i].series_id) ++j;
      put_svarint(col, static_cast<std::int64_t>(rows[i].series_id - prev));
      put_varint(col, j - i - 1);
      prev = rows[i].series_id;
      i = j;
    }
    put_column(col);
  }
  // 2. window starts, delta-of-delta.
  {
    col.clear();
    std::uint64_t prev = 0;
    std::uint64_t prev_delta = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto v = static_cast<std::uint64_t>(rows[i].window_start);
      if (i == 0) {
        put_svarint(col, rows[i].window_start);
      } else {
        const std::uint64_t delta = v - prev;
        put_svarint(col, static_cast<std::int64_t>(delta - prev_delta));
        prev_delta = delta;
      }
      prev = v;
    }
    put_column(col);
  }
  // 3. counts.
  col.clear();
  for (const auto& r : rows) put_varint(col, r.count);
  put_column(col);
  // 4-6. min, max, sum, per series run; max predicted from min, sum from both.
  std::vector<double> v(rows.size());
  std::vector<double> predicted(rows.size());
  for (int which = 0; which < 3; ++which) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      v[i] = which == 0 ? rows[i].min : which == 1 ? rows[i].max : rows[i].sum;
      if (which == 1) predicted[i] = rows[i].min;
      if (which == 2) predicted[i] = predicted_sum(rows[i].count, rows[i].min, rows[i].max);
    }
    col.clear();
    for_each_run(rows, [&](std::size_t i, std::size_t j) {
      encode_scalar_run(std::span<const double>(v).subspan(i, j - i),
                        which == 0 ? std::span<const double>()
                                   : std::span<const double>(predicted).subspan(i, j - i),
                        col);
    });
    put_column(col);
  }
  // 7-9. sketch flags, blobs and compact histograms.
  Bytes flags;
  Bytes blobs;
  Bytes compact;
  Bytes scratch;
  flags.reserve(rows.size());
  for (const auto& r : rows) {
    std::uint8_t f = 0;
    if (!r.histogram.empty() &&
        compact_histogram(r.histogram, RowStats{r.count, r.sum, r.min, r.max},
                          r.histogram.size() - 24, compact, scratch)) {
      f |= kHasHistogram | kCompactHistogram;
    } else if (!r.histogram.empty()) {
      f |= kHasHistogram;
      ByteSpan h = r.histogram;
      const std::size_t off = histogram_stats_offset(h);
      Bytes stripped;
      if (off != 0) {
        double hs[3];  // sum, min, max as serialized
        std::memcpy(hs, h.data() + off, 24);
        const double row_vals[3] = {r.sum, r.min, r.max};
        const std::uint8_t bit[3] = {kStripSum, kStripMin, kStripMax};
        stripped.assign(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(off));
        for (int k = 0; k < 3; ++k) {
          if (std::bit_cast<std::uint64_t>(hs[k]) == std::bit_cast<std::uint64_t>(row_vals[k])) {
            f |= bit[k];
          } else {
            put_f64(stripped, hs[k]);
          }
        }
        stripped.insert(stripped.end(), h.begin() + static_cast<std::ptrdiff_t>(off + 24), h.end());
        h = stripped;
      }
      put_varint(blobs, h.size());
      put_bytes(blobs, h);
    }
    if (!r.distinct.empty()) {
      f |= kHasDistinct;
      put_varint(blobs, r.distinct.size());
      put_bytes(blobs, r.distinct);
    }
    if (!r.topk.empty()) {
      f |= kHasTopk;
      put_varint(blobs, r.topk.size());
      put_bytes(blobs, r.topk);
    }
    flags.push_back(f);
  }
  put_column(flags);
  put_column(blobs);
  put_column(compact);
}

}  // namespace

std::vector<PartBlockColumnSize> measure_part_block_columns(std::span<const PartRow> rows,
                                                            int zstd_level) {
  static constexpr const char* kNames[] = {"series_id",    "window_start", "count",
                                           "min",          "max",          "sum",
                                           "sketch_flags", "sketches",     "histograms_compact"};
  Bytes raw;
  std::vector<std::size_t> ends;
  encode_columns(rows, raw, &ends);
  std::vector<PartBlockColumnSize> sizes;
  Bytes z;
  std::size_t begin = 0;
  for (std::size_t c = 0; c < ends.size(); ++c) {
    PartBlockColumnSize s;
    s.name = kNames[c];
    s.raw_bytes = ends[c] - begin;
    z.resize(ZSTD_compressBound(s.raw_bytes));
    s.zstd_bytes = ZSTD_compress(z.data(), z.size(), raw.data() + begin, s.raw_bytes, zstd_level);
    sizes.push_back(s);
    begin = ends[c];
  }
  return sizes;
}

void encode_part_block(std::span<const PartRow> rows, int zstd_level, Bytes& out) {
  Bytes raw;
  std::vector<std::size_t> ends;
  encode_columns(rows, raw, &ends);

  const std::size_t header_at = out.size();
  const std::size_t frame_at = header_at + kPartBlockHeaderBytes;
  out.resize(frame_at + ZSTD_compressBound(raw.size()) + 16 * ends.size());
  // One frame, but a zstd block ends after each column of at least kOwnTableBytes, so that
  // column gets its own entropy tables (a column's bytes have their own statistics: mode bytes
  // and deltas, tokens, flags).
  constexpr std::size_t kOwnTableBytes = 1024;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, zstd_level);
  ZSTD_CCtx_setPledgedSrcSize(cctx, raw.size());
  ZSTD_outBuffer dst{out.data() + frame_at, out.size() - frame_at, 0};
  std::size_t begin = 0;
  for (std::size_t c = 0; c < ends.size(); ++c) {
    const bool last = c + 1 == ends.size();
    if (!last && ends[c] - begin < kOwnTableBytes) continue;
    ZSTD_inBuffer src{raw.data() + begin, ends[c] - begin, 0};
    std::size_t left;
    do {
      left = ZSTD_compressStream2(cctx, &dst, &src, last ? ZSTD_e_end : ZSTD_e_flush);
      if (left != 0 && !ZSTD_isError(left) && dst.pos == dst.size) {
        // Flushes add block headers beyond the one-shot bound; make room and go on.
        out.resize(out.size() + ZSTD_CStreamOutSize());
        dst.dst = out.data() + frame_at;
        dst.size = out.size() - frame_at;
      }
    } while (left != 0 && !ZSTD_isError(left));
    begin = ends[c];
  }
  ZSTD_freeCCtx(cctx);
  // Compression cannot fail with a valid level and the pledged size.
  const std::size_t n = dst.pos;
  out.resize(header_at + kPartBlockHeaderBytes + n);
  std::uint8_t* h = out.data() + header_at;
  const auto clen = static_cast<std::uint32_t>(n);
  const auto rlen = static_cast<std::uint32_t>(raw.size());
  const auto nrows = static_cast<std::uint32_t>(rows.size());
  std::memcpy(h, &clen, 4);
  std::memcpy(h + 4, &rlen, 4);
  std::memcpy(h + 8, &nrows, 4);
  const std::uint32_t crc = crc32c_extend(crc32c(h, 12), h + kPartBlockHeaderBytes, n);
  std::memcpy(h + 12, &crc, 4);
}

Result<PartBlock> decode_part_block(ByteSpan framed, std::uint32_t format) {
  if (format != 1 && format != kPartBlockFormat) return corrupt("unknown block format");
  if (framed.size() < kPartBlockHeaderBytes) return corrupt("shorter than its header");
  std::uint32_t clen, rlen, nrows, crc;
  std::memcpy(&clen, framed.data(), 4);
  std::memcpy(&rlen, framed.data() + 4, 4);
  std::memcpy(&nrows, framed.data() + 8, 4);
  std::memcpy(&crc, framed.data() + 12, 4);
  if (clen != framed.size() - kPartBlockHeaderBytes) return corrupt("frame length mismatch");
  if (rlen > kMaxBlockRawBytes || nrows == 0 || nrows > kMaxBlockRows || nrows > rlen) {
    return corrupt("raw length or row count out of range");
  }
  if (crc32c_extend(crc32c(framed.data(), 12), framed.data() + kPartBlockHeaderBytes, clen) !=
      crc) {
    return corrupt("checksum mismatch");
  }
  const unsigned long long content =
      ZSTD_getFrameContentSize(framed.data() + kPartBlockHeaderBytes, clen);
  if (content != rlen) return corrupt("zstd frame size does not match raw_len");
  PartBlock b;
  b.raw_.resize(rlen);
  const std::size_t got =
      ZSTD_decompress(b.raw_.data(), rlen, framed.data() + kPartBlockHeaderBytes, clen);
  if (ZSTD_isError(got) || got != rlen) return corrupt("zstd frame does not decompress");

  ByteReader r(b.raw_);
  auto column = [&r]() -> ByteSpan {
    const std::uint64_t n = r.varint();
    if (!r.ok() || n > r.remaining()) {
      r.fail();
      return {};
    }
    return r.bytes(n);
  };
  const std::size_t rows = nrows;
  // 1. series ids.
  {
    ByteReader c(column());
    b.series_ids_.reserve(rows);
    std::uint64_t prev = 0;
    while (r.ok() && c.ok() && !c.at_end() && b.series_ids_.size() < rows) {
      const std::uint64_t id = prev + static_cast<std::uint64_t>(c.svarint());
      const std::uint64_t run = c.varint();
      if (!c.ok() || run >= rows - b.series_ids_.size()) {
        return corrupt("series id run exceeds the row count");
      }
      if (!b.series_ids_.empty() && id <= prev) return corrupt("series ids not increasing");
      b.series_ids_.insert(b.series_ids_.end(), run + 1, id);
      prev = id;
    }
    if (!r.ok() || !c.ok() || !c.at_end() || b.series_ids_.size() != rows) {
      return corrupt("bad series id column");
    }
  }
  // 2. window starts.
  {
    ByteReader c(column());
    b.starts_.resize(rows);
    std::uint64_t prev = 0;
    std::uint64_t prev_delta = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      if (i == 0) {
        prev = static_cast<std::uint64_t>(c.svarint());
      } else {
        prev_delta += static_cast<std::uint64_t>(c.svarint());
        prev += prev_delta;
      }
      b.starts_[i] = static_cast<std::int64_t>(prev);
      if (i > 0 && b.series_ids_[i] == b.series_ids_[i - 1] && b.starts_[i] <= b.starts_[i - 1]) {
        return corrupt("window starts not increasing within a series");
      }
    }
    if (!r.ok() || !c.ok() || !c.at_end()) return corrupt("bad window start column");
  }
  // 3. counts.
  {
    ByteReader c(column());
    b.counts_.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) b.counts_[i] = c.varint();
    if (!r.ok() || !c.ok() || !c.at_end()) return corrupt("bad count column");
  }
  // 4-6. floats: sum, min, max as Gorilla streams (format 1); min, max, sum as one coded run per
  // series (format 2), max predicted from min and sum from count, min and max.
  std::vector<double>* floats[3] = {&b.sums_, &b.mins_, &b.maxs_};
  if (format != 1) floats[0] = &b.mins_, floats[1] = &b.maxs_, floats[2] = &b.sums_;
  std::vector<double> predicted;
  for (int which = 0; which < 3; ++which) {
    std::vector<double>* f = floats[which];
    ByteSpan c = column();
    if (!r.ok()) return corrupt("bad float column");
    if (format == 1) {
      if (!gorilla_decode(c, rows, *f)) return corrupt("bad float column");
      continue;
    }
    if (which == 1) predicted = b.mins_;
    if (which == 2) {
      for (std::size_t i = 0; i < rows; ++i) {
        predicted[i] = predicted_sum(b.counts_[i], b.mins_[i], b.maxs_[i]);
      }
    }
    f->reserve(rows);
    ByteReader cr(c);
    std::size_t i = 0;
    while (i < rows) {
      std::size_t j = i + 1;
      while (j < rows && b.series_ids_[j] == b.series_ids_[i]) ++j;
      const auto p = which == 0 ? std::span<const double>()
                                : std::span<const double>(predicted).subspan(i, j - i);
      if (!decode_scalar_run(cr, j - i, p, *f)) return corrupt("bad float run");
      i = j;
    }
    if (!cr.ok() || !cr.at_end()) return corrupt("bad float column");
  }
  // 7-9. sketches.
  ByteSpan flags = column();
  ByteSpan blobs = column();
  ByteSpan compact = format == 1 ? ByteSpan() : column();
  if (!r.ok() || !r.at_end() || flags.size() != rows) return corrupt("bad sketch columns");
  b.flags_.assign(flags.begin(), flags.end());
  b.blobs_.resize(rows);
  ByteReader c(blobs);
  const std::size_t blobs_base = static_cast<std::size_t>(blobs.data() - b.raw_.data());
  auto take = [&](PartBlock::Blob& blob) {
    const std::uint64_t n = c.varint();
    if (!c.ok() || n > c.remaining()) {
      c.fail();
      return;
    }
    blob.offset = static_cast<std::uint32_t>(blobs_base + (blobs.size() - c.remaining()));
    blob.size = static_cast<std::uint32_t>(n);
    c.bytes(n);
  };
  ByteReader cc(compact);
  const std::size_t compact_base =
      compact.empty() ? 0 : static_cast<std::size_t>(compact.data() - b.raw_.data());
  const std::uint8_t known = format == 1 ? kKnownFlagsV1 : kKnownFlagsV2;
  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint8_t f = b.flags_[i];
    const bool stripped = (f & (kStripMin | kStripMax | kStripSum)) != 0;
    if ((f & ~known) != 0 || (!(f & kHasHistogram) && (stripped || (f & kCompactHistogram))) ||
        ((f & kCompactHistogram) && stripped)) {
      return corrupt("bad sketch flags");
    }
    if (f & kCompactHistogram) {
      PartBlock::Blob& blob = b.blobs_[i].histogram;
      blob.offset = static_cast<std::uint32_t>(compact_base + (compact.size() - cc.remaining()));
      if (!expand_compact_histogram(cc, b.stats(i), nullptr)) {
        return corrupt("bad compact histogram");
      }
      blob.size = static_cast<std::uint32_t>(compact_base + (compact.size() - cc.remaining()) -
                                             blob.offset);
    } else if (f & kHasHistogram) {
      take(b.blobs_[i].histogram);
    }
    if (f & kHasDistinct) take(b.blobs_[i].distinct);
    if (f & kHasTopk) take(b.blobs_[i].topk);
    if (!c.ok()) return corrupt("bad sketch blob column");
  }
  if (!c.at_end()) return corrupt("trailing bytes in the sketch blob column");
  if (!cc.at_end()) return corrupt("trailing bytes in the compact histogram column");
  return b;
}

ByteSpan PartBlock::histogram(std::size_t i, Bytes& scratch) const {
  const std::uint8_t f = flags_[i];
  if (!(f & kHasHistogram)) return {};
  ByteSpan h = span_of(blobs_[i].histogram);
  if (f & kCompactHistogram) {
    // Checked by decode_part_block(), so it expands.
    ByteReader r(h);
    scratch.clear();
    (void)expand_compact_histogram(r, stats(i), &scratch);
    return scratch;
  }
  if (!(f & (kStripMin | kStripMax | kStripSum))) return h;
  // Rebuild the canonical layout: the stripped fields come from the row. A blob whose header
  // does not parse is passed through and rejected by the histogram decoder.
  ByteReader r(h);
  r.u8();
  r.u8();
  r.u8();
  r.varint();
  r.varint();
  if (!r.ok()) return h;
  const std::size_t off = h.size() - r.remaining();
  scratch.assign(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(off));
  const double row_vals[3] = {sums_[i], mins_[i], maxs_[i]};
  const std::uint8_t bit[3] = {kStripSum, kStripMin, kStripMax};
  for (int k = 0; k < 3; ++k) {
    if (f & bit[k]) {
      put_f64(scratch, row_vals[k]);
    } else {
      put_f64(scratch, r.f64());
    }
  }
  if (!r.ok()) return h;
  scratch.insert(scratch.end(), h.end() - static_cast<std::ptrdiff_t>(r.remaining()), h.end());
  return scratch;
}

PartRow PartBlock::row(std::size_t i, Bytes& scratch) const {
  PartRow row;
  row.series_id = series_ids_[i];
  row.window_start = starts_[i];
  row.count = counts_[i];
  row.sum = sums_[i];
  row.min = mins_[i];
  row.max = maxs_[i];
  row.histogram = histogram(i, scratch);
  row.distinct = distinct(i);
  row.topk = topk(i);
  return row;
}

}  // namespace edgesketch::store
