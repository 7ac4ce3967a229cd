// Env: the file-system operations the agent's journal and outbox and the collector's store
// perform, behind one interface (as leveldb's Env), so that tests can make any of them fail
// with ENOSPC, EIO or a failed fsync (tests/support/fault_env.h) and check that no fault turns
// into a loss or a rejection. Env::posix() is the real thing.
//
// SQLite databases (outbox, catalog) are opened through the VFS that sqlite_vfs() names, so a
// fault-injecting Env reaches their writes and syncs too.
//
// Every failure is a kIoError Status "<op> <path>: <strerror> (errno N)" (errno_status());
// errno_of() recovers N. Implementations are thread-safe; a WritableFile needs external
// synchronisation except that sync() may run concurrently with append() (as fdatasync may).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::env {

// "<op> <path>: <strerror(err)> (errno <err>)", code kIoError.
Status errno_status(std::string_view op, std::string_view path, int err);
// The errno an errno_status() carries; 0 when there is none.
int errno_of(const Status& status);
// True for the faults that may clear by themselves or by an operator's hand (a full disk, an
// I/O error, a failed sync, a missing permission): kIoError and kUnavailable.
bool is_temporary(const Status& status);

std::string parent_dir(const std::string& path);

// A file written only at its end.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end, retrying short writes and EINTR. On error a prefix of
  // `data` may have been written: the caller truncates it away.
  virtual Status append(ByteSpan data) = 0;
  // fdatasync(): what was appended is on stable storage when this returns OK.
  virtual Status sync() = 0;
  // Cuts the file to `size` bytes; later appends continue at the new end.
  virtual Status truncate(std::uint64_t size) = 0;
  // Bytes in the file (its size at open plus what was appended since, after truncations).
  virtual std::uint64_t size() const = 0;
  virtual const std::string& path() const = 0;
};

// A read-only private mapping of a whole immutable file. Movable; unmaps on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  static Result<MappedFile> open(const std::string& path);
  ByteSpan bytes() const { return {data_, size_}; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The POSIX file system. Lives for the whole process.
  static Env& posix();

  // Opens `path` for appending, creating it (mode 0644) when missing; `truncate` empties it.
  virtual Result<std::unique_ptr<WritableFile>> open_append(const std::string& path,
                                                            bool truncate) = 0;
  // The whole file; kResourceExhausted when it is larger than max_bytes.
  virtual Result<Bytes> read_file(const std::string& path, std::uint64_t max_bytes) = 0;
  virtual Result<MappedFile> map_file(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir` without "." and "..", sorted; empty when `dir`
  // does not exist.
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  // Creates `dir` (one level, mode 0755); OK when it exists as a directory.
  virtual Status create_dir(const std::string& dir) = 0;
  // fsync() of a directory, so that created, renamed and removed entries survive a power loss.
  virtual Status sync_dir(const std::string& dir) = 0;
  // unlink(); OK when the file does not exist.
  virtual Status remove_file(const std::string& path) = 0;
  // rmdir(); OK when it does not exist or is not empty.
  virtual Status remove_dir_if_empty(const std::string& dir) = 0;
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // A hard link `to` of `from` (same file system); kIoError otherwise (EXDEV etc.).
  virtual Status link(const std::string& from, const std::string& to) = 0;
  virtual bool exists(const std::string& path) = 0;
  // The SQLite VFS name databases of this Env are opened with; nullptr: SQLite's default.
  virtual const char* sqlite_vfs() const { return nullptr; }

  // Composite operations, made of the ones above (so a fault in any step shows).
  // Creates `dir` and its missing parents.
  Status ensure_dir(const std::string& dir);
  // Writes `data` to `path` durably and atomically: a reader sees the old file or the new one.
  // Writes path + ".tmp", syncs it, renames it over `path`, syncs the directory.
  Status write_file_durable(const std::string& path, ByteSpan data);
  // rename() then sync of both directories.
  Status rename_durable(const std::string& from, const std::string& to);
};

}  // namespace edgesketch::env
