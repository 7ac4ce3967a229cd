// InputCounters (input/input_counters.h).
#include "input/input_counters.h"

namespace edgesketch::agent {

void InputCounters::deliver(const InputSink& sink, std::string_view topic, ByteSpan payload,
                            bool dup) {
  bool ok = false;
  try {
    ok = sink(topic, payload, dup);
  } catch (...) {
    sink_exceptions_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  (ok ? accepted_ : rejected_).fetch_add(1, std::memory_order_relaxed);
}

InputCounts InputCounters::counts() const {
  InputCounts c;
  c.received = received_.load();
  c.bytes = bytes_.load();
  c.accepted = accepted_.load();
  c.rejected = rejected_.load();
  c.oversize = oversize_.load();
  c.sink_exceptions = sink_exceptions_.load();
  return c;
}

}  // namespace edgesketch::agent
