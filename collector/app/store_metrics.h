// The collector's store statistics as metrics (edgesketch_collector_series, _wal_*, _parts,
// _store_stalled{stage}, ...; docs/collector-store.md).
#pragma once

#include "edgesketch/daemon/metrics.h"
#include "edgesketch/store/store.h"

namespace edgesketch::collector {

// Registers gauges and counters that read store.stats(), at most once per 500 ms whatever the
// number of metrics and scrapes. `store` must outlive the registry's use of them.
void register_store_metrics(daemon::MetricsRegistry& m, store::Store& store);

}  // namespace edgesketch::collector
