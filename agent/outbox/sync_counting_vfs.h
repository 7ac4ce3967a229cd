// A SQLite VFS shim that forwards everything to another VFS and counts xSync calls per kind of
// file, so the outbox can report how many fsyncs each committed batch really cost.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "edgesketch/common/status.h"

namespace edgesketch::agent {

struct SyncCounts {
  std::uint64_t db = 0;     // xSync on the main database file (checkpoints)
  std::uint64_t wal = 0;    // xSync on the write-ahead log (commits under synchronous=FULL)
  std::uint64_t other = 0;  // xSync on anything else (rollback journals, temp files)
  std::uint64_t total() const { return db + wal + other; }
};

// Registers itself with SQLite under a name unique to this object (never as the default VFS)
// and unregisters on destruction. Every connection opened through name() must be closed before
// the object is destroyed. The counters are atomics: counts() may be read from any thread while
// SQLite calls the shim from its own. The shim's callbacks never throw.
class SyncCountingVfs {
 public:
  // Wraps the VFS called `base_name` (nullptr = SQLite's default VFS), as env::Env::sqlite_vfs()
  // names it. Errors: kNotFound when no such VFS is registered; kInternal when registration
  // fails.
  static Result<std::unique_ptr<SyncCountingVfs>> create(const char* base_name);
  ~SyncCountingVfs();
  SyncCountingVfs(const SyncCountingVfs&) = delete;
  SyncCountingVfs& operator=(const SyncCountingVfs&) = delete;

  // The name to pass to sqlite3_open_v2().
  const char* name() const { return name_.c_str(); }
  SyncCounts counts() const;

 private:
  friend struct SyncCountingShim;  // the C callbacks, in the .cc file
  SyncCountingVfs() = default;

  std::string name_;
  sqlite3_vfs vfs_{};
  sqlite3_vfs* base_ = nullptr;
  std::atomic<std::uint64_t> db_syncs_{0};
  std::atomic<std::uint64_t> wal_syncs_{0};
  std::atomic<std::uint64_t> other_syncs_{0};
  bool registered_ = false;
};

}  // namespace edgesketch::agent
