// ShimVfs: a SQLite VFS that forwards every call to another registered VFS and lets a subclass
// see, and fail, the calls that change a file: open, write, truncate and sync. The agent's
// outbox counts its fsyncs with one (SyncCountingVfs); tests inject disk faults with another
// (FaultEnv).
//
// A file of the shim is laid out in the memory SQLite allocates for it (szOsFile): the shim's
// header first, the wrapped VFS's file object right after it. The io_methods table given to
// SQLite has the wrapped file's version, so SQLite never calls a method the file lacks.
//
// Lifetime: install() registers the VFS under a name unique to the object (never as the
// default); the destructor unregisters it. Every connection opened through name() must be
// closed before. The hooks run on SQLite's threads and must not throw.
#pragma once

#include <sqlite3.h>

#include <string>

#include "edgesketch/common/status.h"

namespace edgesketch::sqlite {

class ShimVfs {
 public:
  virtual ~ShimVfs();
  ShimVfs(const ShimVfs&) = delete;
  ShimVfs& operator=(const ShimVfs&) = delete;

  // The name to pass to sqlite3_open_v2() (after install()).
  const char* name() const { return name_.c_str(); }

 protected:
  ShimVfs() = default;
  // Registers the shim as "<prefix>-<address>" over the VFS called `base_name` (nullptr: SQLite's
  // default). kNotFound when no such VFS exists; kInternal when registration fails.
  Status install(const char* prefix, const char* base_name);

  // Called before the call is forwarded; SQLITE_OK lets it through, anything else fails it
  // with that code. `flags` are the file's open flags (SQLITE_OPEN_MAIN_DB, _WAL, ...).
  virtual int on_open(const char* /*path*/, int /*flags*/) { return SQLITE_OK; }
  virtual int on_write(const char* /*path*/, int /*flags*/) { return SQLITE_OK; }
  virtual int on_truncate(const char* /*path*/, int /*flags*/) { return SQLITE_OK; }
  virtual int on_sync(const char* /*path*/, int /*flags*/) { return SQLITE_OK; }

 private:
  friend struct ShimCallbacks;  // the C callbacks, in the .cc file
  std::string name_;
  sqlite3_vfs vfs_{};
  sqlite3_vfs* base_ = nullptr;
  bool registered_ = false;
};

}  // namespace edgesketch::sqlite
