// FaultEnv: an env::Env that forwards to another one (the POSIX one by default) and makes the
// operations a test names fail with an errno (ENOSPC, EIO, ...), for as long as the test wants:
// the way to check that a full disk, an I/O error or a failed fsync at any write site is held,
// reported and resumed from, never turned into a loss or a rejection.
//
// SQLite databases opened through sqlite_vfs() see the same faults: the VFS forwards to SQLite's
// default one, and its xWrite / xSync / xTruncate fail with SQLITE_FULL (ENOSPC) or
// SQLITE_IOERR_* (anything else) while a matching rule is active.
//
// Thread-safe: rules may change while other threads use the Env.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgesketch/env/env.h"

namespace edgesketch::testing {

class FaultEnv final : public env::Env {
 public:
  enum class Op {
    kOpen,      // open_append / SQLite xOpen
    kWrite,     // WritableFile::append / SQLite xWrite
    kSync,      // WritableFile::sync / SQLite xSync
    kTruncate,  // WritableFile::truncate / SQLite xTruncate
    kRename,
    kRemove,
    kCreateDir,
    kSyncDir,
  };
  static const char* op_name(Op op);

  explicit FaultEnv(env::Env& base = env::Env::posix());
  ~FaultEnv() override;
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  // From now on `op` on a path containing `path_part` fails with `err`, after `skip` matching
  // calls that still succeed. Until heal().
  void fail(Op op, std::string path_part, int err, int skip = 0);
  // Removes every rule: the file system works again.
  void heal();
  // Failures injected so far.
  std::uint64_t injected() const { return injected_.load(); }

  Result<std::unique_ptr<env::WritableFile>> open_append(const std::string& path,
                                                         bool truncate) override;
  Result<Bytes> read_file(const std::string& path, std::uint64_t max_bytes) override {
    return base_.read_file(path, max_bytes);
  }
  Result<env::MappedFile> map_file(const std::string& path) override {
    return base_.map_file(path);
  }
  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    return base_.list_dir(dir);
  }
  Status create_dir(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;
  Status remove_file(const std::string& path) override;
  Status remove_dir_if_empty(const std::string& dir) override {
    return base_.remove_dir_if_empty(dir);
  }
  Status rename(const std::string& from, const std::string& to) override;
  Status link(const std::string& from, const std::string& to) override {
    return base_.link(from, to);
  }
  bool exists(const std::string& path) override { return base_.exists(path); }
  const char* sqlite_vfs() const override { return vfs_name_.c_str(); }

  // The errno a rule gives `op` on `path` now (0: none); counts the call. Used by the files.
  int check(Op op, const std::string& path);

 private:
  struct Rule {
    Op op;
    std::string path_part;
    int err;
    int skip;
  };
  struct Vfs;  // the SQLite shim, in the .cc file

  env::Env& base_;
  mutable std::mutex mu_;
  std::vector<Rule> rules_;
  std::atomic<std::uint64_t> injected_{0};
  std::string vfs_name_;
  std::unique_ptr<sqlite3_vfs> vfs_;
};

}  // namespace edgesketch::testing
