// register_store_metrics() (store_metrics.h).
#include "app/store_metrics.h"

#include <chrono>
#include <memory>
#include <mutex>

namespace edgesketch::collector {

void register_store_metrics(daemon::MetricsRegistry& m, store::Store& store) {
  struct Cached {
    std::mutex mu;
    std::chrono::steady_clock::time_point at{};
    store::StoreStats stats;
  };
  auto cached = std::make_shared<Cached>();
  auto read = [cached, &store](auto field) {
    return [cached, &store, field]() -> double {
      std::lock_guard lock(cached->mu);
      const auto now = std::chrono::steady_clock::now();
      if (now - cached->at > std::chrono::milliseconds(500)) {
        cached->stats = store.stats();
        cached->at = now;
      }
      return static_cast<double>(field(cached->stats));
    };
  };
  using S = store::StoreStats;
  m.gauge_fn("edgesketch_collector_series", "Series in the catalog", {},
             read([](const S& s) { return s.series; }));
  m.counter_fn("edgesketch_collector_store_batches_total", "Batches the store applied", {},
               read([](const S& s) { return s.batches_applied; }));
  m.counter_fn("edgesketch_collector_store_duplicates_total",
               "Batches the dedupe ledger recognised as already applied", {},
               read([](const S& s) { return s.batches_duplicate; }));
  m.gauge_fn("edgesketch_collector_memtable_bytes", "Memtable size (estimated bytes)", {},
             read([](const S& s) { return s.memtable_bytes; }));
  m.gauge_fn("edgesketch_collector_wal_bytes", "WAL bytes on disk", {},
             read([](const S& s) { return s.wal_bytes; }));
  m.counter_fn("edgesketch_collector_wal_fsyncs_total", "WAL fsyncs (group commits)", {},
               read([](const S& s) { return s.wal_fsyncs; }));
  m.gauge_fn("edgesketch_collector_parts", "Immutable parts", {},
             read([](const S& s) { return s.parts; }));
  m.gauge_fn("edgesketch_collector_part_bytes", "Bytes of all parts", {},
             read([](const S& s) { return s.part_bytes; }));
  m.counter_fn("edgesketch_collector_merges_total", "Part merges", {},
               read([](const S& s) { return s.merges; }));
  m.counter_fn("edgesketch_collector_flushes_total", "Memtable flushes", {},
               read([](const S& s) { return s.flushes; }));
  m.counter_fn("edgesketch_collector_partitions_dropped_total", "Partitions dropped by retention",
               {}, read([](const S& s) { return s.partitions_dropped; }));
  m.gauge_fn("edgesketch_collector_parts_quarantined",
             "Parts moved to quarantine/ at the last start (failed checksums)", {},
             read([](const S& s) { return s.parts_quarantined; }));
  m.counter_fn("edgesketch_collector_corrupt_blocks_total",
               "Corrupt part blocks found by scans and merges", {},
               read([](const S& s) { return s.corrupt_blocks; }));
  m.counter_fn("edgesketch_collector_ledger_forced_gaps",
               "Gaps in a gateway's batch seqs the dedupe ledger declared applied to stay within "
               "its bound (a batch from such a gap would be taken for a duplicate)",
               {}, read([](const S& s) { return s.ledger_forced_gaps; }));
  m.gauge_fn("edgesketch_collector_ledger_gateways", "Gateways the dedupe ledger knows", {},
             read([](const S& s) { return s.ledger_gateways; }));
  m.gauge_fn("edgesketch_collector_wal_segments_quarantined",
             "Closed WAL segments found damaged and moved to quarantine/ at the last start", {},
             read([](const S& s) { return s.wal_segments_quarantined; }));
  m.gauge_fn("edgesketch_collector_wal_batches_unreadable",
             "WAL batches that no longer decode or resolve, skipped at the last start", {},
             read([](const S& s) { return s.wal_batches_unreadable; }));
  const char* stall_help =
      "1 while that stage of the write path is stalled by a temporary fault (disk full, I/O "
      "error, failed fsync): batches are not acked and agents resend";
  m.gauge_fn("edgesketch_collector_store_stalled", stall_help, {{"stage", "wal"}},
             read([](const S& s) { return s.stalled_wal; }));
  m.gauge_fn("edgesketch_collector_store_stalled", stall_help, {{"stage", "catalog"}},
             read([](const S& s) { return s.stalled_catalog; }));
  m.gauge_fn("edgesketch_collector_store_stalled", stall_help, {{"stage", "flush"}},
             read([](const S& s) { return s.stalled_flush; }));
  m.counter_fn("edgesketch_collector_store_stalls_total",
               "Stall episodes of the store's write path since start", {},
               read([](const S& s) { return s.stalls; }));
}

}  // namespace edgesketch::collector
