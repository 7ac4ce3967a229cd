// Writing and opening part files.
#include "part_file.h"

#include <cerrno>
#include <cstring>
#include <limits>

#include "edgesketch/common/crc32c.h"

namespace edgesketch::store {
namespace {

constexpr char kHeadMagic[8] = {'E', 'S', 'P', 'A', 'R', 'T', '0', '1'};
constexpr char kTailMagic[8] = {'E', 'S', 'P', 'A', 'R', 'T', 'F', '1'};
// The meta version is the block format of the part's blocks: 1 (the first layout, still read)
// or kPartBlockFormat (written).
constexpr std::uint32_t kVersion = kPartBlockFormat;
constexpr std::size_t kIndexEntryBytes = 48;
constexpr std::size_t kTrailerBytes = 16;

}  // namespace

PartWriter::PartWriter(env::Env& env, std::string path, PartMeta meta, std::size_t block_rows,
                       int zstd_level, std::size_t block_bytes)
    : env_(env),
      path_(std::move(path)),
      meta_(std::move(meta)),
      block_rows_(std::max<std::size_t>(1, std::min(block_rows, kMaxBlockRows))),
      block_bytes_(std::max<std::size_t>(1, std::min(block_bytes, kMaxBlockRawBytes / 2))),
      zstd_level_(zstd_level) {
  meta_.rows = 0;
  meta_.blocks = 0;
  meta_.min_ws = std::numeric_limits<std::int64_t>::max();
  meta_.max_ws = std::numeric_limits<std::int64_t>::min();
  const std::string tmp = path_ + ".tmp";
  auto f = env_.open_append(tmp, /*truncate=*/true);
  if (!f.ok()) {
    status_ = f.status();
    return;
  }
  file_ = std::move(f).value();
  status_ = file_->append(ByteSpan(reinterpret_cast<const std::uint8_t*>(kHeadMagic), 8));
  offset_ = 8;
}

PartWriter::~PartWriter() {
  if (file_ != nullptr) {
    file_.reset();
    (void)env_.remove_file(path_ + ".tmp");
  }
}

Status PartWriter::add(const PartRow& row) {
  if (!status_.ok()) return status_;
  if (have_last_ && (row.series_id < last_series_ ||
                     (row.series_id == last_series_ && row.window_start <= last_ws_))) {
    return Status::internal("part writer: rows out of order at series " +
                            std::to_string(row.series_id));
  }
  have_last_ = true;
  last_series_ = row.series_id;
  last_ws_ = row.window_start;
  Pending p;
  p.row = row;
  auto keep = [&](ByteSpan b, std::uint32_t& off, std::uint32_t& len) {
    off = static_cast<std::uint32_t>(arena_.size());
    len = static_cast<std::uint32_t>(b.size());
    arena_.insert(arena_.end(), b.begin(), b.end());
  };
  keep(row.histogram, p.h_off, p.h_len);
  keep(row.distinct, p.d_off, p.d_len);
  keep(row.topk, p.t_off, p.t_len);
  pending_.push_back(p);
  meta_.min_ws = std::min(meta_.min_ws, row.window_start);
  meta_.max_ws = std::max(meta_.max_ws, row.window_start);
  ++meta_.rows;
  if (pending_.size() >= block_rows_ || arena_.size() >= block_bytes_) {
    status_ = flush_block();
  }
  return status_;
}

Status PartWriter::flush_block() {
  if (pending_.empty()) return Status();
  std::vector<PartRow> rows;
  rows.reserve(pending_.size());
  const ByteSpan arena(arena_);
  for (const auto& p : pending_) {
    PartRow r = p.row;
    r.histogram = arena.subspan(p.h_off, p.h_len);
    r.distinct = arena.subspan(p.d_off, p.d_len);
    r.topk = arena.subspan(p.t_off, p.t_len);
    rows.push_back(r);
  }
  out_.clear();
  encode_part_block(rows, zstd_level_, out_);
  BlockIndexEntry e;
  e.offset = offset_;
  e.length = static_cast<std::uint32_t>(out_.size());
  e.rows = static_cast<std::uint32_t>(rows.size());
  e.first_series = rows.front().series_id;
  e.first_ws = rows.front().window_start;
  e.last_series = rows.back().series_id;
  e.last_ws = rows.back().window_start;
  index_.push_back(e);
  ES_RETURN_IF_ERROR(file_->append(out_));
  offset_ += out_.size();
  pending_.clear();
  arena_.clear();
  return Status();
}

Result<PartMeta> PartWriter::finish(std::uint64_t& bytes) {
  if (!status_.ok()) return status_;
  ES_RETURN_IF_ERROR(flush_block());
  if (meta_.rows == 0) return Status::internal("part writer: empty part " + path_);
  meta_.blocks = static_cast<std::uint32_t>(index_.size());
  Bytes tail;
  const std::uint64_t index_offset = offset_;
  for (const auto& e : index_) {
    put_u64(tail, e.offset);
    put_u32(tail, e.length);
    put_u32(tail, e.rows);
    put_u64(tail, e.first_series);
    put_u64(tail, static_cast<std::uint64_t>(e.first_ws));
    put_u64(tail, e.last_series);
    put_u64(tail, static_cast<std::uint64_t>(e.last_ws));
  }
  const std::uint32_t index_crc = crc32c(tail);
  Bytes meta;
  put_u32(meta, kVersion);
  put_string(meta, meta_.tenant);
  put_u32(meta, meta_.tier_ms);
  put_u64(meta, static_cast<std::uint64_t>(meta_.day));
  put_u64(meta, meta_.rows);
  put_u64(meta, static_cast<std::uint64_t>(meta_.min_ws));
  put_u64(meta, static_cast<std::uint64_t>(meta_.max_ws));
  put_u64(meta, index_offset);
  put_u32(meta, meta_.blocks);
  put_u32(meta, index_crc);
  put_bytes(tail, meta);
  put_u32(tail, static_cast<std::uint32_t>(meta.size()));
  put_u32(tail, crc32c(meta));
  for (char c : kTailMagic) tail.push_back(static_cast<std::uint8_t>(c));
  const std::string tmp = path_ + ".tmp";
  ES_RETURN_IF_ERROR(file_->append(tail));
  offset_ += tail.size();
  ES_RETURN_IF_ERROR(file_->sync());
  file_.reset();
  if (Status s = env_.rename(tmp, path_); !s.ok()) {
    (void)env_.remove_file(tmp);
    return s;
  }
  ES_RETURN_IF_ERROR(env_.sync_dir(env::parent_dir(path_)));
  bytes = offset_;
  return meta_;
}

Result<std::shared_ptr<const PartReader>> PartReader::open(env::Env& env, const std::string& path,
                                                           bool verify_blocks) {
  std::shared_ptr<PartReader> p(new PartReader());
  p->path_ = path;
  ES_ASSIGN_OR_RETURN(p->map_, env.map_file(path));
  const ByteSpan f = p->map_.bytes();
  auto bad = [&](const std::string& what) {
    return Status::corruption("part " + path + ": " + what);
  };
  if (f.size() < 8 + kTrailerBytes || std::memcmp(f.data(), kHeadMagic, 8) != 0) {
    return bad("missing header magic (truncated or not a part)");
  }
  if (std::memcmp(f.data() + f.size() - 8, kTailMagic, 8) != 0) {
    return bad("missing footer magic (truncated?)");
  }
  std::uint32_t meta_len, meta_crc;
  std::memcpy(&meta_len, f.data() + f.size() - 16, 4);
  std::memcpy(&meta_crc, f.data() + f.size() - 12, 4);
  if (meta_len > f.size() - 8 - kTrailerBytes) return bad("meta length out of range");
  const ByteSpan meta = f.subspan(f.size() - kTrailerBytes - meta_len, meta_len);
  if (crc32c(meta) != meta_crc) return bad("meta checksum mismatch");
  ByteReader r(meta);
  const std::uint32_t version = r.u32();
  PartMeta& m = p->meta_;
  m.tenant = std::string(r.string(1024));
  m.tier_ms = r.u32();
  m.day = static_cast<std::int64_t>(r.u64());
  m.rows = r.u64();
  m.min_ws = static_cast<std::int64_t>(r.u64());
  m.max_ws = static_cast<std::int64_t>(r.u64());
  const std::uint64_t index_offset = r.u64();
  m.blocks = r.u32();
  const std::uint32_t index_crc = r.u32();
  if (!r.ok() || !r.at_end() || (version != 1 && version != kVersion)) {
    return bad("bad meta (version or length)");
  }
  p->format_ = version;
  const std::uint64_t index_end = f.size() - kTrailerBytes - meta_len;
  if (index_offset < 8 || index_offset > index_end ||
      (index_end - index_offset) != std::uint64_t{m.blocks} * kIndexEntryBytes) {
    return bad("index out of range");
  }
  const ByteSpan index = f.subspan(index_offset, index_end - index_offset);
  if (crc32c(index) != index_crc) return bad("index checksum mismatch");
  ByteReader ir(index);
  std::uint64_t expect = 8;
  std::uint64_t rows = 0;
  p->index_.resize(m.blocks);
  for (std::uint32_t i = 0; i < m.blocks; ++i) {
    BlockIndexEntry& e = p->index_[i];
    e.offset = ir.u64();
    e.length = ir.u32();
    e.rows = ir.u32();
    e.first_series = ir.u64();
    e.first_ws = static_cast<std::int64_t>(ir.u64());
    e.last_series = ir.u64();
    e.last_ws = static_cast<std::int64_t>(ir.u64());
    if (e.offset != expect || e.length > index_offset - e.offset) {
      return bad("block " + std::to_string(i) + " out of range");
    }
    expect += e.length;
    rows += e.rows;
    if (verify_blocks) {
      auto blk = f.subspan(e.offset, e.length);
      std::uint32_t clen, crc;
      if (blk.size() < kPartBlockHeaderBytes) return bad("block " + std::to_string(i) + " short");
      std::memcpy(&clen, blk.data(), 4);
      std::memcpy(&crc, blk.data() + 12, 4);
      if (clen != blk.size() - kPartBlockHeaderBytes ||
          crc32c_extend(crc32c(blk.data(), 12), blk.data() + kPartBlockHeaderBytes, clen) != crc) {
        return bad("block " + std::to_string(i) + " checksum mismatch");
      }
    }
  }
  if (expect != index_offset || rows != m.rows) return bad("blocks do not add up to the meta");
  return std::shared_ptr<const PartReader>(std::move(p));
}

Result<PartBlock> PartReader::read_block(std::size_t i) const {
  const BlockIndexEntry& e = index_[i];
  auto b = decode_part_block(map_.bytes().subspan(e.offset, e.length), format_);
  if (!b.ok()) return b.status().with_context("part " + path_ + " block " + std::to_string(i));
  if (b->rows() != e.rows || b->series_id(0) != e.first_series ||
      b->window_start(0) != e.first_ws) {
    return Status::corruption("part " + path_ + " block " + std::to_string(i) +
                              ": does not match its index entry");
  }
  return b;
}

}  // namespace edgesketch::store
