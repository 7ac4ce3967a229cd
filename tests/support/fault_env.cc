// FaultEnv: rules, the wrapped files and the SQLite VFS shim.
#include "support/fault_env.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

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

// The SQLite shim. A file is laid out in the memory SQLite allocates for it (szOsFile): our
// header first, the default VFS's file object right after it.
struct FaultEnv::Vfs {
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
    FaultEnv* env;
    char path[512];
  };
  static FaultEnv* self(sqlite3_vfs* v) { return static_cast<FaultEnv*>(v->pAppData); }
  static sqlite3_vfs* base() { return sqlite3_vfs_find(nullptr); }
  static File* file(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static sqlite3_file* real(sqlite3_file* f) { return file(f)->real; }
  static int fault(sqlite3_file* f, Op op) {
    const int e = file(f)->env->check(op, file(f)->path).err;
    return e == 0 ? SQLITE_OK : sqlite_code(op, e);
  }

  static int close(sqlite3_file* f) {
    sqlite3_file* r = real(f);
    int rc = r->pMethods != nullptr ? r->pMethods->xClose(r) : SQLITE_OK;
    f->pMethods = nullptr;
    return rc;
  }
  static int read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
    return real(f)->pMethods->xRead(real(f), buf, n, off);
  }
  static int write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
    if (int rc = fault(f, Op::kWrite)) return rc;
    return real(f)->pMethods->xWrite(real(f), buf, n, off);
  }
  static int truncate(sqlite3_file* f, sqlite3_int64 size) {
    if (int rc = fault(f, Op::kTruncate)) return rc;
    return real(f)->pMethods->xTruncate(real(f), size);
  }
  static int sync(sqlite3_file* f, int flags) {
    if (int rc = fault(f, Op::kSync)) return rc;
    return real(f)->pMethods->xSync(real(f), flags);
  }
  static int file_size(sqlite3_file* f, sqlite3_int64* size) {
    return real(f)->pMethods->xFileSize(real(f), size);
  }
  static int lock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
  static int unlock(sqlite3_file* f, int level) {
    return real(f)->pMethods->xUnlock(real(f), level);
  }
  static int check_reserved_lock(sqlite3_file* f, int* out) {
    return real(f)->pMethods->xCheckReservedLock(real(f), out);
  }
  static int file_control(sqlite3_file* f, int op, void* arg) {
    return real(f)->pMethods->xFileControl(real(f), op, arg);
  }
  static int sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
  static int device_characteristics(sqlite3_file* f) {
    return real(f)->pMethods->xDeviceCharacteristics(real(f));
  }
  static int shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** p) {
    return real(f)->pMethods->xShmMap(real(f), page, size, extend, p);
  }
  static int shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
  }
  static void shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
  static int shm_unmap(sqlite3_file* f, int delete_flag) {
    return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
  }
  static int fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
    return real(f)->pMethods->xFetch(real(f), off, n, p);
  }
  static int unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
    return real(f)->pMethods->xUnfetch(real(f), off, p);
  }
  static constexpr sqlite3_io_methods make_methods(int version) {
    return {version,
            close,
            read,
            write,
            truncate,
            sync,
            file_size,
            lock,
            unlock,
            check_reserved_lock,
            file_control,
            sector_size,
            device_characteristics,
            shm_map,
            shm_lock,
            shm_barrier,
            shm_unmap,
            fetch,
            unfetch};
  }
  static const sqlite3_io_methods kMethods[3];

  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out) {
    File* ff = file(f);
    ff->base.pMethods = nullptr;
    ff->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(File));
    ff->real->pMethods = nullptr;
    ff->env = self(vfs);
    std::snprintf(ff->path, sizeof ff->path, "%s", name != nullptr ? name : "");
    if (int e = ff->env->check(Op::kOpen, ff->path).err) return sqlite_code(Op::kOpen, e);
    int rc = base()->xOpen(base(), name, ff->real, flags, out);
    if (rc != SQLITE_OK) {
      if (ff->real->pMethods != nullptr) ff->real->pMethods->xClose(ff->real);
      return rc;
    }
    int version = ff->real->pMethods->iVersion;
    version = version < 1 ? 1 : (version > 3 ? 3 : version);
    ff->base.pMethods = &kMethods[version - 1];
    return SQLITE_OK;
  }
  static int remove(sqlite3_vfs*, const char* name, int sync_dir) {
    return base()->xDelete(base(), name, sync_dir);
  }
  static int access(sqlite3_vfs*, const char* name, int flags, int* out) {
    return base()->xAccess(base(), name, flags, out);
  }
  static int full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return base()->xFullPathname(base(), name, n, out);
  }
  static void* dl_open(sqlite3_vfs*, const char* name) { return base()->xDlOpen(base(), name); }
  static void dl_error(sqlite3_vfs*, int n, char* msg) { base()->xDlError(base(), n, msg); }
  static void (*dl_sym(sqlite3_vfs*, void* handle, const char* sym))(void) {
    return base()->xDlSym(base(), handle, sym);
  }
  static void dl_close(sqlite3_vfs*, void* handle) { base()->xDlClose(base(), handle); }
  static int randomness(sqlite3_vfs*, int n, char* out) {
    return base()->xRandomness(base(), n, out);
  }
  static int sleep(sqlite3_vfs*, int us) { return base()->xSleep(base(), us); }
  static int current_time(sqlite3_vfs*, double* out) { return base()->xCurrentTime(base(), out); }
  static int get_last_error(sqlite3_vfs*, int n, char* out) {
    return base()->xGetLastError(base(), n, out);
  }
  static int current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
    return base()->xCurrentTimeInt64(base(), out);
  }
};

const sqlite3_io_methods FaultEnv::Vfs::kMethods[3] = {make_methods(1), make_methods(2),
                                                       make_methods(3)};

FaultEnv::FaultEnv(env::Env& base) : base_(base), vfs_(std::make_unique<sqlite3_vfs>()) {
  char name[64];
  std::snprintf(name, sizeof name, "es-fault-env-%p", static_cast<void*>(this));
  vfs_name_ = name;
  sqlite3_vfs* b = sqlite3_vfs_find(nullptr);
  sqlite3_vfs& v = *vfs_;
  v = sqlite3_vfs{};
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(sizeof(Vfs::File)) + b->szOsFile;
  v.mxPathname = b->mxPathname;
  v.zName = vfs_name_.c_str();
  v.pAppData = this;
  v.xOpen = Vfs::open;
  v.xDelete = Vfs::remove;
  v.xAccess = Vfs::access;
  v.xFullPathname = Vfs::full_pathname;
  v.xDlOpen = Vfs::dl_open;
  v.xDlError = Vfs::dl_error;
  v.xDlSym = Vfs::dl_sym;
  v.xDlClose = Vfs::dl_close;
  v.xRandomness = Vfs::randomness;
  v.xSleep = Vfs::sleep;
  v.xCurrentTime = Vfs::current_time;
  v.xGetLastError = Vfs::get_last_error;
  v.xCurrentTimeInt64 = Vfs::current_time_int64;
  sqlite3_vfs_register(vfs_.get(), 0);
}

FaultEnv::~FaultEnv() { sqlite3_vfs_unregister(vfs_.get()); }

void FaultEnv::fail(Op op, std::string path_part, int err, FaultOptions how) {
  std::lock_guard lock(mu_);
  rules_.push_back(Rule{op, std::move(path_part), err, how});
}

void FaultEnv::heal() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

FaultEnv::Verdict FaultEnv::check(Op op, const std::string& path) {
  std::lock_guard lock(mu_);
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
