// Outbox on SQLite: opening and identifying the file, appends with make-room (coarsen, then
// drop), the two send lanes, acks and statistics.
#include "outbox/outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <optional>
#include <random>

#include "edgesketch/sqlite/statement.h"
#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/compression.h"
#include "outbox/coarsen.h"
#include "outbox/sync_counting_vfs.h"

namespace edgesketch::agent {

using sqlite::exec_sql;
using sqlite::sqlite_status;
using sqlite::Statement;
using sqlite::Transaction;

std::string_view drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::kOverflow:
      return "overflow";
    case DropReason::kRejected:
      return "rejected";
    case DropReason::kUndecodable:
      return "undecodable";
  }
  return "unknown";
}

namespace {

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE batches(
  seq INTEGER PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  window_start_ms INTEGER NOT NULL,
  window_end_ms INTEGER NOT NULL,
  level INTEGER NOT NULL,
  lane INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  journal_upto INTEGER NOT NULL,
  records INTEGER NOT NULL,
  readings INTEGER NOT NULL,
  sent_count INTEGER NOT NULL DEFAULT 0,
  last_sent_ms INTEGER,
  payload BLOB NOT NULL
);
CREATE INDEX batches_by_window ON batches(level, window_start_ms);
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// Added in schema version 2 (created by the upgrade from version 1 as well).
constexpr const char* kCloseMarksSql = R"sql(
CREATE TABLE IF NOT EXISTS close_marks(
  id INTEGER PRIMARY KEY,
  fed_upto INTEGER NOT NULL,
  marks BLOB NOT NULL
);
)sql";

constexpr const char* kBatchColumns =
    "seq, created_ms, window_start_ms, window_end_ms, level, lane, journal_upto, records, "
    "readings, sent_count, payload";

// Persisted counters, cached in memory: changed on a copy inside a transaction and adopted only
// when it commits.
struct Counters {
  std::uint64_t total_bytes = 0;  // derived from the rows, not stored in meta
  std::uint64_t journal_upto = 0;
  std::uint64_t coarsened_batches = 0;
  std::array<DropCounts, kDropReasons> dropped{};
};

std::string meta_key(DropReason r, const char* what) {
  return "dropped." + std::string(drop_reason_name(r)) + "." + what;
}

std::uint64_t as_u64(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

std::uint64_t sum_counts(const wire::WindowBatch& b) {
  std::uint64_t n = 0;
  for (const auto& r : b.records) {
    n = r.agg.count() > std::numeric_limits<std::uint64_t>::max() - n
            ? std::numeric_limits<std::uint64_t>::max()
            : n + r.agg.count();
  }
  return n;
}

std::uint64_t first_seq(const OutboxOptions& o) {
  if (o.first_seq != 0) return o.first_seq;
  std::random_device rd;
  const std::uint64_t r = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  return (std::uint64_t{1} << 32) + r % ((std::uint64_t{1} << 62) - (std::uint64_t{1} << 32));
}

Status check_options(const OutboxOptions& o) {
  if (o.path.empty()) return Status::invalid_argument("outbox: options.path is empty");
  if (o.max_bytes == 0) return Status::invalid_argument("outbox: max_bytes must be > 0");
  if (o.live_window_ms < 0 || o.resend_after_ms < 0) {
    return Status::invalid_argument("outbox: live_window_ms and resend_after_ms must be >= 0");
  }
  if (o.coarsen_chunk_bytes == 0) {
    return Status::invalid_argument("outbox: coarsen_chunk_bytes must be > 0");
  }
  if (o.zstd_level < 0 || o.zstd_level > 19) {
    return Status::invalid_argument("outbox: zstd_level must be in [0, 19]");
  }
  std::uint32_t prev = 1;
  for (std::uint32_t w : o.coarsen_levels) {
    if (w == 0 || w % prev != 0 || o.limits.max_window_ms % w != 0) {
      return Status::invalid_argument(
          "outbox: coarsen_levels must be ascending multiples of each other that divide "
          "limits.max_window_ms (" +
          std::to_string(o.limits.max_window_ms) + "); " + std::to_string(w) + " is not");
    }
    prev = w;
  }
  return Status();
}

}  // namespace

