// FaultEnv: an env::Env that forwards to another one (the POSIX one by default) and makes the
// operations a test names fail with an errno (ENOSPC, EIO, ...) or hang, for as long as the test
// wants: the way to check that a full disk, an I/O error or a failed or hung fsync at any write
// site is held, reported and resumed from, never turned into a loss, a rejection or an early ack.
//
// The agent's journal and outbox and the collector's store all take it as their env::Env
// (JournalOptions, OutboxOptions, StoreOptions, AgentDeps, CollectorDeps):
//
//   testing::FaultEnv fenv;  // outlives what writes through it
//   options.env = &fenv;
//   fenv.fail(testing::FaultEnv::Op::kWrite, "/journal/", ENOSPC);  // the disk is full
//   ...
//   fenv.heal();                                                     // it has room again
//   fenv.hold(testing::FaultEnv::Op::kSync, "/wal/");                // an fsync hangs
//   fenv.wait_held(1, timeout); ...; fenv.release();                 // and returns
//
// SQLite databases opened through sqlite_vfs() see the same faults: the VFS forwards to SQLite's
// default one, and its xOpen / xWrite / xSync / xTruncate fail with SQLITE_FULL (ENOSPC) or
// SQLITE_IOERR_WRITE / _FSYNC / _TRUNCATE / SQLITE_IOERR (anything else) while a matching rule
// is active.
//
// Thread-safe: rules may change while other threads use the Env.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgesketch/env/env.h"

namespace edgesketch::testing {

// What a failing WritableFile::append leaves at the end of the file before it returns the error.
enum class PartialWrite {
  kIfFull,  // half of the data for ENOSPC (a full disk often takes part of a write), else none
  kNone,    // nothing
  kHalf,    // half of the data, whatever the errno
};

// How a FaultEnv rule fails, besides its errno.
struct FaultOptions {
  int skip = 0;  // matching calls that still succeed before the first failure
  PartialWrite partial = PartialWrite::kIfFull;  // for Op::kWrite on a WritableFile
};

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

  // From now on `op` on a path containing `path_part` ("" = every path) fails with `err`, as
  // `how` says. Until heal(). When several rules match a call, the first one added decides.
  void fail(Op op, std::string path_part, int err, FaultOptions how = {});
  // Removes every rule and every hold: the file system works again.
  void heal();
  // From now on `op` on a path containing `path_part` blocks, as on a hung disk, until
  // release() or heal(); then it goes on (failing if a fail() rule says so). The way to show
  // what a component does *while* an fsync has not returned. Release every hold before the
  // FaultEnv or the blocked component is destroyed.
  void hold(Op op, std::string path_part);
  // Removes every hold: blocked calls go on.
  void release();
  // Waits until at least `n` calls are blocked by holds at once; false after `timeout`.
  bool wait_held(std::size_t n, std::chrono::milliseconds timeout);
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
  const char* sqlite_vfs() const override;

  // What a rule does to `op` on `path` now: err 0 when the call is to succeed. Counts the
  // failures. Used by the files and the SQLite shim.
  struct Verdict {
    int err = 0;
    PartialWrite partial = PartialWrite::kIfFull;
  };
  Verdict check(Op op, const std::string& path);

 private:
  struct Rule {
    Op op;
    std::string path_part;
    int err;
    FaultOptions how;
  };
  class Vfs;  // the SQLite shim, in the .cc file

  struct Hold {
    Op op;
    std::string path_part;
  };

  env::Env& base_;
  mutable std::mutex mu_;  // guards rules_, holds_, blocked_
  std::condition_variable held_cv_;
  std::vector<Rule> rules_;
  std::vector<Hold> holds_;
  std::size_t blocked_ = 0;  // calls waiting in a hold
  std::atomic<std::uint64_t> injected_{0};
  std::unique_ptr<Vfs> vfs_;
};

}  // namespace edgesketch::testing
