// AgentApp: the edgesketch-agent daemon's parts wired together (docs/agent.md, "The daemon").
//
//   input threads (MQTT: Paho's, UDP: its own)   aggregator thread            forwarder thread
//   parse -> journal.append() -> ring.push  ->   ring.pop -> add/poll ->      outbox -> uplink
//                                                take_batches -> outbox.append
//                                                -> close marks -> journal.trim
//                                                self source: sample every interval ->
//                                                self aggregator (built-in rule) -> outbox
//
// Journal records: type kTopicPayloadRecord | format = a payload as received, with its receive
// time, its input's name and its topic, so replay parses it exactly as the input did. Close
// marks are committed in the outbox with their batch. Earlier versions' records are still read:
// kTimedPayloadRecord | format and the bare format (the topic's device id instead of the
// topic), kCloseMarksRecord (encode_close_marks()).
//
// Thread safety: create(), start(), reload_rules(), reload_rejected() and stop() are called by
// the main thread only; render_metrics() and healthy() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config/agent_config.h"
#include "edgesketch/common/status.h"
#include "edgesketch/env/env.h"

namespace edgesketch::agent {

// Journal record type of a close-marks record, as earlier versions wrote them (payload records
// use their PayloadFormat); replay still reads them.
inline constexpr std::uint8_t kCloseMarksRecord = 0x40;
// Journal record type of a payload record of earlier versions: kTimedPayloadRecord | format,
// body = receive time (ms since the epoch, 8 bytes little-endian), device length (1 byte),
// device, payload. Replay parses with the receive time, so readings without a timestamp of
// their own (line protocol may omit it) land in the windows they first went to, and the clock
// sanity bounds are those of the moment they arrived. Earlier versions wrote the body without
// the time and the bare format as the type; replay reads both.
inline constexpr std::uint8_t kTimedPayloadRecord = 0x20;
// Journal record type of a payload record: kTopicPayloadRecord | format, body = receive time
// (ms since the epoch, 8 bytes little-endian), input name length (1 byte), input name, topic
// length (2 bytes little-endian), topic, payload. Replay parses the payload with the options of
// the input of that name (its topic template, device tag, time field; the format's defaults
// when no input has the name any more) and the receive time.
inline constexpr std::uint8_t kTopicPayloadRecord = 0x60;
// The format bits of a kTimedPayloadRecord or kTopicPayloadRecord type.
inline constexpr std::uint8_t kRecordFormatMask = 0x1F;

// What the daemon uses besides its config: main() passes the defaults; tests pass storage that
// fails on demand.
struct AgentDeps {
  // The file system the journal and the outbox (through env->sqlite_vfs()) write through;
  // nullptr = env::Env::posix(). Not owned; must outlive the AgentApp.
  env::Env* env = nullptr;
};

class AgentApp {
 public:
  // Opens the outbox and the journal, builds the aggregator, inputs and forwarder, and replays
  // the journal into the aggregator (close marks first, then payloads behind the fence).
  // Nothing runs yet. Errors name the part that failed.
  static Result<std::unique_ptr<AgentApp>> create(AgentConfig config, AgentDeps deps = {});
  ~AgentApp();  // stop()
  AgentApp(const AgentApp&) = delete;
  AgentApp& operator=(const AgentApp&) = delete;

  // Starts the metrics server, the aggregator and forwarder threads and then the inputs.
  Status start();
  // SIGHUP: new rules, applied by the aggregator thread (Aggregator::reload_rules keeps the
  // unchanged rules' open windows and flushes the changed ones). Waits up to `timeout` for the
  // aggregator to take them: its verdict (a rejected rule set leaves the old rules), or
  // Unavailable when it has not taken them yet (it will). Counted in
  // edgesketch_agent_config_reloads_total{result="applied"|"rejected"}.
  Status reload_rules(std::vector<RuleSpec> rules,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // SIGHUP with a config file that did not load: counted as a rejected reload.
  void reload_rejected();
  // SIGTERM: inputs stop, rings drain, every window is flushed to the outbox, the journal is
  // synced, the forwarder gets up to `forward_grace_ms` to ship what is left, then stops.
  // Idempotent; bounded (~ the inputs' disconnect + forward_grace_ms + forwarder stop).
  void stop(int forward_grace_ms = 2000);

  // False when the aggregator thread has not gone round its loop for a few seconds (watchdog).
  bool healthy() const;
  // Prometheus text of the self-metrics.
  std::string render_metrics() const;
  // The metrics server's port (0 when off).
  int metrics_port() const;

  struct Impl;

 private:
  explicit AgentApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgesketch::agent
