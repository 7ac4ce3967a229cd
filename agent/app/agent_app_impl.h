// AgentApp's insides, shared by agent_app.cc (the threads, replay, start and stop) and
// agent_metrics.cc (the metrics). Private to es_agent_app.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "app/agent_app.h"
#include "app/edge_metrics.h"
#include "app/rate_limited_log.h"
#include "app/redelivery_filter.h"
#include "app/rule_handoff.h"
#include "app/storage_stall.h"
#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/daemon/daemon.h"
#include "edgesketch/daemon/metrics.h"
#include "forward/forwarder.h"
#include "input/mqtt_input.h"
#include "input/payload_parser.h"
#include "input/udp_input.h"
#include "journal/journal.h"
#include "outbox/outbox.h"
#include "process/edge_processor.h"
#include "ring/reading_ring.h"
#include "window/aggregator.h"
#include "window/close_marks.h"
#include "window/self_metrics.h"

namespace edgesketch::agent {

// A UDP datagram held while the journal cannot write, with what it was received with.
struct HeldPayload {
  std::string topic;
  Bytes payload;
  std::int64_t received_ms = 0;
  std::size_t readings = 0;
};

// A closed batch waiting for the outbox (appended in order; see commit_device_batches()).
struct HeldBatch {
  wire::WindowBatch batch;
  CloseMarksBlob marks;
  std::uint64_t journal_upto = 0;  // 0 for all but the last batch of a round
  bool self = false;               // a self-metrics batch (nothing of it is journaled)
  std::size_t bytes = 0;           // window_batch_memory_bytes() of `batch`
};

// What became of a payload in Impl::take().
enum class Taken {
  kAccepted,       // journaled and pushed (or a redelivery, already journaled)
  kRefused,        // bad payload, or dropped (counted)
  kNoRoom,         // UDP: the ring is full (not counted yet)
  kJournalFailed,  // UDP: the journal cannot write now (not counted yet)
};

// One input: its transport, ring and the state its sink keeps on the transport's thread.
struct InputPipe {
  InputConfig config;
  std::unique_ptr<ReadingRing> ring;
  std::unique_ptr<MqttInput> mqtt;
  std::unique_ptr<UdpInput> udp;
  // Owned by the transport's thread (the sink).
  PayloadParser parser;
  // edgesketch_agent_payload_items_skipped_total{input, reason}, found once per reason.
  std::vector<std::pair<std::string_view, daemon::Counter*>> skipped_counters;
  std::unique_ptr<ReadingChunk> spare;
  Bytes record;  // journal record being built
  // Journal records of this input appended but not yet fed to the aggregator, oldest first.
  // Guards the pair "journal append + remember its number", so the aggregator thread can cap
  // journal_upto below every record not yet fed (records of several inputs interleave).
  std::mutex unfed_mu;
  std::deque<std::uint64_t> unfed;
  // UDP: datagrams held while the journal cannot write, oldest first (the transport's thread;
  // the main thread after the transport stopped).
  std::deque<HeldPayload> held;
  std::size_t held_bytes = 0;
  std::atomic<std::size_t> held_count{0};  // held.size(), for the gauge
  std::int64_t held_retry_ms = 0;          // Impl::mono_ms(); the next attempt to journal
  daemon::Counter* accepted_payloads = nullptr;
  daemon::Counter* accepted_readings = nullptr;
};

// The counters the daemon's threads increment, registered by Impl::register_metrics() and owned
// by its MetricsRegistry.
struct AgentCounters {
  // edgesketch_agent_dropped_readings_total{reason}
  daemon::Counter* drop_ring_full = nullptr;
  daemon::Counter* drop_ring_timeout = nullptr;
  daemon::Counter* drop_journal_error = nullptr;
  daemon::Counter* drop_journal_stalled = nullptr;
  daemon::Counter* drop_outbox_stalled = nullptr;
  daemon::Counter* outbox_append_errors = nullptr;
  daemon::Counter* redelivered = nullptr;
  // edgesketch_agent_config_reloads_total{result}
  daemon::Counter* reloads_applied = nullptr;
  daemon::Counter* reloads_rejected = nullptr;
  daemon::Counter* replayed_records = nullptr;
  daemon::Counter* replay_unparsable = nullptr;
  daemon::Counter* self_samples = nullptr;
  daemon::Counter* self_records = nullptr;
};

// The daemon's state. Which thread owns what is said per member; the input threads run sink(),
// the aggregator thread run_aggregator(), the main thread create(), start(), stop() and reloads.
struct AgentApp::Impl {
  explicit Impl(const Clock& c) : clock(c) {}
  // Monotonic milliseconds of `clock`: retry and sync intervals, the watchdog beat.
  std::int64_t mono_ms() const { return clock.monotonic_ns() / 1'000'000; }

