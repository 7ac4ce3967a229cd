// backup_store(): a consistent copy of a store directory while its collector runs.
//
// The store's commit record is the MANIFEST: it names the live parts (immutable files), the
// first WAL segment replay needs and the ledger. A copy taken as MANIFEST, then its parts, then
// the WAL segments from wal_replay_from, then the catalog (SQLite's online backup) is consistent
// when the MANIFEST did not change meanwhile: every part it names was present (parts are
// removed only after a newer MANIFEST stops naming them), every record of the copied segments
// refers to series the later catalog copy holds (series are committed before their records are
// appended), and replaying the segments over those parts applies each batch once (the ledger).
// When a flush or merge committed in between, the copy is discarded and taken again.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "edgesketch/env/env.h"
#include "edgesketch/sqlite/statement.h"
#include "edgesketch/store/store.h"
#include "manifest.h"
#include "wal.h"

namespace edgesketch::store {
namespace {

// Copies `from` to `to` (created, truncated) and syncs it; kNotFound when `from` is gone.
Status copy_file_synced(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    if (errno == ENOENT) return Status::not_found("gone: " + from);
    return env::errno_status("open", from, errno);
  }
  auto out = env::Env::posix().open_append(to, /*truncate=*/true);
  if (!out.ok()) {
    ::close(in);
    return out.status();
  }
  Bytes buf(std::size_t{1} << 20);
  Status s;
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = env::errno_status("read", from, errno);
      break;
    }
    if (n == 0) break;
    s = (*out)->append(ByteSpan(buf.data(), static_cast<std::size_t>(n)));
    if (!s.ok()) break;
  }
  ::close(in);
  if (s.ok()) s = (*out)->sync();
  return s;
}

// A part: a hard link when dest is on the same file system (parts are immutable), else a copy.
Status copy_part(const std::string& from, const std::string& to) {
  env::Env& fs = env::Env::posix();
  if (!fs.exists(from)) return Status::not_found("gone: " + from);
  if (fs.link(from, to).ok()) return Status();
  return copy_file_synced(from, to);
}

Status copy_catalog(const std::string& from, const std::string& to) {
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  int rc = sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    Status s = sqlite::sqlite_status(src, rc, "open " + from);
    sqlite3_close(src);
    return s;
  }
  rc = sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Status s;
  if (rc != SQLITE_OK) {
    s = sqlite::sqlite_status(dst, rc, "open " + to);
  } else {
    sqlite3_busy_timeout(src, 5000);
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == nullptr) {
      s = sqlite::sqlite_status(dst, sqlite3_errcode(dst), "backup " + from);
    } else {
      rc = sqlite3_backup_step(b, -1);  // the whole database in one read transaction
      const int done = sqlite3_backup_finish(b);
      if (rc != SQLITE_DONE) {
        s = sqlite::sqlite_status(dst, rc, "backup " + from);
      } else if (done != SQLITE_OK) {
        s = sqlite::sqlite_status(dst, done, "backup " + from);
      }
    }
  }
  sqlite3_close(src);
  sqlite3_close(dst);
  return s;
}

// One attempt; kAborted-like kUnavailable when the store committed meanwhile.
Status copy_once(const std::string& dir, const std::string& dest, BackupReport& report) {
  env::Env& fs = env::Env::posix();
  // A store that never flushed has no MANIFEST yet: no parts, replay from the first segment.
  auto read_manifest = [&]() -> Result<Bytes> {
    if (!fs.exists(dir + "/MANIFEST")) return Bytes{};
    return fs.read_file(dir + "/MANIFEST", std::uint64_t{1} << 30);
  };
  ES_ASSIGN_OR_RETURN(Bytes before, read_manifest());
  Manifest m;
  if (!before.empty()) {
    ES_ASSIGN_OR_RETURN(m, Manifest::decode(before));
  }
  report = BackupReport{};
  for (const ManifestPart& p : m.parts) {
    const std::string to = dest + "/" + p.path;
    ES_RETURN_IF_ERROR(fs.ensure_dir(env::parent_dir(to)));
    Status s = copy_part(dir + "/" + p.path, to);
    if (s.code() == StatusCode::kNotFound) return Status::unavailable("a merge removed a part");
    ES_RETURN_IF_ERROR(s);
    ++report.parts;
    report.part_bytes += p.bytes;
  }
  ES_RETURN_IF_ERROR(fs.ensure_dir(dest + "/wal"));
  ES_ASSIGN_OR_RETURN(auto names, fs.list_dir(dir + "/wal"));
  for (const std::string& name : names) {
    std::uint64_t n;
    if (!Wal::parse_segment_name(name, n) || n < m.wal_replay_from) continue;
    Status s = copy_file_synced(dir + "/wal/" + name, dest + "/wal/" + name);
    if (s.code() == StatusCode::kNotFound) return Status::unavailable("a flush removed a segment");
    ES_RETURN_IF_ERROR(s);
    ++report.wal_segments;
  }
  ES_RETURN_IF_ERROR(copy_catalog(dir + "/catalog.db", dest + "/catalog.db"));
  if (fs.exists(dir + "/ROLLUPS")) {
    ES_ASSIGN_OR_RETURN(Bytes rollups, fs.read_file(dir + "/ROLLUPS", 1u << 20));
    ES_RETURN_IF_ERROR(fs.write_file_durable(dest + "/ROLLUPS", rollups));
  }
  ES_ASSIGN_OR_RETURN(Bytes after, read_manifest());
  if (after != before) return Status::unavailable("the store committed during the copy");
  // The MANIFEST last: a copy without it is visibly unfinished (unless the store had none).
  if (!before.empty()) ES_RETURN_IF_ERROR(fs.write_file_durable(dest + "/MANIFEST", before));
  ES_RETURN_IF_ERROR(fs.sync_dir(dest + "/wal"));
  return fs.sync_dir(dest);
}

}  // namespace

Status backup_store(const std::string& dir, const std::string& dest, BackupReport& report,
                    int attempts) {
  env::Env& fs = env::Env::posix();
  if (!fs.exists(dir + "/MANIFEST") && !fs.exists(dir + "/catalog.db")) {
    return Status::not_found("no store in " + dir + " (no MANIFEST, no catalog.db)");
  }
  ES_ASSIGN_OR_RETURN(auto existing, fs.list_dir(dest));
  if (!existing.empty()) {
    return Status::already_exists("backup destination " + dest + " is not empty");
  }
  Status last;
  for (int i = 0; i < attempts; ++i) {
    ES_RETURN_IF_ERROR(fs.ensure_dir(dest));
    last = copy_once(dir, dest, report);
    if (last.ok()) {
      report.attempts = i + 1;
      return last;
    }
    if (last.code() != StatusCode::kUnavailable) return last;
    spdlog::info("backup: {}; copying again", last.message());
    // Start over in an empty directory.
    ES_ASSIGN_OR_RETURN(auto left, fs.list_dir(dest));
    for (const std::string& name : left) {
      std::error_code ec;
      std::filesystem::remove_all(dest + "/" + name, ec);
      if (ec) return Status::io_error("backup: emptying " + dest + ": " + ec.message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * (i + 1)));
  }
  return Status::unavailable("backup: the store kept committing during " +
                             std::to_string(attempts) + " attempts: " + last.message());
}

}  // namespace edgesketch::store