struct Outbox::Impl {
  // Prepared statements; destroyed before the connection is closed.
  struct Statements {
    Statement insert_batch;
    Statement upsert_meta;
    Statement coarsen_candidates;
    Statement oldest;
    Statement delete_returning;
    Statement raise_level;
    Statement send_live;
    Statement send_backlog;
    Statement mark_sent;
    Statement insert_marks;
    Statement prune_marks;
  };

  OutboxOptions options;
  SystemClock system_clock;
  const Clock* clock = nullptr;
  std::unique_ptr<SyncCountingVfs> vfs;  // outlives db
  sqlite3* db = nullptr;

  // Guards everything below and every use of db.
  std::mutex mu;
  std::optional<Statements> stmts;
  std::uint64_t next_seq = 1;  // never lowered, even when a transaction fails
  Counters counters;
  std::uint64_t appends = 0;
  std::uint64_t append_fsyncs = 0;

  ~Impl() {
    stmts.reset();
    if (db != nullptr) sqlite3_close_v2(db);
  }

  Status error(Status s) const { return s.with_context("outbox " + options.path); }

  Result<std::int64_t> query_int(const std::string& sql) {
    ES_ASSIGN_OR_RETURN(Statement st, Statement::prepare(db, sql));
    ES_ASSIGN_OR_RETURN(bool row, st.step());
    return row ? st.column_int(0) : 0;
  }

  Status identify_and_init();
  Status prepare_statements();
  Status load_state();
  Status persist_counters(const Counters& work);
  // Coarsens the oldest chunk of never-sent batches of `level` into level + 1 (the last level
  // into itself, when that makes them smaller). False when nothing changed.
  Result<bool> coarsen_step(Counters& work, std::size_t level, std::int64_t now);
  Result<bool> drop_oldest(Counters& work);
  Status make_room(Counters& work, std::uint64_t new_bytes, std::int64_t now);
  Result<std::uint64_t> insert(wire::WindowBatch& batch, int level, Lane lane,
                               std::uint64_t journal_upto, std::int64_t now, Counters& work);
  Status delete_row(std::uint64_t seq, std::optional<DropReason> reason, Counters& work);
};

Status Outbox::Impl::identify_and_init() {
  auto app_id = query_int("PRAGMA application_id");
  if (!app_id.ok()) {
    Status s = app_id.status();
    if (s.code() == StatusCode::kCorruption) {
      return Status::corruption(
          options.path + " is not an outbox database (SQLite cannot read it: " + s.message() +
          "); move the file away and restart");
    }
    return s;
  }
  ES_ASSIGN_OR_RETURN(std::int64_t objects, query_int("SELECT count(*) FROM sqlite_master"));
  ES_ASSIGN_OR_RETURN(std::int64_t version, query_int("PRAGMA user_version"));
  const bool fresh = *app_id == 0 && objects == 0;
  if (!fresh && *app_id != kOutboxApplicationId) {
    return Status::failed_precondition(
        options.path + " is a SQLite database of another application (application_id " +
        std::to_string(*app_id) + ", " + std::to_string(objects) +
        " schema objects), not an edgesketch outbox; point the outbox path at another file");
  }
  if (!fresh && version > kOutboxSchemaVersion) {
    return Status::failed_precondition(options.path + " has outbox schema version " +
                                       std::to_string(version) + ", newer than this build's " +
                                       std::to_string(kOutboxSchemaVersion) +
                                       "; run the newer agent");
  }
  if (!fresh) {
    ES_ASSIGN_OR_RETURN(Statement check, Statement::prepare(db, "PRAGMA quick_check"));
    ES_ASSIGN_OR_RETURN(bool row, check.step());
    std::string verdict = row ? check.column_text(0) : "no answer";
    check.reset();
    if (verdict != "ok") {
      return Status::corruption(options.path + " fails PRAGMA quick_check (" + verdict +
                                "); move the file away and restart");
    }
  }

  ES_ASSIGN_OR_RETURN(Statement wal, Statement::prepare(db, "PRAGMA journal_mode=WAL"));
  ES_ASSIGN_OR_RETURN(bool row, wal.step());
  const std::string mode = row ? wal.column_text(0) : "?";
  wal.reset();  // a statement still running would block the COMMIT below
  if (mode != "wal") {
    return Status::failed_precondition(options.path + ": SQLite refused WAL mode (journal_mode " +
                                       mode + ")");
  }
  ES_RETURN_IF_ERROR(exec_sql(
      db, "PRAGMA synchronous=FULL; PRAGMA journal_size_limit=" + std::to_string(16 << 20)));
  if (!fresh && version == kOutboxSchemaVersion) return Status();

  // A fresh file gets the schema; an older version is upgraded in place.
  Transaction tx(db);
  ES_RETURN_IF_ERROR(tx.begin());
  if (fresh) {
    ES_RETURN_IF_ERROR(exec_sql(db, kSchemaSql));
    ES_RETURN_IF_ERROR(
        exec_sql(db, "PRAGMA application_id=" + std::to_string(kOutboxApplicationId) +
                         "; INSERT INTO meta(key, value) VALUES('next_seq', " +
                         std::to_string(first_seq(options)) + ")"));
  }
  ES_RETURN_IF_ERROR(exec_sql(db, kCloseMarksSql));
  ES_RETURN_IF_ERROR(exec_sql(db, "PRAGMA user_version=" + std::to_string(kOutboxSchemaVersion)));
  return tx.commit();
}

