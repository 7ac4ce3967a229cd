// ShimVfs: every VFS and file method forwards to the wrapped VFS; open, write, truncate and
// sync ask the subclass first.
#include "edgesketch/sqlite/shim_vfs.h"

#include <cstdio>

namespace edgesketch::sqlite {

struct ShimCallbacks {
  struct File {
    sqlite3_file base;  // base.pMethods points at one of the kMethods tables
    sqlite3_file* real;
    ShimVfs* shim;
    int flags;
    char path[512];
  };

  static ShimVfs* self(sqlite3_vfs* vfs) { return static_cast<ShimVfs*>(vfs->pAppData); }
  static sqlite3_vfs* base(sqlite3_vfs* vfs) { return self(vfs)->base_; }
  static File* file(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static sqlite3_file* real(sqlite3_file* f) { return file(f)->real; }

  // --- file methods ---
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
    if (int rc = file(f)->shim->on_write(file(f)->path, file(f)->flags)) return rc;
    return real(f)->pMethods->xWrite(real(f), buf, n, off);
  }
  static int truncate(sqlite3_file* f, sqlite3_int64 size) {
    if (int rc = file(f)->shim->on_truncate(file(f)->path, file(f)->flags)) return rc;
    return real(f)->pMethods->xTruncate(real(f), size);
  }
  static int sync(sqlite3_file* f, int flags) {
    if (int rc = file(f)->shim->on_sync(file(f)->path, file(f)->flags)) return rc;
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

  // One table per io_methods version, so SQLite never calls a method the wrapped file lacks.
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

  // --- VFS methods ---
  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    File* sf = file(f);
    sf->base.pMethods = nullptr;
    sf->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(File));
    sf->real->pMethods = nullptr;
    sf->shim = self(vfs);
    sf->flags = flags;
    std::snprintf(sf->path, sizeof sf->path, "%s", name != nullptr ? name : "");
    if (int rc = sf->shim->on_open(sf->path, flags)) return rc;
    int rc = base(vfs)->xOpen(base(vfs), name, sf->real, flags, out_flags);
    if (rc != SQLITE_OK) {
      if (sf->real->pMethods != nullptr) sf->real->pMethods->xClose(sf->real);
      return rc;
    }
    int version = sf->real->pMethods->iVersion;
    version = version < 1 ? 1 : (version > 3 ? 3 : version);
    sf->base.pMethods = &kMethods[version - 1];
    return SQLITE_OK;
  }
  static int remove(sqlite3_vfs* vfs, const char* name, int sync_dir) {
    return base(vfs)->xDelete(base(vfs), name, sync_dir);
  }
  static int access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
    return base(vfs)->xAccess(base(vfs), name, flags, out);
  }
  static int full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
    return base(vfs)->xFullPathname(base(vfs), name, n, out);
  }
  static void* dl_open(sqlite3_vfs* vfs, const char* name) {
    return base(vfs)->xDlOpen(base(vfs), name);
  }
  static void dl_error(sqlite3_vfs* vfs, int n, char* msg) {
    base(vfs)->xDlError(base(vfs), n, msg);
  }
  static void (*dl_sym(sqlite3_vfs* vfs, void* handle, const char* sym))(void) {
    return base(vfs)->xDlSym(base(vfs), handle, sym);
  }
  static void dl_close(sqlite3_vfs* vfs, void* handle) { base(vfs)->xDlClose(base(vfs), handle); }
  static int randomness(sqlite3_vfs* vfs, int n, char* out) {
    return base(vfs)->xRandomness(base(vfs), n, out);
  }
  static int sleep(sqlite3_vfs* vfs, int us) { return base(vfs)->xSleep(base(vfs), us); }
  static int current_time(sqlite3_vfs* vfs, double* out) {
    return base(vfs)->xCurrentTime(base(vfs), out);
  }
  static int get_last_error(sqlite3_vfs* vfs, int n, char* out) {
    return base(vfs)->xGetLastError(base(vfs), n, out);
  }
  static int current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
    return base(vfs)->xCurrentTimeInt64(base(vfs), out);
  }
};

const sqlite3_io_methods ShimCallbacks::kMethods[3] = {make_methods(1), make_methods(2),
                                                       make_methods(3)};

Status ShimVfs::install(const char* prefix, const char* base_name) {
  sqlite3_vfs* base = sqlite3_vfs_find(base_name);
  if (base == nullptr) {
    return Status::not_found("sqlite: no VFS named '" +
                             std::string(base_name != nullptr ? base_name : "(default)") +
                             "' is registered");
  }
  if (base->iVersion < 2) {
    return Status::failed_precondition("sqlite: VFS '" + std::string(base->zName) +
                                       "' is older than version 2");
  }
  char name[96];
  std::snprintf(name, sizeof name, "%s-%p", prefix, static_cast<void*>(this));
  name_ = name;
  base_ = base;
  sqlite3_vfs& s = vfs_;
  s = sqlite3_vfs{};
  s.iVersion = 2;
  s.szOsFile = static_cast<int>(sizeof(ShimCallbacks::File)) + base->szOsFile;
  s.mxPathname = base->mxPathname;
  s.zName = name_.c_str();
  s.pAppData = this;
  s.xOpen = ShimCallbacks::open;
  s.xDelete = ShimCallbacks::remove;
  s.xAccess = ShimCallbacks::access;
  s.xFullPathname = ShimCallbacks::full_pathname;
  s.xDlOpen = ShimCallbacks::dl_open;
  s.xDlError = ShimCallbacks::dl_error;
  s.xDlSym = ShimCallbacks::dl_sym;
  s.xDlClose = ShimCallbacks::dl_close;
  s.xRandomness = ShimCallbacks::randomness;
  s.xSleep = ShimCallbacks::sleep;
  s.xCurrentTime = ShimCallbacks::current_time;
  s.xGetLastError = ShimCallbacks::get_last_error;
  s.xCurrentTimeInt64 = ShimCallbacks::current_time_int64;
  const int rc = sqlite3_vfs_register(&s, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    return Status::internal("sqlite: registering VFS " + name_ + ": " + sqlite3_errstr(rc));
  }
  registered_ = true;
  return Status();
}

ShimVfs::~ShimVfs() {
  if (registered_) sqlite3_vfs_unregister(&vfs_);
}

}  // namespace edgesketch::sqlite
