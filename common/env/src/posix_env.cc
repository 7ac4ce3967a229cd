// Env::posix(): open/write/fdatasync/ftruncate/rename/unlink/mmap.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "edgesketch/env/env.h"

namespace edgesketch::env {
namespace {

Status write_all(int fd, const std::uint8_t* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path, errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return Status();
}

// Opens `path` with `flags` and reads its size; the fd is closed again on failure.
Result<std::pair<int, std::uint64_t>> open_sized(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return errno_status("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return errno_status("fstat", path, err);
  }
  return std::make_pair(fd, static_cast<std::uint64_t>(st.st_size));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~PosixWritableFile() override { ::close(fd_); }

  Status append(ByteSpan data) override {
    Status s = write_all(fd_, data.data(), data.size(), path_);
    if (!s.ok()) {
      struct stat st;
      if (::fstat(fd_, &st) == 0) size_ = static_cast<std::uint64_t>(st.st_size);
      return s;
    }
    size_ += data.size();
    return Status();
  }
  Status sync() override {
    if (::fdatasync(fd_) != 0) return errno_status("fdatasync", path_, errno);
    return Status();
  }
  Status truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return errno_status("ftruncate", path_, errno);
    }
    size_ = size;
    return Status();
  }
  std::uint64_t size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::uint64_t size_;
  std::string path_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> open_append(const std::string& path,
                                                    bool truncate) override {
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    ES_ASSIGN_OR_RETURN(const auto opened, open_sized(path, flags));
    return std::unique_ptr<WritableFile>(new PosixWritableFile(opened.first, opened.second, path));
  }

  Result<Bytes> read_file(const std::string& path, std::uint64_t max_bytes) override {
    ES_ASSIGN_OR_RETURN(const auto opened, open_sized(path, O_RDONLY | O_CLOEXEC));
    const auto [fd, size] = opened;
    if (size > max_bytes) {
      ::close(fd);
      return Status::resource_exhausted("read " + path + ": " + std::to_string(size) +
                                        " bytes exceed the limit of " + std::to_string(max_bytes));
    }
    Bytes out(static_cast<std::size_t>(size));
    std::size_t got = 0;
    while (got < out.size()) {
      ssize_t r = ::read(fd, out.data() + got, out.size() - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return errno_status("read", path, err);
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    ::close(fd);
    out.resize(got);
    return out;
  }

  Result<MappedFile> map_file(const std::string& path) override { return MappedFile::open(path); }

  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return names;
      return errno_status("opendir", dir, errno);
    }
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status create_dir(const std::string& dir) override {
    if (dir.empty()) return Status();
    if (::mkdir(dir.c_str(), 0755) == 0) return Status();
    const int err = errno;
    struct stat st;
    if (err == EEXIST && ::stat(dir.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status();
      return Status::io_error("mkdir " + dir + ": exists and is not a directory");
    }
    return errno_status("mkdir", dir, err);
  }

  Status sync_dir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("open dir", dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return errno_status("fsync dir", dir, err);
    return Status();
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("unlink", path, errno);
    return Status();
  }

  Status remove_dir_if_empty(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST) {
      return errno_status("rmdir", dir, errno);
    }
    return Status();
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename", from, errno);
    return Status();
  }

  Status link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) return errno_status("link", from, errno);
    return Status();
  }

  bool exists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
};

}  // namespace

Env& Env::posix() {
  static PosixEnv env;
  return env;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr && size_ > 0) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    this->~MappedFile();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  ES_ASSIGN_OR_RETURN(const auto opened, open_sized(path, O_RDONLY | O_CLOEXEC));
  const int fd = opened.first;
  MappedFile m;
  m.size_ = static_cast<std::size_t>(opened.second);
  if (m.size_ > 0) {
    void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      m.size_ = 0;
      return errno_status("mmap", path, err);
    }
    m.data_ = static_cast<const std::uint8_t*>(p);
  }
  ::close(fd);
  return m;
}

}  // namespace edgesketch::env