Status Outbox::Impl::prepare_statements() {
  Statements s;
  auto prep = [&](Statement& out, const std::string& sql) -> Status {
    auto r = Statement::prepare(db, sql);
    if (!r.ok()) {
      return Status::failed_precondition(
          options.path + ": the outbox schema does not match this build: " + r.status().message());
    }
    out = std::move(r).value();
    return Status();
  };
  const std::string cols = kBatchColumns;
  ES_RETURN_IF_ERROR(prep(s.insert_batch,
                          "INSERT INTO batches(seq, created_ms, window_start_ms, window_end_ms, "
                          "level, lane, bytes, journal_upto, records, readings, payload) "
                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  ES_RETURN_IF_ERROR(prep(s.upsert_meta,
                          "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  ES_RETURN_IF_ERROR(prep(s.coarsen_candidates,
                          "SELECT seq, created_ms, bytes, journal_upto, records, readings, "
                          "payload FROM batches WHERE level = ?1 AND sent_count = 0 "
                          "ORDER BY window_start_ms, seq"));
  ES_RETURN_IF_ERROR(
      prep(s.oldest, "SELECT seq FROM batches ORDER BY window_start_ms, seq LIMIT 1"));
  ES_RETURN_IF_ERROR(prep(s.delete_returning,
                          "DELETE FROM batches WHERE seq = ?1 RETURNING bytes, records, readings"));
  ES_RETURN_IF_ERROR(prep(s.raise_level, "UPDATE batches SET level = ?2 WHERE seq = ?1"));
  const std::string unsent_or_due = "(last_sent_ms IS NULL OR last_sent_ms <= ?2)";
  ES_RETURN_IF_ERROR(prep(s.send_live, "SELECT " + cols +
                                           " FROM batches WHERE lane = 0 AND created_ms >= ?1 "
                                           "AND " +
                                           unsent_or_due + " ORDER BY seq DESC LIMIT ?3"));
  ES_RETURN_IF_ERROR(prep(s.send_backlog, "SELECT " + cols +
                                              " FROM batches WHERE NOT (lane = 0 AND "
                                              "created_ms >= ?1) AND " +
                                              unsent_or_due +
                                              " ORDER BY window_start_ms, seq LIMIT ?3"));
  ES_RETURN_IF_ERROR(prep(s.mark_sent,
                          "UPDATE batches SET sent_count = sent_count + 1, last_sent_ms = ?2 "
                          "WHERE seq = ?1"));
  ES_RETURN_IF_ERROR(
      prep(s.insert_marks, "INSERT INTO close_marks(fed_upto, marks) VALUES(?1, ?2)"));
  ES_RETURN_IF_ERROR(prep(s.prune_marks, "DELETE FROM close_marks WHERE fed_upto <= ?1"));
  stmts.emplace(std::move(s));
  return Status();
}

Status Outbox::Impl::load_state() {
  ES_ASSIGN_OR_RETURN(Statement meta, Statement::prepare(db, "SELECT key, value FROM meta"));
  std::uint64_t meta_next_seq = 1;
  for (;;) {
    ES_ASSIGN_OR_RETURN(bool row, meta.step());
    if (!row) break;
    const std::string key = meta.column_text(0);
    const std::uint64_t v = as_u64(meta.column_int(1));
    if (key == "next_seq") meta_next_seq = v;
    if (key == "journal_upto") counters.journal_upto = v;
    if (key == "coarsened_batches") counters.coarsened_batches = v;
    for (std::size_t r = 0; r < kDropReasons; ++r) {
      auto reason = static_cast<DropReason>(r);
      if (key == meta_key(reason, "batches")) counters.dropped[r].batches = v;
      if (key == meta_key(reason, "records")) counters.dropped[r].records = v;
      if (key == meta_key(reason, "readings")) counters.dropped[r].readings = v;
    }
  }
  ES_ASSIGN_OR_RETURN(std::int64_t max_seq, query_int("SELECT COALESCE(MAX(seq), 0) FROM batches"));
  ES_ASSIGN_OR_RETURN(std::int64_t total, query_int("SELECT COALESCE(SUM(bytes), 0) FROM batches"));
  // Rows past meta.next_seq cannot come from this code, but never hand out a seq twice.
  next_seq = std::max<std::uint64_t>({1, meta_next_seq, as_u64(max_seq) + 1});
  counters.total_bytes = as_u64(total);
  return Status();
}

Status Outbox::Impl::persist_counters(const Counters& work) {
  Statement& up = stmts->upsert_meta;
  auto put = [&](const std::string& key, std::uint64_t v) -> Status {
    up.reset();
    up.bind(1, std::string_view(key)).bind(2, static_cast<std::int64_t>(v));
    return up.run();
  };
  ES_RETURN_IF_ERROR(put("next_seq", next_seq));
  if (work.journal_upto != counters.journal_upto) {
    ES_RETURN_IF_ERROR(put("journal_upto", work.journal_upto));
  }
  if (work.coarsened_batches != counters.coarsened_batches) {
    ES_RETURN_IF_ERROR(put("coarsened_batches", work.coarsened_batches));
  }
  for (std::size_t r = 0; r < kDropReasons; ++r) {
    if (work.dropped[r].batches == counters.dropped[r].batches) continue;
    auto reason = static_cast<DropReason>(r);
    ES_RETURN_IF_ERROR(put(meta_key(reason, "batches"), work.dropped[r].batches));
    ES_RETURN_IF_ERROR(put(meta_key(reason, "records"), work.dropped[r].records));
    ES_RETURN_IF_ERROR(put(meta_key(reason, "readings"), work.dropped[r].readings));
  }
  return Status();
}

Result<std::uint64_t> Outbox::Impl::insert(wire::WindowBatch& batch, int level, Lane lane,
                                           std::uint64_t journal_upto, std::int64_t now,
                                           Counters& work) {
  // The seq is used up here whatever happens next: a failed COMMIT may still reach the disk.
  const std::uint64_t seq = next_seq++;
  batch.seq = seq;
  batch.created_ms = now;
  Bytes payload = wire::encode_window_batch(batch);
  if (options.zstd_level > 0) payload = wire::compress_window_batch(payload, options.zstd_level);
  std::int64_t start = std::numeric_limits<std::int64_t>::max();
  std::int64_t end = std::numeric_limits<std::int64_t>::min();
  for (const auto& r : batch.records) {
    start = std::min(start, r.window_start_ms);
    end = std::max(end, r.window_start_ms + static_cast<std::int64_t>(r.window_ms));
  }
  Statement& ins = stmts->insert_batch;
  ins.reset();
  ins.bind(1, static_cast<std::int64_t>(seq))
      .bind(2, now)
      .bind(3, start)
      .bind(4, end)
      .bind(5, std::int64_t{level})
      .bind(6, static_cast<std::int64_t>(lane))
      .bind(7, static_cast<std::int64_t>(payload.size()))
      .bind(8, static_cast<std::int64_t>(journal_upto))
      .bind(9, static_cast<std::int64_t>(batch.records.size()))
      .bind(10, static_cast<std::int64_t>(sum_counts(batch)))
      .bind(11, ByteSpan(payload));
  ES_RETURN_IF_ERROR(ins.run());
  work.total_bytes += payload.size();
  return seq;
}

Status Outbox::Impl::delete_row(std::uint64_t seq, std::optional<DropReason> reason,
                                Counters& work) {
  Statement& del = stmts->delete_returning;
  del.reset();
  del.bind(1, static_cast<std::int64_t>(seq));
  ES_ASSIGN_OR_RETURN(bool row, del.step());
  if (row) {
    work.total_bytes -= std::min(work.total_bytes, as_u64(del.column_int(0)));
    if (reason) {
      DropCounts& d = work.dropped[static_cast<std::size_t>(*reason)];
      ++d.batches;
      d.records += as_u64(del.column_int(1));
      d.readings += as_u64(del.column_int(2));
    }
    ES_RETURN_IF_ERROR(del.run());  // finish the statement
  }
  del.reset();
  return Status();
}

Result<bool> Outbox::Impl::coarsen_step(Counters& work, std::size_t level, std::int64_t now) {
  if (options.coarsen_levels.empty()) return false;
  struct Input {
    std::uint64_t seq;
    bool decoded;
  };
  std::vector<Input> inputs;
  std::vector<wire::WindowBatch> batches;
  std::uint64_t chunk = 0;
  std::uint64_t decoded_bytes = 0;
  std::uint64_t journal_upto = 0;
  {
    Statement& sel = stmts->coarsen_candidates;
    sel.reset();
    sel.bind(1, static_cast<std::int64_t>(level));
    while (chunk < options.coarsen_chunk_bytes) {
      auto row = sel.step();
      if (!row.ok()) {
        sel.reset();
        return row.status();
      }
      if (!*row) break;
      const std::uint64_t bytes = as_u64(sel.column_int(2));
      wire::Limits limits = options.limits;
      limits.max_payload_bytes = std::max<std::size_t>(limits.max_payload_bytes, bytes);
      // Our own bytes: check the clock bounds against the time they were written.
      auto decoded = wire::decode_window_batch(sel.column_blob(6), limits, sel.column_int(1));
      inputs.push_back({as_u64(sel.column_int(0)), decoded.ok()});
      if (decoded.ok()) {
        batches.push_back(std::move(decoded).value());
        decoded_bytes += bytes;
        journal_upto = std::max(journal_upto, as_u64(sel.column_int(3)));
      } else {
        spdlog::warn("outbox {}: batch {} does not decode ({}); dropping it", options.path,
                     inputs.back().seq, decoded.status().to_string());
      }
      chunk += bytes;
    }
    sel.reset();
  }
  if (inputs.empty()) return false;

  bool changed = false;
  for (const Input& in : inputs) {
    if (in.decoded) continue;
    ES_RETURN_IF_ERROR(delete_row(in.seq, DropReason::kUndecodable, work));
    changed = true;
  }
  // The last level merges its batches among themselves (same coarse windows written by
  // different steps), which only helps when there are several and the result is smaller.
  const std::size_t top = options.coarsen_levels.size();
  if (batches.empty() || (level == top && batches.size() < 2)) return changed;

  const std::uint32_t window_ms = options.coarsen_levels[std::min(level, top - 1)];
  const int to_level = static_cast<int>(std::min(level + 1, top));
  auto merged = coarsen_window_batches(std::move(batches), window_ms, options.limits);
  if (!merged.ok()) {
    spdlog::warn("outbox {}: cannot coarsen {} batches to {} ms ({}); keeping them as they are",
                 options.path, inputs.size(), window_ms, merged.status().to_string());
    if (level == top) return changed;
    // Keep the data: move the batches up a level unmerged, so the next step moves on.
    for (const Input& in : inputs) {
      if (!in.decoded) continue;
      Statement& up = stmts->raise_level;
      up.reset();
      up.bind(1, static_cast<std::int64_t>(in.seq)).bind(2, std::int64_t{to_level});
      ES_RETURN_IF_ERROR(up.run());
    }
    return true;
  }
  if (level == top) {
    std::uint64_t out_bytes = 0;
    for (wire::WindowBatch b : merged->batches) {
      b.seq = std::numeric_limits<std::uint64_t>::max();
      b.created_ms = now;
      out_bytes += wire::encode_window_batch(b).size();
    }
    if (out_bytes >= decoded_bytes) return changed;
  }
  for (const Input& in : inputs) {
    if (in.decoded) {
      ES_RETURN_IF_ERROR(delete_row(in.seq, std::nullopt, work));
      ++work.coarsened_batches;
    }
  }
  for (wire::WindowBatch& b : merged->batches) {
    ES_RETURN_IF_ERROR(insert(b, to_level, Lane::kBacklog, journal_upto, now, work).status());
  }
  spdlog::info("outbox {}: coarsened {} batches ({} records) into {} batches ({} records) of {} ms",
               options.path, inputs.size(), merged->records_in, merged->batches.size(),
               merged->records_out, window_ms);
  return true;
}

Result<bool> Outbox::Impl::drop_oldest(Counters& work) {
  Statement& sel = stmts->oldest;
  sel.reset();
  ES_ASSIGN_OR_RETURN(bool row, sel.step());
  if (!row) return false;
  const std::uint64_t seq = as_u64(sel.column_int(0));
  sel.reset();
  ES_RETURN_IF_ERROR(delete_row(seq, DropReason::kOverflow, work));
  spdlog::warn("outbox {}: full and nothing left to coarsen; dropped batch {}", options.path, seq);
  return true;
}

Status Outbox::Impl::make_room(Counters& work, std::uint64_t new_bytes, std::int64_t now) {
  while (work.total_bytes + new_bytes > options.max_bytes) {
    bool progressed = false;
    for (std::size_t level = 0; level <= options.coarsen_levels.size() && !progressed; ++level) {
      ES_ASSIGN_OR_RETURN(progressed, coarsen_step(work, level, now));
    }
    if (progressed) continue;
    ES_ASSIGN_OR_RETURN(bool dropped, drop_oldest(work));
    if (!dropped) {
      return Status::internal("outbox: cannot make room for " + std::to_string(new_bytes) +
                              " bytes in an empty outbox of " + std::to_string(options.max_bytes));
    }
  }
  return Status();
}

Outbox::Outbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Outbox::~Outbox() = default;

Result<std::unique_ptr<Outbox>> Outbox::open(OutboxOptions options) {
  ES_RETURN_IF_ERROR(check_options(options));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  Impl& m = *impl;
  m.clock = m.options.clock != nullptr ? m.options.clock : &m.system_clock;
  env::Env& fs = m.options.env != nullptr ? *m.options.env : env::Env::posix();
  ES_ASSIGN_OR_RETURN(m.vfs, SyncCountingVfs::create(fs.sqlite_vfs()));
  int rc = sqlite3_open_v2(m.options.path.c_str(), &m.db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           m.vfs->name());
  if (rc != SQLITE_OK) return m.error(sqlite_status(m.db, rc, "open"));
  sqlite3_extended_result_codes(m.db, 1);
  sqlite3_busy_timeout(m.db, 5000);
  ES_RETURN_IF_ERROR(m.error(m.identify_and_init()));
  ES_RETURN_IF_ERROR(m.error(m.prepare_statements()));
  ES_RETURN_IF_ERROR(m.error(m.load_state()));
  return std::unique_ptr<Outbox>(new Outbox(std::move(impl)));
}

Result<std::uint64_t> Outbox::append(wire::WindowBatch batch, std::uint64_t journal_upto, Lane lane,
                                     const CloseMarksBlob& marks) {
  return append_in_place(batch, journal_upto, lane, marks);
}

Result<std::uint64_t> Outbox::append_in_place(wire::WindowBatch& batch, std::uint64_t journal_upto,
                                              Lane lane, const CloseMarksBlob& marks) {
  Impl& m = *impl_;
  if (batch.records.empty()) {
    return Status::invalid_argument("outbox: append of a batch without records");
  }
  std::lock_guard lock(m.mu);
  const std::int64_t now = m.clock->now_ms();
  // Measure with the widest seq so the stored payload is never bigger than checked here.
  batch.seq = std::numeric_limits<std::uint64_t>::max();
  batch.created_ms = now;
  const std::size_t bytes = wire::encode_window_batch(batch).size();
  if (bytes > m.options.limits.max_payload_bytes || bytes > m.options.max_bytes) {
    return Status::invalid_argument(
        "outbox: a batch of " + std::to_string(bytes) + " bytes (" +
        std::to_string(batch.records.size()) + " records) exceeds max_payload_bytes " +
        std::to_string(m.options.limits.max_payload_bytes) + " or max_bytes " +
        std::to_string(m.options.max_bytes) + "; split it");
  }

  const std::uint64_t syncs_before = m.vfs->counts().total();
  Counters work = m.counters;
  Transaction tx(m.db);
  auto run = [&]() -> Result<std::uint64_t> {
    ES_RETURN_IF_ERROR(tx.begin());
    ES_RETURN_IF_ERROR(m.make_room(work, bytes, now));
    ES_ASSIGN_OR_RETURN(std::uint64_t seq,
                        m.insert(batch, /*level=*/0, lane, journal_upto, now, work));
    work.journal_upto = std::max(work.journal_upto, journal_upto);
    if (!marks.bytes.empty() && marks.fed_upto > work.journal_upto) {
      Statement& ins = m.stmts->insert_marks;
      ins.reset();
      ins.bind(1, static_cast<std::int64_t>(marks.fed_upto)).bind(2, ByteSpan(marks.bytes));
      ES_RETURN_IF_ERROR(ins.run());
    }
    if (work.journal_upto != m.counters.journal_upto) {
      Statement& prune = m.stmts->prune_marks;
      prune.reset();
      prune.bind(1, static_cast<std::int64_t>(work.journal_upto));
      ES_RETURN_IF_ERROR(prune.run());
    }
    ES_RETURN_IF_ERROR(m.persist_counters(work));
    ES_RETURN_IF_ERROR(tx.commit());
    return seq;
  };
  auto seq = run();
  if (!seq.ok()) return m.error(seq.status().with_context("append"));
  m.counters = work;
  ++m.appends;
  m.append_fsyncs += m.vfs->counts().total() - syncs_before;
  return seq;
}

Result<std::vector<Bytes>> Outbox::close_marks() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  auto sel = Statement::prepare(m.db, "SELECT marks FROM close_marks ORDER BY id");
  if (!sel.ok()) return m.error(sel.status().with_context("close_marks"));
  std::vector<Bytes> out;
  for (;;) {
    auto row = sel->step();
    if (!row.ok()) return m.error(row.status().with_context("close_marks"));
    if (!*row) break;
    ByteSpan b = sel->column_blob(0);
    out.emplace_back(b.begin(), b.end());
  }
  return out;
}

Result<std::uint64_t> Outbox::close_marks_fed_upto() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  auto v = m.query_int("SELECT COALESCE(MAX(fed_upto), 0) FROM close_marks");
  if (!v.ok()) return m.error(v.status().with_context("close_marks_fed_upto"));
  return as_u64(*v);
}

