// The file-system operations the store needs: durable whole-file writes (tmp -> fsync -> rename
// -> fsync dir), read-only mappings of immutable parts, and an append-only file for WAL segments.
// Every failure is a kIoError Status naming the operation, the path and errno.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::store {

// "<op> <path>: <strerror(err)> (errno <err>)", code kIoError.
Status errno_status(std::string_view op, std::string_view path, int err);

// Creates `dir` and its missing parents (mode 0755); OK when it exists.
Status ensure_dir(const std::string& dir);
// fsync() of a directory, so created, renamed and removed entries survive a power loss.
Status sync_dir(const std::string& dir);
// Writes `data` to `path` durably and atomically: a reader sees the old file or the new one,
// never a mix. Writes path + ".tmp", fsyncs it, renames it over `path`, fsyncs the directory.
Status write_file_durable(const std::string& path, ByteSpan data);
// The whole file; kResourceExhausted when it is larger than max_bytes.
Result<Bytes> read_file(const std::string& path, std::uint64_t max_bytes);
// Names (not paths) of the entries of `dir`, sorted; empty when `dir` does not exist.
Result<std::vector<std::string>> list_dir(const std::string& dir);
// unlink(); OK when the file does not exist.
Status remove_file(const std::string& path);
// Removes `dir` when empty (rmdir); OK when it does not exist or is not empty.
Status remove_dir_if_empty(const std::string& dir);
// rename() then fsync of both directories.
Status rename_durable(const std::string& from, const std::string& to);
std::string parent_dir(const std::string& path);
bool path_exists(const std::string& path);

// A read-only private mapping of a whole immutable file. Movable, not copyable; unmaps on
// destruction. Thread-safe for reads.
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

// A file written only at its end (O_APPEND). append() and truncate() need external
// synchronisation; datasync() may run concurrently with append() on another thread.
class AppendFile {
 public:
  AppendFile() = default;
  ~AppendFile();
  AppendFile(AppendFile&& o) noexcept;
  AppendFile& operator=(AppendFile&& o) noexcept;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Opens (creating when missing) for appending; the size is the current file size.
  static Result<AppendFile> open(const std::string& path);
  // Writes all of `data`, retrying short writes and EINTR.
  Status append(ByteSpan data);
  // fdatasync().
  Status datasync() const;
  Status truncate(std::uint64_t size);
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string path_;
};

}  // namespace edgesketch::store
