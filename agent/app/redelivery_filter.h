// RedeliveryFilter: tells the MQTT messages a broker redelivers after a restart, although the
// agent journaled them already, from new ones (docs/agent.md, "Durability").
//
// A kill -9 with unread input on the socket resets the connection, so PUBACKs Paho had queued
// never reach the broker, which redelivers those messages after the restart although they are
// journaled already (and perhaps committed in a window). The broker marks every redelivery with
// the DUP flag (MQTT 3.1.1 [MQTT-3.3.1-1]; mosquitto sets it on each message it sends again, the
// resend after a reconnect included, and keeps it in its persistence file). The filter knows the
// newest kTail payload records of the journal (XXH3 of the record body, seeded with its
// format, -> copies); in the first kWindowMs after start() a message flagged DUP whose body
// matches one of them is taken as that redelivery and uses that copy up. A message without DUP
// was never delivered before and is never passed to the filter: it is always taken, however many
// identical payloads the journal holds (line protocol without timestamps repeats byte for byte).
//
// Thread safety: remember() and start() on one thread (the daemon's main thread, replay, before
// the inputs start); take_redelivery() from any threads (the MQTT inputs') after start().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/clock.h"

namespace edgesketch::agent {

class RedeliveryFilter {
 public:
  // How long after start() the filter applies (of the clock's monotonic time) and how many of the
  // journal's newest payload records it knows. The broker redelivers at most its in-flight
  // window of QoS 1 messages (mosquitto: 20 by default), the newest ones the agent received; the
  // journal's trim keeps at least kTail records for the next start.
  static constexpr std::int64_t kWindowMs = 60'000;
  static constexpr std::uint64_t kTail = 4096;

  // `clock` is not owned and must outlive the filter.
  explicit RedeliveryFilter(const Clock& clock) : clock_(clock) {}
  RedeliveryFilter(const RedeliveryFilter&) = delete;
  RedeliveryFilter& operator=(const RedeliveryFilter&) = delete;

  // One payload record of the journal, in journal order: its format and body
  // (journal/payload_record.h). The newest kTail are kept.
  void remember(std::uint8_t format, ByteSpan body);
  // Opens the window: for kWindowMs from now, take_redelivery() may match what was remembered.
  void start();
  // A message the broker flagged DUP, as the body of its record in `format`: true when it is a
  // redelivery of a remembered record (whose copy it uses up), false otherwise and always once
  // the window has closed.
  bool take_redelivery(std::uint8_t format, ByteSpan body);

 private:
  static std::uint64_t hash(std::uint8_t format, ByteSpan body);

  const Clock& clock_;
  std::deque<std::uint64_t> recent_;  // remember()'s, until start()
  std::int64_t until_ms_ = 0;         // monotonic ms; set by start()
  std::atomic<bool> active_{false};   // false before start(), once the window closed, or empty
  std::mutex mu_;                     // guards copies_
  std::unordered_map<std::uint64_t, std::uint32_t> copies_;
};

}  // namespace edgesketch::agent