Result<std::vector<OutboxBatch>> Outbox::next_to_send(Lane lane, std::size_t limit) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  const std::int64_t now = m.clock->now_ms();
  std::vector<OutboxBatch> out;
  Transaction tx(m.db);
  auto run = [&]() -> Status {
    ES_RETURN_IF_ERROR(tx.begin());
    Statement& sel = lane == Lane::kLive ? m.stmts->send_live : m.stmts->send_backlog;
    sel.reset();
    sel.bind(1, now - m.options.live_window_ms)
        .bind(2, now - m.options.resend_after_ms)
        .bind(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    for (;;) {
      auto row = sel.step();
      if (!row.ok()) {
        sel.reset();
        return row.status();
      }
      if (!*row) break;
      OutboxBatch b;
      b.seq = as_u64(sel.column_int(0));
      b.created_ms = sel.column_int(1);
      b.window_start_ms = sel.column_int(2);
      b.window_end_ms = sel.column_int(3);
      b.level = static_cast<int>(sel.column_int(4));
      b.lane = sel.column_int(5) == 0 ? Lane::kLive : Lane::kBacklog;
      b.journal_upto = as_u64(sel.column_int(6));
      b.records = as_u64(sel.column_int(7));
      b.readings = as_u64(sel.column_int(8));
      b.sent_count = as_u64(sel.column_int(9)) + 1;
      ByteSpan p = sel.column_blob(10);
      b.payload.assign(p.begin(), p.end());
      out.push_back(std::move(b));
    }
    sel.reset();
    Statement& mark = m.stmts->mark_sent;
    for (const OutboxBatch& b : out) {
      mark.reset();
      mark.bind(1, static_cast<std::int64_t>(b.seq)).bind(2, now);
      ES_RETURN_IF_ERROR(mark.run());
    }
    if (out.empty()) return Status();  // the destructor rolls back the empty transaction
    return tx.commit();
  };
  Status s = run();
  if (!s.ok()) return m.error(s.with_context("next_to_send"));
  return out;
}

