// A SQLite VFS shim that forwards everything to another VFS and counts xSync calls per kind of
// file, so the outbox can report how many fsyncs each committed batch really cost.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "edgesketch/common/status.h"
#include "edgesketch/sqlite/shim_vfs.h"

namespace edgesketch::agent {

struct SyncCounts {
  std::uint64_t db = 0;     // xSync on the main database file (checkpoints)
  std::uint64_t wal = 0;    // xSync on the write-ahead log (commits under synchronous=FULL)
  std::uint64_t other = 0;  // xSync on anything else (rollback journals, temp files)
  std::uint64_t total() const { return db + wal + other; }
};

// A ShimVfs (common/sqlite) that counts xSync calls by kind of file. Registers itself under a
// name unique to this object and unregisters on destruction; every connection opened through
// name() must be closed before. The counters are atomics: counts() may be read from any thread
// while SQLite calls the shim from its own.
class SyncCountingVfs final : public sqlite::ShimVfs {
 public:
  // Wraps the VFS called `base_name` (nullptr = SQLite's default VFS), as env::Env::sqlite_vfs()
  // names it. Errors: kNotFound when no such VFS is registered; kInternal when registration
  // fails.
  static Result<std::unique_ptr<SyncCountingVfs>> create(const char* base_name);

  SyncCounts counts() const;

 private:
  SyncCountingVfs() = default;
  int on_sync(const char* path, int flags) override;

  std::atomic<std::uint64_t> db_syncs_{0};
  std::atomic<std::uint64_t> wal_syncs_{0};
  std::atomic<std::uint64_t> other_syncs_{0};
};

}  // namespace edgesketch::agent
