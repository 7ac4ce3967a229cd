#include "fleet_windows.h"

#include <algorithm>

#include "edgesketch/wire/codec.h"

namespace edgesketch::bench {

void append_batches(std::vector<wire::WindowRecord>&& records, const std::string& gw,
                    std::uint64_t& seq, std::int64_t created_ms, std::vector<EncodedBatch>& out) {
  for (std::size_t i = 0; i < records.size(); i += kRecordsPerBatch) {
    EncodedBatch e;
    e.batch.gateway_id = gw;
    e.batch.seq = seq++;
    e.batch.created_ms = created_ms;
    const std::size_t end = std::min(records.size(), i + kRecordsPerBatch);
    for (std::size_t j = i; j < end; ++j) e.batch.records.push_back(std::move(records[j]));
    e.bytes = wire::encode_window_batch(e.batch);
    out.push_back(std::move(e));
  }
}

}  // namespace edgesketch::bench