Status Outbox::requeue_unacked() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  return m.error(exec_sql(m.db, "UPDATE batches SET last_sent_ms = NULL WHERE sent_count > 0"));
}

Status Outbox::ack(std::span<const std::uint64_t> seqs) {
  Impl& m = *impl_;
  if (seqs.empty()) return Status();
  std::lock_guard lock(m.mu);
  Counters work = m.counters;
  ES_RETURN_IF_ERROR(m.error(exec_sql(m.db, "PRAGMA synchronous=NORMAL")));
  Status s;
  {
    Transaction tx(m.db);
    s = tx.begin();
    for (std::size_t i = 0; s.ok() && i < seqs.size(); ++i) {
      s = m.delete_row(seqs[i], std::nullopt, work);
    }
    if (s.ok()) s = tx.commit();
  }
  Status restore = exec_sql(m.db, "PRAGMA synchronous=FULL");
  if (!s.ok()) return m.error(s.with_context("ack"));
  if (!restore.ok()) return m.error(restore);
  m.counters = work;
  return Status();
}

Status Outbox::reject(std::uint64_t seq) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  Counters work = m.counters;
  Transaction tx(m.db);
  auto run = [&]() -> Status {
    ES_RETURN_IF_ERROR(tx.begin());
    ES_RETURN_IF_ERROR(m.delete_row(seq, DropReason::kRejected, work));
    ES_RETURN_IF_ERROR(m.persist_counters(work));
    return tx.commit();
  };
  Status s = run();
  if (!s.ok()) return m.error(s.with_context("reject"));
  m.counters = work;
  return Status();
}

