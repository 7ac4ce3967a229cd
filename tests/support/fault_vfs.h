// FaultVfs: a SQLite VFS for tests that forwards to SQLite's default VFS and fails writes or
// syncs on demand, as a full disk (SQLITE_FULL), a failing disk (SQLITE_IOERR_WRITE) or a
// failing fsync (SQLITE_IOERR_FSYNC) would. Pass name() as OutboxOptions::vfs / AgentDeps.
//
//   test_support::FaultVfs vfs;
//   vfs.set_write_error(SQLITE_FULL);   // every xWrite fails from now on
//   ...
//   vfs.set_write_error(SQLITE_OK);     // the disk has room again
//
// Registers itself under a name unique to the object (never as the default) and unregisters on
// destruction; close every connection opened through it first. The switches and counters are
// atomics: set them from the test's thread while SQLite runs on others.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace edgesketch::test_support {

class FaultVfs {
 public:
  FaultVfs();
  ~FaultVfs();
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  const std::string& name() const { return name_; }

  // SQLITE_OK: writes pass. Otherwise every xWrite (and xTruncate) returns this code.
  void set_write_error(int rc) { write_error_.store(rc); }
  // SQLITE_OK: syncs pass. Otherwise every xSync returns this code (e.g. SQLITE_IOERR_FSYNC).
  void set_sync_error(int rc) { sync_error_.store(rc); }
  // Calls that failed because of the switches above.
  std::uint64_t injected() const { return injected_.load(); }

 private:
  friend struct FaultVfsShim;  // the C callbacks, in the .cc file
  std::string name_;
  sqlite3_vfs vfs_{};
  sqlite3_vfs* base_ = nullptr;
  std::atomic<int> write_error_{SQLITE_OK};
  std::atomic<int> sync_error_{SQLITE_OK};
  std::atomic<std::uint64_t> injected_{0};
};

}  // namespace edgesketch::test_support
