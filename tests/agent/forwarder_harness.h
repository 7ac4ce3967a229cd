// What the forwarder tests share: a temporary outbox, seeded window batches whose expected
// per-window totals are recorded as they are appended, a forwarder with test-sized timeouts,
// and polling helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/types.h"
#include "forward/forwarder.h"
#include "outbox/outbox.h"
#include "support/ack_double.h"
#include "support/eventually.h"

namespace edgesketch::agent::testing {

inline constexpr char kTenant[] = "acme";
inline constexpr char kGateway[] = "gw-1";

using test_support::eventually;

class TempDir : public testbed::TempDir {
 public:
  TempDir() : testbed::TempDir("es-forwarder-test") {}
};

struct ExpectedWindow {
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
};

// Builds batches with distinct (series, window) records and remembers what each window must
// total once every batch is committed exactly once.
class BatchMaker {
 public:
  // Batch i: 3 records (devices d0..d2) of metric "temperature" in its own 10 s window, each
  // with 5 + i % 7 readings of seeded values.
  wire::WindowBatch make(int i);
  const std::map<test_support::WindowKey, ExpectedWindow>& expected() const { return expected_; }

 private:
  std::int64_t base_ms_ = 0;
  std::map<test_support::WindowKey, ExpectedWindow> expected_;
};

OutboxOptions outbox_options(const std::string& path, std::int64_t resend_after_ms);

// A forwarder for gateway kGateway / tenant kTenant with fast reconnects (200..1000 ms, seeded
// jitter) and the given ack timeout.
ForwarderOptions forwarder_options(const std::string& broker_uri, std::int64_t ack_timeout_ms);

std::uint64_t outbox_rows(Outbox& outbox);

// Every committed window equals its expectation (count, min, max exactly; sum within 1e-9
// relative) and no window is missing or extra. Returns a description of the first difference,
// or "" when equal.
std::string compare_windows(
    const std::map<test_support::WindowKey, ExpectedWindow>& expected,
    const std::map<test_support::WindowKey, test_support::CommittedWindow>& got);

// The broker-outage scenario: deliver, stop the broker for `outage_s` seconds while batches keep
// being appended (one every 500 ms), restart it on the same port, then check that every batch
// reached the ack double exactly once after dedupe and the outbox emptied.
void run_outage_scenario(int outage_s);

}  // namespace edgesketch::agent::testing
