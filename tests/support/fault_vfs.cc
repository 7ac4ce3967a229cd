// FaultVfs: every method forwards to the default VFS; xWrite, xTruncate and xSync fail on demand.
#include "support/fault_vfs.h"

#include <cstdio>
#include <stdexcept>

namespace edgesketch::test_support {

struct FaultVfsShim {
  // Laid out in the memory SQLite allocates for a file: our header, then the real file object.
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
    FaultVfs* owner;
  };

  static FaultVfs* self(sqlite3_vfs* vfs) { return static_cast<FaultVfs*>(vfs->pAppData); }
  static sqlite3_vfs* base(sqlite3_vfs* vfs) { return self(vfs)->base_; }
  static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }
  static FaultVfs* owner(sqlite3_file* f) { return reinterpret_cast<File*>(f)->owner; }
  static int injected(std::atomic<int>& sw, FaultVfs* o) {
    const int rc = sw.load();
    if (rc != SQLITE_OK) o->injected_.fetch_add(1);
    return rc;
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
    if (int rc = injected(owner(f)->write_error_, owner(f))) return rc;
    return real(f)->pMethods->xWrite(real(f), buf, n, off);
  }
  static int truncate(sqlite3_file* f, sqlite3_int64 size) {
    if (int rc = injected(owner(f)->write_error_, owner(f))) return rc;
    return real(f)->pMethods->xTruncate(real(f), size);
  }
  static int sync(sqlite3_file* f, int flags) {
    if (int rc = injected(owner(f)->sync_error_, owner(f))) return rc;
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

  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    auto* ff = reinterpret_cast<File*>(f);
    ff->base.pMethods = nullptr;
    ff->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(File));
    ff->real->pMethods = nullptr;
    ff->owner = self(vfs);
    int rc = base(vfs)->xOpen(base(vfs), name, ff->real, flags, out_flags);
    if (rc != SQLITE_OK) {
      if (ff->real->pMethods != nullptr) ff->real->pMethods->xClose(ff->real);
      return rc;
    }
    int version = ff->real->pMethods->iVersion;
    version = version < 1 ? 1 : (version > 3 ? 3 : version);
    ff->base.pMethods = &kMethods[version - 1];
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

const sqlite3_io_methods FaultVfsShim::kMethods[3] = {make_methods(1), make_methods(2),
                                                      make_methods(3)};

FaultVfs::FaultVfs() {
  base_ = sqlite3_vfs_find(nullptr);
  if (base_ == nullptr) throw std::runtime_error("FaultVfs: SQLite has no default VFS");
  char name[64];
  std::snprintf(name, sizeof name, "es-fault-%p", static_cast<void*>(this));
  name_ = name;
  sqlite3_vfs& s = vfs_;
  s.iVersion = 2;
  s.szOsFile = static_cast<int>(sizeof(FaultVfsShim::File)) + base_->szOsFile;
  s.mxPathname = base_->mxPathname;
  s.zName = name_.c_str();
  s.pAppData = this;
  s.xOpen = FaultVfsShim::open;
  s.xDelete = FaultVfsShim::remove;
  s.xAccess = FaultVfsShim::access;
  s.xFullPathname = FaultVfsShim::full_pathname;
  s.xDlOpen = FaultVfsShim::dl_open;
  s.xDlError = FaultVfsShim::dl_error;
  s.xDlSym = FaultVfsShim::dl_sym;
  s.xDlClose = FaultVfsShim::dl_close;
  s.xRandomness = FaultVfsShim::randomness;
  s.xSleep = FaultVfsShim::sleep;
  s.xCurrentTime = FaultVfsShim::current_time;
  s.xGetLastError = FaultVfsShim::get_last_error;
  s.xCurrentTimeInt64 = FaultVfsShim::current_time_int64;
  if (sqlite3_vfs_register(&s, /*makeDflt=*/0) != SQLITE_OK) {
    throw std::runtime_error("FaultVfs: cannot register " + name_);
  }
}

FaultVfs::~FaultVfs() { sqlite3_vfs_unregister(&vfs_); }

}  // namespace edgesketch::test_support
