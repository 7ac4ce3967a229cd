// AgentApp: the edgesketch-agent daemon's parts wired together (docs/agent.md, "The daemon").
//
//   input threads (MQTT: Paho's, UDP: its own)   aggregator thread            forwarder thread
//   parse -> journal.append() -> ring.push  ->   ring.pop -> edge processing  outbox -> uplink
//                                                -> add/poll ->
//                                                take_batches -> outbox.append
//                                                -> close marks -> journal.trim
//                                                self source: sample every interval ->
//                                                self aggregator (built-in rule) -> outbox
//
// Journal records: one per payload, with its receive time, its input's name and its topic, so
// replay parses it exactly as the input did (journal/payload_record.h). Close marks are
// committed in the outbox with their batch; records of type kCloseMarksRecord
// (encode_close_marks()) are only read, from journals of earlier versions that kept them there.
//
// Thread safety: create(), start(), reload_rules(), reload(), reload_rejected() and stop() are
// called by the main thread only; render_metrics() and healthy() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config/agent_config.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "edgesketch/env/env.h"
#include "process/edge_processor.h"

namespace edgesketch::agent {

// What the daemon uses besides its config: main() passes the defaults; tests pass storage that
// fails on demand.
struct AgentDeps {
  // The file system the journal and the outbox (through env->sqlite_vfs()) write through;
  // nullptr = env::Env::posix(). Not owned; must outlive the AgentApp.
  env::Env* env = nullptr;
  // The clock every time decision of the daemon reads: receive times, windows, outbox ages and
  // retry, sync and sample intervals, the redelivery window, the watchdog beat; nullptr = the
  // system clock. Bounded waits (a full ring, the shutdown grace) and log rate limits use real
  // time. Not owned; must outlive the AgentApp.
  const Clock* clock = nullptr;
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
  // SIGHUP with edge processing: the rules as reload_rules(), and with them (when the rules are
  // applied) `processor` (EdgeProcessor::create() of the new [enrich] / [privacy] / [[filter]],
  // its registry and key files loaded by the caller) replaces the one in use, taking over its
  // counts; null keeps the one in use. A rejected rule set keeps both.
  Status reload(std::vector<RuleSpec> rules, std::unique_ptr<EdgeProcessor> processor,
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