  AgentConfig config;
  const Clock& clock;
  daemon::MetricsRegistry metrics;
  AgentCounters counters;  // in `metrics`
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Aggregator> aggregator;  // the aggregator thread's (create() before it runs)
  std::unique_ptr<Forwarder> forwarder;
  std::vector<std::unique_ptr<InputPipe>> inputs;
  std::unique_ptr<daemon::MetricsServer> metrics_server;
  std::thread aggregator_thread;
  RateLimitedLog bad_payload_log{5'000};
  RateLimitedLog drop_log{5'000};
  RateLimitedLog redelivery_log{5'000};

  std::atomic<bool> inputs_stopping{false};  // push_blocking gives up (never set while draining)
  // Set when stop() begins: a sink waiting for the journal gives up, the aggregator drains the
  // rings even when the outbox is stalled.
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> aggregator_stop{false};
  std::atomic<std::int64_t> aggregator_beat_ms{0};
  bool started = false;
  bool stopped = false;
  // Set after the outbox refused a batch for good (too large): the journal is not trimmed any
  // more this run (what the batch held is replayed after a restart).
  bool trim_blocked = false;

  // Storage stalls: held data is retried until the component writes again (docs/agent.md).
  std::unique_ptr<StorageStall> journal_stall;
  std::unique_ptr<StorageStall> outbox_stall;
  std::int64_t journal_sync_retry_ms = 0;  // mono_ms(); the aggregator thread's
  // Closed batches not yet in the outbox, oldest first (the aggregator thread's).
  std::deque<HeldBatch> outbox_held;
  std::atomic<std::size_t> outbox_held_bytes{0};  // their HeldBatch::bytes (for the gauge too)
  std::atomic<std::size_t> outbox_held_count{0};
  std::int64_t outbox_retry_ms = 0;  // mono_ms()
  // The highest journal_upto the outbox committed (the journal is trimmed up to it), and how far
  // it was trimmed.
  std::uint64_t committed_upto = 0;
  std::uint64_t trimmed_upto = 0;
  // Set while outbox_held is full (in batches or bytes): the aggregator takes nothing from the
  // rings, MQTT sinks wait.
  std::atomic<bool> outbox_backpressure{false};

  // MQTT redeliveries of journaled payloads after a restart (redelivery_filter.h).
  RedeliveryFilter redelivery{clock};

  // Edge processing before the rules (process/edge_processor.h): the aggregator thread's; it
  // runs over every chunk from a ring and every replayed payload before Aggregator::add.
  std::unique_ptr<EdgeProcessor> processor;
  std::unique_ptr<EdgeMetrics> edge_metrics;
  // [privacy] drops or hashes tags: log lines about payloads name no topic and quote no parser
  // detail (either may hold a tag value).
  std::atomic<bool> withhold_payload_details{false};

  RuleHandoff rule_reload;                 // SIGHUP's rules and processing, to the aggregator
  std::atomic<std::size_t> rule_count{0};  // the aggregator's rules, for the gauge

  std::mutex agg_stats_mu;  // guards agg_stats (copied by the aggregator thread every ~500 ms)
  AggregatorStats agg_stats;

  // The self source ([self_metrics], window/self_metrics.h); both null when it is off. Owned by
  // the aggregator thread. Its aggregator holds only the built-in rule, so the [[rule]]s never
  // see a self reading, and its readings are not journaled (record number 0).
  std::unique_ptr<Aggregator> self_aggregator;
  std::unique_ptr<SelfMetrics> self_source;
  std::uint64_t outbox_dropped_at_start = 0;  // the outbox's drop counts persist across runs
  OutboxStats last_outbox;                    // kept for a sample when stats() fails
  std::atomic<std::uint64_t> payloads_bad{0};

  bool sink(InputPipe& in, std::string_view topic, ByteSpan payload, bool dup);
  // Counts (and logs, rate-limited) the items the input's parser skipped in its last payload.
  void count_skipped(InputPipe& in, std::string_view topic);
  // Parses, journals and pushes one payload. `may_journal` false: stop before the journal
  // (UDP datagrams queue behind held ones). MQTT waits for ring room and for the journal.
  Taken take(InputPipe& in, std::string_view topic, ByteSpan payload, std::int64_t received_ms,
             bool dup, bool may_journal);
  // UDP: holds the datagram just parsed into in.spare (or drops it, counted, when the hold is
  // full). Returns whether it was held.
  bool hold(InputPipe& in, std::string_view topic, ByteSpan payload, std::int64_t received_ms);
  // UDP: journals held datagrams, oldest first, when a retry is due (or `force`).
  void retry_held(InputPipe& in, bool force);
  Status replay();
  void run_aggregator();
  std::uint64_t drain_rings();
  // Takes the closed batches into outbox_held and stores what it can (`force`: now, whatever
  // the retry interval).
  void commit_closed(bool force = false);
  void commit_device_batches();
  void commit_self_batches();
  // Appends held batches in order until one fails (retried after kOutboxRetryMs) or none is
  // left; then trims the journal up to what is committed.
  void flush_outbox_held(bool force);
  void sync_journal(std::int64_t now);
  // Feeds a sample to the self aggregator when its interval slot has none yet (or `force`).
  void sample_self(bool force);
  SelfSample take_self_sample();
  void publish_stats();
  // False when the aggregator thread has not gone round its loop for 5 s.
  bool healthy() const;
  // Registers every metric of the daemon in `metrics` and sets `counters` (agent_metrics.cc).
  void register_metrics();
};

}  // namespace edgesketch::agent
