// FaultFileOps: the journal's FileOps for tests. Forwards to POSIX and fails on demand with a
// chosen errno, as a full disk (ENOSPC), a failing disk (EIO) or a failing fdatasync would:
//
//   auto ops = std::make_shared<test_support::FaultFileOps>();
//   options.file_ops = ops;
//   ops->write_errno = ENOSPC;   // every write fails from now on
//   ops->write_errno = 0;        // the disk has room again
//
// The switches are atomics, so tests flip them while the journal runs on other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "journal/file_ops.h"

namespace edgesketch::test_support {

class FaultFileOps final : public agent::FileOps {
 public:
  std::atomic<int> write_errno{0};     // fail AppendFile::append() with this errno
  std::atomic<bool> partial{false};    // ...after writing half the bytes
  std::atomic<int> sync_errno{0};      // fail AppendFile::sync() and sync_dir() with this errno
  std::atomic<int> truncate_errno{0};  // fail AppendFile::truncate() with this errno
  std::atomic<int> open_errno{0};      // fail open_append() (a new segment) with this errno
  std::atomic<int> remove_errno{0};    // fail remove_file() (trim) with this errno

  // Calls that failed because of the switches above.
  std::uint64_t injected() const { return injected_.load(); }

  Result<std::unique_ptr<agent::AppendFile>> open_append(const std::string& path,
                                                         bool truncate) override;
  Result<Bytes> read_file(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status remove_file(const std::string& path) override;
  Status create_dir(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;

 private:
  class File;
  // errno of `sw` as a failed call, counted; OK when the switch is off.
  Status fail(const std::atomic<int>& sw, std::string_view op, const std::string& path);

  agent::PosixFileOps real_;
  std::atomic<std::uint64_t> injected_{0};
};

}  // namespace edgesketch::test_support
