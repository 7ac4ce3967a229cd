// The small file-system interface the journal writes through, so tests can inject write and
// fsync failures (EIO, ENOSPC, short writes) without root or special file systems.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::agent {

// Builds the Status every FileOps implementation returns for a failed system call:
// "<op> <path>: <strerror(err)> (errno <err>)", code kIoError.
Status errno_status(std::string_view op, std::string_view path, int err);

// A file opened for appending (O_APPEND). Thread-safety: append() and truncate() need external
// synchronisation (the journal's mutex); sync() may run concurrently with append() on another
// thread, as fdatasync() may. Destruction closes the file without syncing it.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Writes all of `data` at the end of the file, retrying short writes and EINTR. On error some
  // prefix of `data` may have been written: the caller truncates it away.
  virtual Status append(ByteSpan data) = 0;
  // fdatasync(): everything appended so far is on stable storage when this returns OK.
  virtual Status sync() = 0;
  // Cuts the file to `size` bytes (ftruncate); later appends continue at the new end.
  virtual Status truncate(std::uint64_t size) = 0;
  virtual const std::string& path() const = 0;
};

// File-system operations on whole files and directories. Implementations are thread-safe.
class FileOps {
 public:
  virtual ~FileOps() = default;
  // Opens `path` for appending, creating it (mode 0644) when missing; `truncate` empties it.
  virtual Result<std::unique_ptr<AppendFile>> open_append(const std::string& path,
                                                          bool truncate) = 0;
  // Reads the whole file.
  virtual Result<Bytes> read_file(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  // Creates `dir` (one level, mode 0755); OK when it already exists as a directory.
  virtual Status create_dir(const std::string& dir) = 0;
  // fsync() of the directory itself, so created and removed entries survive a power loss.
  virtual Status sync_dir(const std::string& dir) = 0;
};

// The real thing: POSIX open/write/fdatasync/ftruncate/unlink/opendir. Stateless.
class PosixFileOps final : public FileOps {
 public:
  Result<std::unique_ptr<AppendFile>> open_append(const std::string& path, bool truncate) override;
  Result<Bytes> read_file(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status remove_file(const std::string& path) override;
  Status create_dir(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;
};

}  // namespace edgesketch::agent