Result<OutboxStats> Outbox::stats() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  OutboxStats st;
  st.by_level.resize(m.options.coarsen_levels.size() + 1);
  auto run = [&]() -> Status {
    ES_ASSIGN_OR_RETURN(Statement levels,
                        Statement::prepare(m.db,
                                           "SELECT level, count(*), SUM(bytes) FROM batches "
                                           "GROUP BY level"));
    for (;;) {
      ES_ASSIGN_OR_RETURN(bool row, levels.step());
      if (!row) break;
      const std::size_t level = as_u64(levels.column_int(0));
      if (level >= st.by_level.size()) st.by_level.resize(level + 1);
      st.by_level[level].rows = as_u64(levels.column_int(1));
      st.by_level[level].bytes = as_u64(levels.column_int(2));
      st.rows += st.by_level[level].rows;
      st.bytes += st.by_level[level].bytes;
    }
    ES_ASSIGN_OR_RETURN(st.oldest_created_ms,
                        m.query_int("SELECT COALESCE(MIN(created_ms), 0) FROM batches"));
    ES_ASSIGN_OR_RETURN(std::int64_t in_flight,
                        m.query_int("SELECT count(*) FROM batches WHERE sent_count > 0"));
    st.in_flight = as_u64(in_flight);
    return Status();
  };
  ES_RETURN_IF_ERROR(m.error(run().with_context("stats")));
  st.next_seq = m.next_seq;
  st.journal_upto = m.counters.journal_upto;
  st.coarsened_batches = m.counters.coarsened_batches;
  for (std::size_t r = 0; r < kDropReasons; ++r) st.dropped[r] = m.counters.dropped[r];
  const SyncCounts syncs = m.vfs->counts();
  st.appends = m.appends;
  st.append_fsyncs = m.append_fsyncs;
  st.wal_fsyncs = syncs.wal;
  st.db_fsyncs = syncs.db;
  st.fsyncs_per_batch =
      m.appends == 0 ? 0.0 : static_cast<double>(m.append_fsyncs) / static_cast<double>(m.appends);
  return st;
}

Status Outbox::checkpoint() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  int rc = sqlite3_wal_checkpoint_v2(m.db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) return m.error(sqlite_status(m.db, rc, "checkpoint"));
  return Status();
}

}  // namespace edgesketch::agent
