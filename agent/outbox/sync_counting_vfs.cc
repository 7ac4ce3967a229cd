// SyncCountingVfs: the ShimVfs's sync hook counts.
#include "outbox/sync_counting_vfs.h"

namespace edgesketch::agent {

Result<std::unique_ptr<SyncCountingVfs>> SyncCountingVfs::create(const char* base_name) {
  std::unique_ptr<SyncCountingVfs> v(new SyncCountingVfs());
  ES_RETURN_IF_ERROR(v->install("es-sync-counting", base_name));
  return v;
}

int SyncCountingVfs::on_sync(const char* /*path*/, int flags) {
  std::atomic<std::uint64_t>& n = (flags & SQLITE_OPEN_MAIN_DB) ? db_syncs_
                                  : (flags & SQLITE_OPEN_WAL)   ? wal_syncs_
                                                                : other_syncs_;
  n.fetch_add(1, std::memory_order_relaxed);
  return SQLITE_OK;
}

SyncCounts SyncCountingVfs::counts() const {
  SyncCounts c;
  c.db = db_syncs_.load(std::memory_order_relaxed);
  c.wal = wal_syncs_.load(std::memory_order_relaxed);
  c.other = other_syncs_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace edgesketch::agent
