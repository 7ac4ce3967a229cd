// FaultEnv: rules, the wrapped files and the SQLite VFS shim.
#include "support/fault_env.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "edgesketch/sqlite/shim_vfs.h"

namespace edgesketch::testing {
namespace {

class FaultFile final : public env::WritableFile {
 public:
  FaultFile(FaultEnv& env, std::unique_ptr<env::WritableFile> real)
      : env_(env), real_(std::move(real)) {}
  Status append(ByteSpan data) override {
    const FaultEnv::Verdict v = env_.check(FaultEnv::Op::kWrite, path());
    if (v.err == 0) return real_->append(data);
    const bool half =
        v.partial == PartialWrite::kHalf || (v.partial == PartialWrite::kIfFull && v.err == ENOSPC);
    // Leave a prefix behind, as a write() cut short by the fault would.
    if (half && data.size() > 1) (void)real_->append(data.first(data.size() / 2));
    return env::errno_status("write", path(), v.err);
  }
  Status sync() override {
    if (int e = env_.check(FaultEnv::Op::kSync, path()).err) {
      return env::errno_status("fdatasync", path(), e);
    }
    return real_->sync();
  }
  Status truncate(std::uint64_t size) override {
    if (int e = env_.check(FaultEnv::Op::kTruncate, path()).err) {
      return env::errno_status("ftruncate", path(), e);
    }
    return real_->truncate(size);
  }
  std::uint64_t size() const override { return real_->size(); }
  const std::string& path() const override { return real_->path(); }

 private:
  FaultEnv& env_;
  std::unique_ptr<env::WritableFile> real_;
};

int sqlite_code(FaultEnv::Op op, int err) {
  if (err == ENOSPC) return SQLITE_FULL;
  switch (op) {
    case FaultEnv::Op::kWrite:
      return SQLITE_IOERR_WRITE;
    case FaultEnv::Op::kSync:
      return SQLITE_IOERR_FSYNC;
    case FaultEnv::Op::kTruncate:
      return SQLITE_IOERR_TRUNCATE;
    default:
      return SQLITE_IOERR;
  }
}

}  // namespace

const char* FaultEnv::op_name(Op op) {
  static constexpr const char* kNames[] = {"open",   "write",  "sync",  "truncate",
                                           "rename", "remove", "mkdir", "sync_dir"};
  return kNames[static_cast<int>(op)];
}

// The SQLite shim: the open, write, truncate and sync calls of databases ask the rules first.
class FaultEnv::Vfs final : public sqlite::ShimVfs {
 public:
  explicit Vfs(FaultEnv& env) : env_(env) {}
  Status install() { return ShimVfs::install("es-fault-env", nullptr); }

 private:
  int fault(Op op, const char* path) {
    const int e = env_.check(op, path).err;
    return e == 0 ? SQLITE_OK : sqlite_code(op, e);
  }
  int on_open(const char* path, int) override { return fault(Op::kOpen, path); }
  int on_write(const char* path, int) override { return fault(Op::kWrite, path); }
  int on_truncate(const char* path, int) override { return fault(Op::kTruncate, path); }
  int on_sync(const char* path, int) override { return fault(Op::kSync, path); }

  FaultEnv& env_;
};

FaultEnv::FaultEnv(env::Env& base) : base_(base), vfs_(std::make_unique<Vfs>(*this)) {
  const Status s = vfs_->install();
  if (!s.ok()) std::fprintf(stderr, "FaultEnv: %s\n", s.to_string().c_str());
}

FaultEnv::~FaultEnv() = default;

const char* FaultEnv::sqlite_vfs() const { return vfs_->name(); }

void FaultEnv::fail(Op op, std::string path_part, int err, FaultOptions how) {
  std::lock_guard lock(mu_);
  rules_.push_back(Rule{op, std::move(path_part), err, how});
}

void FaultEnv::heal() {
  std::lock_guard lock(mu_);
  rules_.clear();
  holds_.clear();
  held_cv_.notify_all();
}

void FaultEnv::hold(Op op, std::string path_part) {
  std::lock_guard lock(mu_);
  holds_.push_back(Hold{op, std::move(path_part)});
}

void FaultEnv::release() {
  std::lock_guard lock(mu_);
  holds_.clear();
  held_cv_.notify_all();
}

bool FaultEnv::wait_held(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return held_cv_.wait_for(lock, timeout, [&] { return blocked_ >= n; });
}

FaultEnv::Verdict FaultEnv::check(Op op, const std::string& path) {
  std::unique_lock lock(mu_);
  const auto holding = [&] {
    for (const Hold& h : holds_) {
      if (h.op == op && path.find(h.path_part) != std::string::npos) return true;
    }
    return false;
  };
  if (holding()) {
    ++blocked_;
    held_cv_.notify_all();
    held_cv_.wait(lock, [&] { return !holding(); });
    --blocked_;
  }
  for (Rule& r : rules_) {
    if (r.op != op || path.find(r.path_part) == std::string::npos) continue;
    if (r.how.skip > 0) {
      --r.how.skip;
      continue;
    }
    ++injected_;
    return Verdict{r.err, r.how.partial};
  }
  return Verdict{};
}

Result<std::unique_ptr<env::WritableFile>> FaultEnv::open_append(const std::string& path,
                                                                 bool truncate) {
  if (int e = check(Op::kOpen, path).err) return env::errno_status("open", path, e);
  ES_ASSIGN_OR_RETURN(auto real, base_.open_append(path, truncate));
  return std::unique_ptr<env::WritableFile>(new FaultFile(*this, std::move(real)));
}

Status FaultEnv::create_dir(const std::string& dir) {
  if (int e = check(Op::kCreateDir, dir).err) return env::errno_status("mkdir", dir, e);
  return base_.create_dir(dir);
}

Status FaultEnv::sync_dir(const std::string& dir) {
  if (int e = check(Op::kSyncDir, dir).err) return env::errno_status("fsync dir", dir, e);
  return base_.sync_dir(dir);
}

Status FaultEnv::remove_file(const std::string& path) {
  if (int e = check(Op::kRemove, path).err) return env::errno_status("unlink", path, e);
  return base_.remove_file(path);
}

Status FaultEnv::rename(const std::string& from, const std::string& to) {
  if (int e = check(Op::kRename, from).err) return env::errno_status("rename", from, e);
  return base_.rename(from, to);
}

}  // namespace edgesketch::testing
