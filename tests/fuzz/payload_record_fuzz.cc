// Fuzz target for the agent's journal payload records (journal/payload_record.h): the first byte
// is the record type, the rest its bytes. Reading never leaves the record, and a topic record
// that reads encodes back to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "journal/payload_record.h"

namespace {

bool inside(const void* p, std::size_t n, const std::uint8_t* data, std::size_t size) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return n == 0 || (b >= data && b + n <= data + size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgesketch;
  using namespace edgesketch::agent;
  if (size == 0) return 0;
  const std::uint8_t type = data[0];
  const ByteSpan record(data + 1, size - 1);
  const PayloadRecordView view = read_payload_record(type, record);
  if (view.kind != PayloadRecordView::Kind::kPayload) return 0;
  if (!inside(view.body.data(), view.body.size(), record.data(), record.size())) std::abort();
  if (view.format > kMaxPayloadRecordFormat) std::abort();
  const auto parts = split_payload_record_body(view);
  if (!parts) return 0;
  for (const auto& [p, n] :
       {std::pair<const void*, std::size_t>{parts->input.data(), parts->input.size()},
        {parts->topic.data(), parts->topic.size()},
        {parts->device.data(), parts->device.size()},
        {parts->payload.data(), parts->payload.size()}}) {
    if (!inside(p, n, record.data(), record.size())) std::abort();
  }
  if (view.with_topic) {
    Bytes again;
    const std::uint8_t t = encode_payload_record(view.format, view.received_ms, parts->input,
                                                 parts->topic, parts->payload, again);
    if (t != type || again.size() != record.size() ||
        !std::equal(again.begin(), again.end(), record.begin())) {
      std::abort();
    }
  }
  return 0;
}
