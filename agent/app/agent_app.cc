// The agent daemon's wiring: sinks on the input threads, the aggregator thread's loop, journal
// replay at start, the ordered shutdown, the self-metrics (/metrics) and the self source that
// ships them as series.
#include "app/agent_app.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/timex.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <xxhash.h>

#include "app/storage_stall.h"
#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/daemon/daemon.h"
#include "edgesketch/daemon/metrics.h"
#include "forward/forwarder.h"
#include "input/mqtt_input.h"
#include "input/udp_input.h"
#include "journal/journal.h"
#include "outbox/outbox.h"
#include "ring/reading_ring.h"
#include "window/aggregator.h"
#include "window/close_marks.h"
#include "window/self_metrics.h"

namespace edgesketch::agent {
namespace {

using Steady = std::chrono::steady_clock;

// Redelivery filter (Impl::redelivery): how long after a start it applies and how many of the
// journal's newest payload records it knows. The broker redelivers at most its in-flight window
// of QoS 1 messages (mosquitto: 20 by default), the newest ones the agent received.
constexpr std::int64_t kRedeliveryWindowMs = 60'000;
constexpr std::uint64_t kRedeliveryTail = 4096;
// The receive time at the head of a kTimedPayloadRecord.
constexpr std::size_t kTimeBytes = sizeof(std::uint64_t);

// Storage stalls (StorageStall sites). The journal: its appends (segment starts included) and
// its fsyncs; the outbox: the aggregator's appends and the forwarder's calls (hand-outs, acks).
constexpr unsigned kJournalAppend = 0;
constexpr unsigned kJournalSync = 1;
constexpr unsigned kOutboxAppend = 0;
constexpr unsigned kOutboxForwarder = 1;
// While the journal cannot write, a UDP input (no backpressure) holds this many datagrams (or
// bytes) in memory and drops, counted as journal_stalled, beyond that.
constexpr std::size_t kUdpHoldPayloads = 4096;
constexpr std::size_t kUdpHoldBytes = 8u << 20;
// While the outbox cannot write, closed batches wait in memory; past this many the aggregator
// stops taking readings from the rings (backpressure: MQTT inputs wait, UDP inputs drop).
constexpr std::size_t kOutboxHoldBatches = 1024;
// Retry intervals of a stalled journal (input threads back off up to the max) and outbox.
constexpr std::int64_t kJournalRetryMinMs = 10;
constexpr std::int64_t kJournalRetryMaxMs = 200;
constexpr std::int64_t kOutboxRetryMs = 200;

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now().time_since_epoch())
      .count();
}

// STA_UNSYNC clear in the kernel's NTP state: some time daemon disciplines the clock.
bool clock_synced() {
  struct timex tx {};
  const int state = ::adjtimex(&tx);
  return state != -1 && state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t total = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      struct stat st {};
      const std::string path = dir + "/" + e->d_name;
      if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += st.st_size;
    }
    ::closedir(d);
  }
  return total;
}

// Logs at most one line per interval per call site; counts what it held back.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::int64_t interval_ms) : interval_ms_(interval_ms) {}
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    emit(spdlog::level::warn, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    emit(spdlog::level::info, f, std::forward<Args>(args)...);
  }

 private:
  template <typename... Args>
  void emit(spdlog::level::level_enum level, fmt::format_string<Args...> f, Args&&... args) {
    const std::int64_t now = steady_ms();
    std::int64_t last = last_ms_.load(std::memory_order_relaxed);
    if (now - last < interval_ms_ || !last_ms_.compare_exchange_strong(last, now)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::uint64_t held = suppressed_.exchange(0);
    std::string line = fmt::format(f, std::forward<Args>(args)...);
    if (held > 0) line += fmt::format(" ({} similar lines suppressed)", held);
    spdlog::log(level, "{}", line);
  }

  const std::int64_t interval_ms_;
  std::atomic<std::int64_t> last_ms_{-1'000'000'000};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace

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
  std::int64_t held_retry_ms = 0;          // steady; the next attempt to journal them
  daemon::Counter* accepted_payloads = nullptr;
  daemon::Counter* accepted_readings = nullptr;
};

struct AgentApp::Impl {
  AgentConfig config;
  SystemClock clock;
  daemon::MetricsRegistry metrics;
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
  std::int64_t journal_sync_retry_ms = 0;  // steady; the aggregator thread's
  // Closed batches not yet in the outbox, oldest first (the aggregator thread's).
  std::deque<HeldBatch> outbox_held;
  std::atomic<std::size_t> outbox_held_count{0};
  std::int64_t outbox_retry_ms = 0;  // steady
  // The highest journal_upto the outbox committed (the journal is trimmed up to it), and how far
  // it was trimmed.
  std::uint64_t committed_upto = 0;
  std::uint64_t trimmed_upto = 0;
  // Set while outbox_held is full: the aggregator takes nothing from the rings, MQTT sinks wait.
  std::atomic<bool> outbox_backpressure{false};

  // Redelivery filter. A kill -9 with unread input on the socket resets the connection, so
  // PUBACKs Paho had queued never reach the broker, which redelivers those messages after the
  // restart although they are journaled already (and perhaps committed in a window). The broker
  // marks every redelivery with the DUP flag (MQTT 3.1.1 [MQTT-3.3.1-1]; mosquitto sets it on
  // each message it sends again, the resend after a reconnect included, and keeps it in its
  // persistence file). Hashes (XXH3 of the journal record, seeded with its type) of the newest
  // kRedeliveryTail payload records in the journal -> copies; an MQTT message flagged DUP whose
  // payload matches one in the first kRedeliveryWindowMs after start is taken as that
  // redelivery and not journaled again, and uses that copy up. A message without DUP was never
  // delivered before and is always taken, however many identical payloads the journal holds.
  std::mutex redelivery_mu;  // guards redelivery
  std::unordered_map<std::uint64_t, std::uint32_t> redelivery;
  std::atomic<bool> redelivery_active{false};
  std::int64_t redelivery_until_ms = 0;  // steady; set before the inputs start
  daemon::Counter* redelivered = nullptr;

  std::mutex reload_mu;  // guards pending_rules, reload_result
  std::condition_variable reload_cv;
  std::optional<std::vector<RuleSpec>> pending_rules;
  std::optional<Status> reload_result;  // of the last rule set the aggregator took
  daemon::Counter* reloads_applied = nullptr;
  daemon::Counter* reloads_rejected = nullptr;
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
  daemon::Counter* self_samples = nullptr;
  daemon::Counter* self_records = nullptr;

  daemon::Counter* drop_ring_full = nullptr;
  daemon::Counter* drop_ring_timeout = nullptr;
  daemon::Counter* drop_journal_error = nullptr;
  daemon::Counter* drop_journal_stalled = nullptr;
  daemon::Counter* drop_outbox_stalled = nullptr;
  daemon::Counter* outbox_append_errors = nullptr;
  daemon::Counter* replayed_records = nullptr;
  daemon::Counter* replay_unparsable = nullptr;

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
  void register_metrics();
};

AgentApp::AgentApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentApp::~AgentApp() { stop(0); }

Result<std::unique_ptr<AgentApp>> AgentApp::create(AgentConfig config, AgentDeps deps) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  const AgentConfig& c = impl->config;
  if (::mkdir(c.agent.data_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::io_error("cannot create data_dir " + c.agent.data_dir + ": " +
                            std::strerror(errno));
  }

  OutboxOptions oo;
  oo.path = c.outbox.path;
  oo.max_bytes = c.outbox.max_bytes;
  oo.coarsen_levels = c.outbox.coarsen_ms;
  oo.resend_after_ms = c.uplink.resend_timeout_ms;  // == ForwarderOptions::ack_timeout_ms
  oo.zstd_level = c.uplink.zstd_level;
  oo.first_seq = 0;  // a random start: a replaced outbox file never reuses a sent seq
  oo.clock = &impl->clock;
  oo.env = deps.env;
  auto outbox = Outbox::open(oo);
  if (!outbox.ok()) {
    return Status(outbox.status().code(), "outbox " + oo.path + ": " + outbox.status().message());
  }
  impl->outbox = std::move(*outbox);
  auto ostats = impl->outbox->stats();
  if (!ostats.ok()) return ostats.status();

  JournalOptions jo;
  jo.dir = c.journal.dir;
  jo.segment_bytes = c.journal.segment_bytes;
  jo.sync_interval_ms = c.journal.fsync_interval_ms;
  jo.env = deps.env;
  // New records are numbered past everything the outbox refers to: journal_upto and the stored
  // close marks (a power loss can cut the journal's tail below a mark's fed_upto; a reused
  // number would put a new reading behind that mark's replay fence).
  auto marks_fed_upto = impl->outbox->close_marks_fed_upto();
  if (!marks_fed_upto.ok()) return marks_fed_upto.status();
  jo.min_next_record_no = std::max(ostats->journal_upto, *marks_fed_upto) + 1;
  auto journal = Journal::open(jo);
  if (!journal.ok()) {
    return Status(journal.status().code(), "journal " + jo.dir + ": " + journal.status().message());
  }
  impl->journal = std::move(*journal);
  impl->committed_upto = ostats->journal_upto;

  AggregatorOptions ao = aggregator_options(c);
  ao.clock = &impl->clock;
  auto aggregator = Aggregator::create(std::move(ao));
  if (!aggregator.ok()) return aggregator.status();
  impl->aggregator = std::move(*aggregator);
  impl->rule_count.store(impl->aggregator->rules().size());
  if (c.self_metrics.enabled) {
    AggregatorOptions so = self_aggregator_options(c);
    so.clock = &impl->clock;
    auto self_aggregator = Aggregator::create(std::move(so));
    if (!self_aggregator.ok()) return self_aggregator.status();
    impl->self_aggregator = std::move(*self_aggregator);
    impl->self_source =
        std::make_unique<SelfMetrics>(c.agent.gateway_id, c.self_metrics.interval_ms);
    for (const DropCounts& d : ostats->dropped) impl->outbox_dropped_at_start += d.readings;
    impl->last_outbox = *ostats;
  }

  ForwarderOptions fo;
  fo.tenant = c.agent.tenant;
  fo.gateway_id = c.agent.gateway_id;
  fo.mqtt.uri = c.uplink.broker;
  fo.mqtt.client_id = c.uplink.client_id;
  fo.mqtt.username = c.uplink.username;
  fo.mqtt.password = c.uplink.password;
  fo.mqtt.password_file = c.uplink.password_file;
  fo.mqtt.ca_file = c.uplink.tls_ca_file;
  fo.mqtt.cert_file = c.uplink.tls_cert_file;
  fo.mqtt.key_file = c.uplink.tls_key_file;
  fo.mqtt.backoff.min_ms = c.uplink.backoff_min_ms;
  fo.mqtt.backoff.max_ms = c.uplink.backoff_max_ms;
  fo.mqtt.name = "uplink";
  fo.ack_timeout_ms = c.uplink.resend_timeout_ms;
  fo.backlog_batches_per_s = c.uplink.backlog_rate_cap;
  fo.http_url = c.uplink.http_fallback_url;
  fo.http_token = c.uplink.http_fallback_token;
  auto forwarder = Forwarder::create(fo, impl->outbox.get(), &impl->clock);
  if (!forwarder.ok()) return forwarder.status();
  impl->forwarder = std::move(*forwarder);

  Impl* self = impl.get();
  for (const InputConfig& ic : c.inputs) {
    auto pipe = std::make_unique<InputPipe>();
    pipe->config = ic;
    pipe->parser = PayloadParser(parser_options(ic));
    pipe->ring = std::make_unique<ReadingRing>(ic.ring_capacity);
    InputPipe* p = pipe.get();
    InputSink sink = [self, p](std::string_view topic, ByteSpan payload, bool dup) {
      return self->sink(*p, topic, payload, dup);
    };
    if (ic.type == InputType::kMqtt) {
      MqttInputOptions mo;
      mo.name = ic.name;
      mo.uri = ic.broker;
      mo.client_id = ic.client_id;
      mo.topics = ic.topics;
      mo.qos = ic.qos;
      mo.username = ic.username;
      mo.password = ic.password;
      mo.ca_file = ic.tls_ca_file;
      mo.cert_file = ic.tls_cert_file;
      mo.key_file = ic.tls_key_file;
      auto in = MqttInput::create(mo, std::move(sink));
      if (!in.ok())
        return Status(in.status().code(), "input " + ic.name + ": " + in.status().message());
      pipe->mqtt = std::move(*in);
    } else {
      auto addr = daemon::parse_listen_address(ic.bind);
      if (!addr.ok()) return addr.status();
      UdpInputOptions uo;
      uo.name = ic.name;
      uo.bind_address = addr->first;
      uo.port = addr->second;
      uo.receive_buffer_bytes = static_cast<int>(ic.receive_buffer_bytes);
      auto in = UdpInput::create(uo, std::move(sink));
      if (!in.ok())
        return Status(in.status().code(), "input " + ic.name + ": " + in.status().message());
      pipe->udp = std::move(*in);
    }
    impl->inputs.push_back(std::move(pipe));
  }
  impl->register_metrics();
  ES_RETURN_IF_ERROR(impl->replay());
  return std::unique_ptr<AgentApp>(new AgentApp(std::move(impl)));
}

// --- input threads ----------------------------------------------------------------------------

bool AgentApp::Impl::sink(InputPipe& in, std::string_view topic, ByteSpan payload, bool dup) {
  const std::int64_t received_ms = clock.now_ms();
  if (in.config.type == InputType::kMqtt) {
    return take(in, topic, payload, received_ms, dup, /*may_journal=*/true) == Taken::kAccepted;
  }
  // UDP: datagrams keep their order behind the held ones.
  if (!in.held.empty()) retry_held(in, /*force=*/false);
  const bool behind_held = !in.held.empty();
  const Taken t = take(in, topic, payload, received_ms, false, /*may_journal=*/!behind_held);
  if (behind_held && t == Taken::kNoRoom) return hold(in, topic, payload, received_ms);
  switch (t) {
    case Taken::kAccepted:
      return true;
    case Taken::kRefused:
      return false;
    case Taken::kJournalFailed:
      return hold(in, topic, payload, received_ms);
    case Taken::kNoRoom: {
      const std::size_t n = in.spare->readings.size();
      if (outbox_backpressure.load(std::memory_order_relaxed)) {
        drop_outbox_stalled->inc(n);
        drop_log.warn(
            "input {}: ring full while the outbox is stalled, datagram of {} readings "
            "dropped",
            in.config.name, n);
      } else {
        drop_ring_full->inc(n);
        drop_log.warn("input {}: ring full, datagram of {} readings dropped", in.config.name, n);
      }
      return false;
    }
  }
  return false;
}

Taken AgentApp::Impl::take(InputPipe& in, std::string_view topic, ByteSpan payload,
                           std::int64_t received_ms, bool dup, bool may_journal) {
  if (!in.spare) in.spare = in.ring->acquire();
  ReadingChunk& chunk = *in.spare;
  chunk.readings.clear();
  Status parsed = in.parser.parse(in.config.format, payload, received_ms, chunk.readings, topic);
  count_skipped(in, topic);
  if (!parsed.ok()) {
    payloads_bad.fetch_add(1, std::memory_order_relaxed);
    const std::string reason(parse_error_reason(parsed));
    metrics
        .counter("edgesketch_agent_payloads_bad_total", "Payloads rejected by the parser",
                 {{"input", in.config.name}, {"reason", reason}})
        .inc();
    bad_payload_log.warn("input {}: bad payload on {}: {}", in.config.name, topic,
                         parsed.to_string());
    return Taken::kRefused;
  }
  const std::size_t n = chunk.readings.size();
  // A payload that holds nothing to count (json_fields of ignored strings only) has nothing to
  // keep either.
  if (n == 0) {
    in.accepted_payloads->inc();
    return Taken::kAccepted;
  }
  // One write() of the whole record: this is what makes the (already PUBACKed) message durable.
  const std::string& name = in.config.name;  // at most 64 bytes (config)
  const std::size_t topic_len = std::min<std::size_t>(topic.size(), 0xFFFF);
  in.record.resize(kTimeBytes + 1 + name.size() + 2 + topic_len + payload.size());
  const auto received = static_cast<std::uint64_t>(received_ms);  // little-endian, as put_u64
  std::memcpy(in.record.data(), &received, kTimeBytes);
  std::uint8_t* body = in.record.data() + kTimeBytes;  // what the redelivery filter hashes
  std::uint8_t* p = body;
  *p++ = static_cast<std::uint8_t>(name.size());
  p = std::copy(name.begin(), name.end(), p);
  *p++ = static_cast<std::uint8_t>(topic_len & 0xFF);
  *p++ = static_cast<std::uint8_t>(topic_len >> 8);
  p = std::copy_n(topic.begin(), topic_len, p);
  std::copy(payload.begin(), payload.end(), p);
  const std::size_t body_len = in.record.size() - kTimeBytes;
  // Only a message the broker flags as DUP can be a redelivery: one without the flag was never
  // delivered before, however many byte-identical payloads the journal holds (line protocol
  // without timestamps repeats byte for byte).
  if (dup && in.config.type == InputType::kMqtt &&
      redelivery_active.load(std::memory_order_relaxed)) {
    if (steady_ms() > redelivery_until_ms) {
      redelivery_active.store(false);
    } else {
      const std::uint64_t h =
          XXH3_64bits_withSeed(body, body_len, static_cast<std::uint64_t>(in.config.format));
      std::lock_guard lock(redelivery_mu);
      auto it = redelivery.find(h);
      if (it != redelivery.end()) {
        if (--it->second == 0) redelivery.erase(it);
        redelivered->inc();
        redelivery_log.info(
            "input {}: a redelivered payload on {} is journaled already, not counted again",
            in.config.name, topic);
        return Taken::kAccepted;  // journaled (and replayed) before the restart
      }
    }
  }
  // Room in the ring before the journal write: a payload dropped here was never journaled, so
  // a restart cannot replay what the counters report as dropped. Only this thread pushes, so
  // the room seen here is still there after the write.
  if (in.config.type == InputType::kUdp) {
    if (in.ring->fill() >= in.ring->capacity()) return Taken::kNoRoom;
  } else {
    // Bounded wait (keepalive / 2) so a stalled aggregator cannot cost the broker connection;
    // unbounded while the outbox is stalled (the broker queues for the session meanwhile).
    auto deadline = Steady::now() + std::chrono::seconds(15);
    while (in.ring->fill() >= in.ring->capacity() && Steady::now() < deadline &&
           !inputs_stopping.load(std::memory_order_relaxed)) {
      if (outbox_backpressure.load(std::memory_order_relaxed)) {
        deadline = Steady::now() + std::chrono::seconds(15);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (in.ring->fill() >= in.ring->capacity()) {
      drop_ring_timeout->inc(n);
      drop_log.warn("input {}: ring still full after 15 s, payload of {} readings dropped",
                    in.config.name, n);
      return Taken::kRefused;
    }
  }
  // The journal write. MQTT holds the payload and retries until the journal works again (Paho
  // reads nothing more meanwhile: the broker queues at QoS 1); UDP hands it back for the hold.
  const auto type =
      static_cast<std::uint8_t>(kTopicPayloadRecord | static_cast<std::uint8_t>(in.config.format));
  std::int64_t backoff_ms = kJournalRetryMinMs;
  for (;;) {
    if (may_journal && !journal_stall->failing(kJournalSync)) {
      std::lock_guard lock(in.unfed_mu);
      auto rec = journal->append(ByteSpan(in.record.data(), in.record.size()), type);
      if (rec.ok()) {
        chunk.record_no = *rec;
        in.unfed.push_back(*rec);
        journal_stall->cleared(kJournalAppend);
        break;
      }
      journal_stall->failed(kJournalAppend, rec.status());
    }
    if (in.config.type == InputType::kUdp) return Taken::kJournalFailed;
    if (shutting_down.load(std::memory_order_relaxed)) {
      // Shutting down with a journal that still cannot write: the payload cannot be kept.
      drop_journal_error->inc(n);
      spdlog::error(
          "input {}: stopping while the journal cannot write; payload of {} readings "
          "dropped",
          in.config.name, n);
      return Taken::kRefused;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, kJournalRetryMaxMs);
  }
  // Journaled, so it must be fed: with the room seen above this returns at once.
  static const std::atomic<bool> kNeverStop{false};
  (void)in.ring->push_blocking(std::move(in.spare), kNeverStop);
  in.accepted_payloads->inc();
  in.accepted_readings->inc(n);
  return Taken::kAccepted;
}

void AgentApp::Impl::count_skipped(InputPipe& in, std::string_view topic) {
  const SkippedItems& skipped = in.parser.skipped();
  if (skipped.empty()) return;
  for (const SkippedItems::Count& c : skipped.by_reason()) {
    auto it = std::find_if(in.skipped_counters.begin(), in.skipped_counters.end(),
                           [&](const auto& e) { return e.first == c.reason; });
    if (it == in.skipped_counters.end()) {
      daemon::Counter* counter = &metrics.counter(
          "edgesketch_agent_payload_items_skipped_total",
          "Lines (line protocol) or leaves (json_fields) the parser skipped, the rest of their "
          "payload taken",
          {{"input", in.config.name}, {"reason", std::string(c.reason)}});
      it = in.skipped_counters.insert(in.skipped_counters.end(), {c.reason, counter});
    }
    it->second->inc(c.items);
  }
  bad_payload_log.warn("input {}: {} item(s) of a payload on {} skipped; the first: {}",
                       in.config.name, skipped.total(), topic, skipped.first().to_string());
}

bool AgentApp::Impl::hold(InputPipe& in, std::string_view topic, ByteSpan payload,
                          std::int64_t received_ms) {
  const std::size_t n = in.spare->readings.size();
  if (in.held.size() >= kUdpHoldPayloads || in.held_bytes + payload.size() > kUdpHoldBytes) {
    drop_journal_stalled->inc(n);
    drop_log.warn(
        "input {}: the journal cannot write and {} datagrams are held already; "
        "datagram of {} readings dropped",
        in.config.name, in.held.size(), n);
    return false;
  }
  in.held.push_back(
      HeldPayload{std::string(topic), Bytes(payload.begin(), payload.end()), received_ms, n});
  in.held_bytes += payload.size();
  in.held_count.store(in.held.size(), std::memory_order_relaxed);
  return true;
}

void AgentApp::Impl::retry_held(InputPipe& in, bool force) {
  const std::int64_t now = steady_ms();
  if (!force && now < in.held_retry_ms) return;
  while (!in.held.empty()) {
    HeldPayload& h = in.held.front();
    const Taken t = take(in, h.topic, ByteSpan(h.payload), h.received_ms, false, true);
    if (t == Taken::kJournalFailed || t == Taken::kNoRoom) {
      in.held_retry_ms = now + kJournalRetryMaxMs;
      break;
    }
    in.held_bytes -= h.payload.size();
    in.held.pop_front();  // accepted (or, parsed once already, never refused)
  }
  in.held_count.store(in.held.size(), std::memory_order_relaxed);
}

// --- aggregator thread -----------------------------------------------------------------------

Status AgentApp::Impl::replay() {
  auto ostats = outbox->stats();
  if (!ostats.ok()) return ostats.status();
  const std::uint64_t from = ostats->journal_upto + 1;
  std::vector<CloseMark> marks;
  std::uint64_t bad_marks = 0;
  auto add_marks = [&](ByteSpan bytes) {
    auto decoded = decode_close_marks(bytes);
    if (!decoded.ok()) {
      ++bad_marks;
      return;
    }
    marks.insert(marks.end(), decoded->begin(), decoded->end());
  };
  auto stored = outbox->close_marks();
  if (!stored.ok()) return stored.status();
  for (const Bytes& b : *stored) add_marks(ByteSpan(b));
  // Journals written before the marks moved into the outbox hold them as records of their own.
  auto first = journal->replay(from, [&](std::uint64_t, std::uint8_t type, ByteSpan payload) {
    if (type == kCloseMarksRecord) add_marks(payload);
  });
  if (!first.ok()) return first.status();
  aggregator->set_replay_fence(marks);
  PayloadParser parser;  // records of earlier versions, and of inputs no longer configured
  ReadingBuffer buf;
  auto parser_of = [&](std::string_view input) -> PayloadParser& {
    for (auto& in : inputs) {
      if (in->config.name == input) return in->parser;  // the inputs do not run yet
    }
    return parser;
  };
  std::uint64_t payloads = 0, bad = 0;
  // Every payload record still in the journal is hashed for the redelivery filter (the newest
  // kRedeliveryTail of them: trim keeps at least those, committed or not, because a message
  // whose PUBACK was lost may already be in a committed window); only those past the outbox's
  // journal_upto are fed to the windows.
  std::deque<std::uint64_t> recent;
  auto second =
      journal->replay(0, [&](std::uint64_t record_no, std::uint8_t type, ByteSpan payload) {
        // Earlier versions wrote nanopb, json and line only, first as the bare format.
        constexpr auto kLastEarlier = static_cast<std::uint8_t>(PayloadFormat::kLine);
        constexpr auto kLast = static_cast<std::uint8_t>(PayloadFormat::kValue);
        const std::uint8_t kind = type & static_cast<std::uint8_t>(~kRecordFormatMask);
        const auto format = static_cast<std::uint8_t>(type & kRecordFormatMask);
        const bool with_topic = kind == kTopicPayloadRecord && format <= kLast;
        const bool timed = kind == kTimedPayloadRecord && format <= kLastEarlier;
        if (!with_topic && !timed && type > kLastEarlier) {
          return;  // close marks (earlier versions) and anything unknown
        }
        std::int64_t received_ms = 0;  // 0: an untimed record of an earlier version
        if (with_topic || timed) {
          ByteReader r(payload);
          received_ms = static_cast<std::int64_t>(r.u64());
          if (!r.ok()) {
            if (record_no >= from) ++bad;
            return;
          }
          payload = payload.subspan(kTimeBytes);
        }
        if (payload.empty()) return;
        recent.push_back(XXH3_64bits_withSeed(payload.data(), payload.size(), format));
        if (recent.size() > kRedeliveryTail) recent.pop_front();
        if (record_no < from) return;
        const auto as_text = [](ByteSpan b) {
          return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
        };
        ByteReader r(payload);
        std::string_view input, topic_or_device;
        if (with_topic) {
          input = as_text(r.bytes(r.u8()));
          topic_or_device = as_text(r.bytes(r.u16()));
        } else {
          topic_or_device = as_text(r.bytes(r.u8()));
        }
        if (!r.ok()) {
          ++bad;
          return;
        }
        const ByteSpan body = payload.subspan(payload.size() - r.remaining());
        const std::int64_t now = received_ms > 0 ? received_ms : clock.now_ms();
        buf.clear();
        Status s;
        if (with_topic) {
          s = parser_of(input).parse(static_cast<PayloadFormat>(format), body, now, buf,
                                     topic_or_device);
        } else {
          TopicFields fields;
          fields.device = topic_or_device;
          s = parser.parse_resolved(static_cast<PayloadFormat>(format), body, now, buf, fields);
        }
        if (!s.ok()) {
          ++bad;
          return;
        }
        aggregator->add(buf.view(), record_no);
        ++payloads;
      });
  if (!second.ok()) return second.status();
  aggregator->clear_replay_fence();
  for (std::uint64_t h : recent) ++redelivery[h];
  replayed_records->inc(payloads);
  replay_unparsable->inc(bad);
  spdlog::info(
      "journal replay from record {}: {} payloads, {} close marks ({} bad marks "
      "records, {} unparsable payloads), {} corrupt segments, {} torn records",
      from, payloads, marks.size(), bad_marks, bad, second->corrupt_segments,
      second->torn_tail_records);
  commit_closed();
  return Status();
}

std::uint64_t AgentApp::Impl::drain_rings() {
  std::uint64_t chunks = 0;
  for (auto& in : inputs) {
    // Bounded per round so poll() and commits keep their pace under load.
    for (int i = 0; i < 256; ++i) {
      std::unique_ptr<ReadingChunk> chunk = in->ring->pop();
      if (!chunk) break;
      aggregator->add(chunk->readings.view(), chunk->record_no);
      {
        std::lock_guard lock(in->unfed_mu);
        if (!in->unfed.empty()) in->unfed.pop_front();
      }
      in->ring->release(std::move(chunk));
      ++chunks;
    }
  }
  return chunks;
}

void AgentApp::Impl::commit_closed(bool force) {
  if (aggregator->has_pending()) commit_device_batches();
  if (self_aggregator && self_aggregator->has_pending()) commit_self_batches();
  flush_outbox_held(force);
}

void AgentApp::Impl::commit_device_batches() {
  ClosedBatches closed = aggregator->take_batches();
  std::uint64_t upto = closed.journal_upto;
  for (auto& in : inputs) {
    std::lock_guard lock(in->unfed_mu);
    if (!in->unfed.empty()) upto = std::min(upto, in->unfed.front() - 1);
  }
  if (closed.batches.empty()) {
    // Nothing new to store, but the position may move: with the batches still held, once they
    // are stored (they hold every window fed so far).
    if (!outbox_held.empty()) {
      outbox_held.back().journal_upto = std::max(outbox_held.back().journal_upto, upto);
    } else {
      committed_upto = std::max(committed_upto, upto);
    }
  }
  for (std::size_t i = 0; i < closed.batches.size(); ++i) {
    HeldBatch h;
    h.batch = std::move(closed.batches[i]);
    // The batch's close marks commit with it (one transaction): no crash can separate them.
    if (!closed.marks[i].empty()) {
      h.marks.bytes = encode_close_marks(closed.marks[i]);
      for (const CloseMark& mk : closed.marks[i])
        h.marks.fed_upto = std::max(h.marks.fed_upto, mk.fed_upto);
    }
    // The journal position goes with the round's last batch only: batches are stored in order,
    // so when it is stored, every window fed up to `upto` is.
    if (i + 1 == closed.batches.size()) h.journal_upto = upto;
    outbox_held.push_back(std::move(h));
  }
  outbox_held_count.store(outbox_held.size(), std::memory_order_relaxed);
}

// Self batches carry no journal position and no close marks: nothing of them is in the journal.
void AgentApp::Impl::commit_self_batches() {
  ClosedBatches closed = self_aggregator->take_batches();
  for (wire::WindowBatch& batch : closed.batches) {
    HeldBatch h;
    h.batch = std::move(batch);
    h.self = true;
    outbox_held.push_back(std::move(h));
  }
  outbox_held_count.store(outbox_held.size(), std::memory_order_relaxed);
}

void AgentApp::Impl::flush_outbox_held(bool force) {
  const std::int64_t now = steady_ms();
  if (!outbox_held.empty() && (force || now >= outbox_retry_ms)) {
    while (!outbox_held.empty()) {
      HeldBatch& h = outbox_held.front();
      const std::size_t records = h.batch.records.size();
      const Lane lane = Lane::kLive;
      auto seq = outbox->append_in_place(h.batch, h.journal_upto, lane, h.marks);
      if (!seq.ok() && seq.status().code() != StatusCode::kInvalidArgument) {
        // A full disk, an I/O or fsync error: the batch stays first in line and is retried.
        outbox_append_errors->inc();
        outbox_stall->failed(kOutboxAppend, seq.status());
        outbox_retry_ms = now + kOutboxRetryMs;
        break;
      }
      if (!seq.ok()) {
        // Refused for good (too large for the outbox): counted and logged. A device batch's
        // readings stay in the journal, which is not trimmed any more this run, so a restart
        // replays them.
        outbox_append_errors->inc();
        if (!h.self) trim_blocked = true;
        spdlog::error("outbox refused a batch of {} records: {}", records,
                      seq.status().to_string());
      } else {
        outbox_stall->cleared(kOutboxAppend);
        if (h.self) self_records->inc(records);
        committed_upto = std::max(committed_upto, h.journal_upto);
      }
      outbox_held.pop_front();
      forwarder->wake();
    }
    outbox_held_count.store(outbox_held.size(), std::memory_order_relaxed);
  }
  outbox_backpressure.store(outbox_held.size() >= kOutboxHoldBatches, std::memory_order_relaxed);
  // The newest kRedeliveryTail records stay for the redelivery filter of the next start.
  const std::uint64_t next = journal->stats().next_record_no;
  const std::uint64_t upto =
      std::min(committed_upto, next > kRedeliveryTail ? next - kRedeliveryTail : 0);
  if (upto > trimmed_upto && !trim_blocked) {
    auto trimmed = journal->trim(upto);
    if (trimmed.ok()) {
      trimmed_upto = upto;
    } else {
      drop_log.warn("journal trim failed (retried): {}", trimmed.status().to_string());
    }
  }
}

void AgentApp::Impl::sync_journal(std::int64_t now) {
  if (journal_stall->failing(kJournalSync)) {
    // Appends wait while the fsync fails: retry it until it works.
    if (now < journal_sync_retry_ms) return;
    Status s = journal->sync();
    if (s.ok()) {
      journal_stall->cleared(kJournalSync);
    } else {
      journal_stall->failed(kJournalSync, s);
      journal_sync_retry_ms = now + kJournalRetryMaxMs;
    }
    return;
  }
  Status s = journal->maybe_sync(now);
  if (!s.ok()) {
    journal_stall->failed(kJournalSync, s);
    journal_sync_retry_ms = now + kJournalRetryMaxMs;
  }
}

SelfSample AgentApp::Impl::take_self_sample() {
  SelfSample s;
  const AggregatorStats a = aggregator->stats();
  s.open_windows = static_cast<double>(a.open_windows);
  s.open_series = static_cast<double>(a.open_series);
  s.readings_accepted = a.accepted;
  for (std::uint64_t r : a.rejected) s.readings_rejected += r;
  s.windows_closed = a.windows_closed;
  s.readings_dropped = drop_ring_full->value() + drop_ring_timeout->value() +
                       drop_journal_error->value() + drop_journal_stalled->value() +
                       drop_outbox_stalled->value();
  s.payloads_bad = payloads_bad.load(std::memory_order_relaxed);
  auto ost = outbox->stats();
  if (ost.ok()) {
    last_outbox = std::move(*ost);
  } else {
    drop_log.warn("self-metrics: outbox stats failed, sampling the last ones: {}",
                  ost.status().to_string());
  }
  const OutboxStats& o = last_outbox;
  s.outbox_rows = static_cast<double>(o.rows);
  s.outbox_bytes = static_cast<double>(o.bytes);
  s.outbox_oldest_age_seconds =
      o.oldest_created_ms == 0
          ? 0.0
          : std::max<std::int64_t>(0, clock.now_ms() - o.oldest_created_ms) / 1000.0;
  s.unacked_batches = static_cast<double>(o.in_flight);
  std::uint64_t dropped = 0;
  for (const DropCounts& d : o.dropped) dropped += d.readings;
  s.outbox_dropped_readings =
      dropped >= outbox_dropped_at_start ? dropped - outbox_dropped_at_start : 0;
  s.uplink_state = static_cast<double>(static_cast<int>(forwarder->stats().state));
  return s;
}

void AgentApp::Impl::sample_self(bool force) {
  if (!self_source) return;
  const std::int64_t now = clock.now_ms();
  if (force || self_source->due(now)) {
    self_aggregator->add(self_source->sample(take_self_sample(), now));
    self_samples->inc();
  }
  self_aggregator->poll();
}

void AgentApp::Impl::publish_stats() {
  AggregatorStats s = aggregator->stats();
  std::lock_guard lock(agg_stats_mu);
  agg_stats = s;
}

void AgentApp::Impl::run_aggregator() {
  std::int64_t last_poll = steady_ms();
  std::int64_t last_stats = 0;
  while (!aggregator_stop.load(std::memory_order_acquire)) {
    const std::int64_t now = steady_ms();
    aggregator_beat_ms.store(now, std::memory_order_relaxed);
    // Backpressure while the outbox holds too many batches: the rings fill, MQTT sinks wait.
    const bool hold_back = outbox_backpressure.load(std::memory_order_relaxed) &&
                           !shutting_down.load(std::memory_order_relaxed);
    const std::uint64_t chunks = hold_back ? 0 : drain_rings();
    {
      std::lock_guard lock(reload_mu);
      if (pending_rules) {
        Status s = aggregator->reload_rules(std::move(*pending_rules));
        pending_rules.reset();
        if (s.ok()) {
          reloads_applied->inc();
          rule_count.store(aggregator->rules().size(), std::memory_order_relaxed);
        } else {
          reloads_rejected->inc();
        }
        reload_result = std::move(s);
        reload_cv.notify_all();
      }
    }
    if (now - last_poll >= 100) {
      aggregator->poll();
      sample_self(false);
      last_poll = now;
      // The forwarder's outbox calls count towards the outbox's stall too.
      if (forwarder->stats().outbox_failing) {
        outbox_stall->failed(kOutboxForwarder,
                             Status::io_error("the forwarder's outbox calls fail (see its log)"));
      } else {
        outbox_stall->cleared(kOutboxForwarder);
      }
    }
    commit_closed();
    sync_journal(now);
    if (now - last_stats >= 500) {
      publish_stats();
      last_stats = now;
    }
    if (chunks == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Shutdown: the inputs are stopped; take what the rings still hold and close every window.
  while (drain_rings() > 0) {
  }
  aggregator->flush_all();
  commit_closed(true);
  // A last sample after the flush, so the self series' counter increases add up to this run's
  // totals (the device windows just flushed included).
  if (self_source) {
    sample_self(true);
    self_aggregator->flush_all();
    commit_closed(true);
  }
  if (!outbox_held.empty()) {
    spdlog::error(
        "stopping with {} batches the outbox could not store; the journal keeps their readings "
        "and the next start replays them",
        outbox_held.size());
  }
  Status s = journal->sync();
  if (!s.ok()) spdlog::error("final journal sync failed: {}", s.to_string());
  publish_stats();
}

// --- control ---------------------------------------------------------------------------------

Status AgentApp::start() {
  Impl& m = *impl_;
  if (!m.config.metrics.listen.empty()) {
    auto server =
        daemon::MetricsServer::start(m.config.metrics.listen, [this] { return render_metrics(); });
    if (!server.ok()) return server.status();
    m.metrics_server = std::move(*server);
  }
  m.aggregator_beat_ms.store(steady_ms());
  m.redelivery_until_ms = steady_ms() + kRedeliveryWindowMs;
  m.redelivery_active.store(!m.redelivery.empty());
  m.aggregator_thread = std::thread([&m] { m.run_aggregator(); });
  m.forwarder->start();
  for (auto& in : m.inputs) {
    if (in->mqtt) in->mqtt->start();
    if (in->udp) in->udp->start();
  }
  m.started = true;
  return Status();
}

Status AgentApp::reload_rules(std::vector<RuleSpec> rules, std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  std::unique_lock lock(m.reload_mu);
  m.pending_rules = std::move(rules);
  m.reload_result.reset();
  if (!m.reload_cv.wait_for(lock, timeout, [&] { return m.reload_result.has_value(); })) {
    return Status::unavailable(
        "the aggregator has not taken the new rules yet; they apply when "
        "it does");
  }
  return *m.reload_result;
}

void AgentApp::reload_rejected() { impl_->reloads_rejected->inc(); }

void AgentApp::stop(int forward_grace_ms) {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  if (!m.started) return;
  // The aggregator keeps draining while the inputs stop, so a sink blocked on a full ring
  // returns and Paho's thread can be joined.
  m.shutting_down.store(true);
  for (auto& in : m.inputs) {
    if (in->mqtt) in->mqtt->stop();
    if (in->udp) in->udp->stop();
  }
  // Datagrams held for the journal: a last chance (bounded) to journal them, else counted.
  for (auto& in : m.inputs) {
    const auto until = Steady::now() + std::chrono::seconds(2);
    while (!in->held.empty() && Steady::now() < until) {
      m.retry_held(*in, /*force=*/true);
      if (!in->held.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (in->held.empty()) continue;
    std::uint64_t readings = 0;
    for (const HeldPayload& h : in->held) readings += h.readings;
    m.drop_journal_stalled->inc(readings);
    spdlog::error(
        "input {}: stopping while the journal cannot write; {} held datagrams ({} "
        "readings) dropped",
        in->config.name, in->held.size(), readings);
    in->held.clear();
    in->held_count.store(0);
  }
  m.inputs_stopping.store(true);
  m.aggregator_stop.store(true, std::memory_order_release);
  if (m.aggregator_thread.joinable()) m.aggregator_thread.join();
  // Give the forwarder a moment to ship the flushed windows; they are durable either way.
  const auto deadline = Steady::now() + std::chrono::milliseconds(forward_grace_ms);
  m.forwarder->wake();
  while (Steady::now() < deadline) {
    auto st = m.outbox->stats();
    if (!st.ok() || st->rows == 0 || m.forwarder->stats().state == UplinkState::kDisconnected) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  m.forwarder->stop();
  if (m.metrics_server) m.metrics_server->stop();
}

bool AgentApp::healthy() const {
  return steady_ms() - impl_->aggregator_beat_ms.load(std::memory_order_relaxed) < 5'000;
}

int AgentApp::metrics_port() const {
  return impl_->metrics_server ? impl_->metrics_server->port() : 0;
}

std::string AgentApp::render_metrics() const { return impl_->metrics.render(); }

// --- metrics ---------------------------------------------------------------------------------

void AgentApp::Impl::register_metrics() {
  daemon::MetricsRegistry& m = metrics;
  auto dropped = [&](const char* reason) {
    return &m.counter("edgesketch_agent_dropped_readings_total",
                      "Readings the agent dropped, by reason", {{"reason", reason}});
  };
  drop_ring_full = dropped("ring_full");
  drop_ring_timeout = dropped("ring_timeout");
  drop_journal_error = dropped("journal_error");
  drop_journal_stalled = dropped("journal_stalled");
  drop_outbox_stalled = dropped("outbox_stalled");
  journal_stall = std::make_unique<StorageStall>("journal", m);
  outbox_stall = std::make_unique<StorageStall>("outbox", m);
  m.gauge_fn("edgesketch_agent_outbox_held_batches",
             "Closed batches waiting in memory for the outbox to write again", {},
             [this] { return static_cast<double>(outbox_held_count.load()); });
  outbox_append_errors = &m.counter("edgesketch_agent_outbox_append_errors_total",
                                    "Batches the outbox failed to store");
  redelivered = &m.counter("edgesketch_agent_redelivered_payloads_total",
                           "MQTT payloads redelivered after a restart and already journaled");
  const std::string reloads_help = "SIGHUP reloads of the rules, by result";
  reloads_applied =
      &m.counter("edgesketch_agent_config_reloads_total", reloads_help, {{"result", "applied"}});
  reloads_rejected =
      &m.counter("edgesketch_agent_config_reloads_total", reloads_help, {{"result", "rejected"}});
  m.gauge_fn("edgesketch_agent_rules", "Rules the aggregator applies", {},
             [this] { return static_cast<double>(rule_count.load(std::memory_order_relaxed)); });
  replayed_records =
      &m.counter("edgesketch_agent_journal_replayed_total", "Journal payloads replayed at start");
  replay_unparsable =
      &m.counter("edgesketch_agent_journal_replay_unparsable_total",
                 "Journal payloads replay could not parse (their readings are not counted)");
  self_samples = &m.counter("edgesketch_agent_self_samples_total",
                            "Samples of the agent's own health fed to the self-metrics rule");
  self_records = &m.counter("edgesketch_agent_self_records_total",
                            "Self-metrics window records appended to the outbox");

  for (auto& inp : inputs) {
    InputPipe* in = inp.get();
    const daemon::Labels l = {{"input", in->config.name}};
    in->accepted_payloads =
        &m.counter("edgesketch_agent_payloads_accepted_total", "Payloads parsed and journaled", l);
    in->accepted_readings =
        &m.counter("edgesketch_agent_input_readings_total", "Readings of accepted payloads", l);
    m.gauge_fn("edgesketch_agent_ring_fill", "Chunks waiting in the input's ring", l,
               [in] { return static_cast<double>(in->ring->fill()); });
    m.gauge_fn("edgesketch_agent_ring_capacity", "Capacity of the input's ring", l,
               [in] { return static_cast<double>(in->ring->capacity()); });
    if (in->udp) {
      m.gauge_fn("edgesketch_agent_input_held_payloads",
                 "Datagrams held in memory while the journal cannot write", l,
                 [in] { return static_cast<double>(in->held_count.load()); });
    }
    if (in->mqtt) {
      m.gauge_fn("edgesketch_agent_input_connected", "1 while the MQTT input is connected", l,
                 [in] { return in->mqtt->stats().connected ? 1.0 : 0.0; });
      m.counter_fn("edgesketch_agent_input_messages_total", "Messages the input received", l,
                   [in] { return static_cast<double>(in->mqtt->stats().received); });
      m.counter_fn("edgesketch_agent_payloads_oversize_total",
                   "Payloads above the input's size limit, dropped unparsed", l,
                   [in] { return static_cast<double>(in->mqtt->stats().oversize); });
    } else {
      m.counter_fn("edgesketch_agent_input_messages_total", "Messages the input received", l,
                   [in] { return static_cast<double>(in->udp->stats().received); });
      m.counter_fn("edgesketch_agent_payloads_oversize_total",
                   "Payloads above the input's size limit, dropped unparsed", l,
                   [in] { return static_cast<double>(in->udp->stats().oversize); });
      m.counter_fn("edgesketch_agent_udp_socket_drops_total",
                   "Datagrams the kernel dropped at the input's socket (receive buffer full)", l,
                   [in] { return static_cast<double>(in->udp->stats().socket_drops); });
      m.gauge_fn("edgesketch_agent_udp_receive_buffer_bytes",
                 "The input socket's receive buffer as the kernel granted it", l,
                 [in] { return static_cast<double>(in->udp->receive_buffer_effective()); });
    }
  }

  auto agg = [this](auto field) {
    return [this, field]() -> double {
      std::lock_guard lock(agg_stats_mu);
      return static_cast<double>(field(agg_stats));
    };
  };
  using A = AggregatorStats;
  m.counter_fn("edgesketch_agent_readings_accepted_total",
               "Readings that passed clock sanity and matched a rule", {},
               agg([](const A& s) { return s.accepted; }));
  m.counter_fn("edgesketch_agent_readings_unmatched_total", "Readings no rule matched", {},
               agg([](const A& s) { return s.unmatched; }));
  for (std::size_t r = 0; r < kRejectReasons; ++r) {
    m.counter_fn("edgesketch_agent_readings_rejected_total", "Readings rejected, by reason",
                 {{"reason", std::string(reject_reason_name(static_cast<RejectReason>(r)))}},
                 agg([r](const A& s) { return s.rejected[r]; }));
  }
  m.counter_fn("edgesketch_agent_late_readings_total", "Readings that went into delta windows", {},
               agg([](const A& s) { return s.late_readings; }));
  m.counter_fn("edgesketch_agent_windows_closed_total", "Window records produced", {},
               agg([](const A& s) { return s.windows_closed; }));
  m.counter_fn("edgesketch_agent_replay_skipped_total",
               "Readings the replay fence kept out (already committed)", {},
               agg([](const A& s) { return s.replay_skipped; }));
  m.gauge_fn("edgesketch_agent_open_series", "Series the aggregator knows", {},
             agg([](const A& s) { return s.open_series; }));
  m.gauge_fn("edgesketch_agent_open_windows", "Windows open", {},
             agg([](const A& s) { return s.open_windows; }));

  // Outbox and journal figures cost a query / a directory walk: read at most every 500 ms.
  struct Cached {
    std::mutex mu;
    Steady::time_point at{};
    OutboxStats outbox;
    std::uint64_t journal_disk_bytes = 0;
  };
  auto cached = std::make_shared<Cached>();
  auto ob = [this, cached](auto field) {
    return [this, cached, field]() -> double {
      std::lock_guard lock(cached->mu);
      if (Steady::now() - cached->at > std::chrono::milliseconds(500)) {
        auto st = outbox->stats();
        if (st.ok()) cached->outbox = std::move(*st);
        cached->journal_disk_bytes = dir_bytes(config.journal.dir);
        cached->at = Steady::now();
      }
      return static_cast<double>(field(*cached));
    };
  };
  m.gauge_fn("edgesketch_agent_outbox_bytes", "Payload bytes in the outbox", {},
             ob([](const Cached& c) { return c.outbox.bytes; }));
  m.gauge_fn("edgesketch_agent_outbox_rows", "Batches in the outbox (not yet acked)", {},
             ob([](const Cached& c) { return c.outbox.rows; }));
  m.gauge_fn("edgesketch_agent_outbox_oldest_age_seconds", "Age of the oldest outbox batch", {},
             ob([this](const Cached& c) {
               return c.outbox.oldest_created_ms == 0
                          ? 0.0
                          : (clock.now_ms() - c.outbox.oldest_created_ms) / 1000.0;
             }));
  m.gauge_fn("edgesketch_agent_unacked_batches", "Batches handed out and not yet acked", {},
             ob([](const Cached& c) { return c.outbox.in_flight; }));
  for (std::size_t r = 0; r < kDropReasons; ++r) {
    m.counter_fn("edgesketch_agent_outbox_dropped_readings_total",
                 "Readings the outbox dropped, by reason",
                 {{"reason", std::string(drop_reason_name(static_cast<DropReason>(r)))}},
                 ob([r](const Cached& c) { return c.outbox.dropped[r].readings; }));
  }
  m.counter_fn("edgesketch_agent_outbox_coarsened_batches_total",
               "Batches replaced by coarser ones", {},
               ob([](const Cached& c) { return c.outbox.coarsened_batches; }));
  m.gauge_fn("edgesketch_agent_journal_bytes", "Bytes of the journal's segment files", {},
             ob([](const Cached& c) { return c.journal_disk_bytes; }));
  m.counter_fn("edgesketch_agent_journal_records_total", "Journal records appended", {},
               [this] { return static_cast<double>(journal->stats().records); });

  auto fw = [this](auto field) {
    return [this, field]() -> double { return static_cast<double>(field(forwarder->stats())); };
  };
  using F = ForwarderStats;
  m.gauge_fn("edgesketch_agent_in_flight_batches", "Batches published and awaiting an ack", {},
             fw([](const F& s) { return s.in_flight; }));
  m.gauge_fn("edgesketch_agent_uplink_state", "0 disconnected, 1 MQTT connected, 2 HTTP fallback",
             {}, fw([](const F& s) { return static_cast<int>(s.state); }));
  m.counter_fn("edgesketch_agent_batches_published_total", "Batch publishes, resends included", {},
               fw([](const F& s) { return s.published; }));
  m.counter_fn("edgesketch_agent_batches_acked_total", "Batches acked by the collector", {},
               fw([](const F& s) { return s.acked; }));
  m.counter_fn("edgesketch_agent_batches_rejected_total", "Batches the collector rejected", {},
               fw([](const F& s) { return s.rejected; }));
  m.gauge_fn("edgesketch_agent_clock_synced",
             "1 when the kernel reports the clock synchronised (STA_UNSYNC clear)", {},
             [] { return clock_synced() ? 1.0 : 0.0; });
  m.gauge_fn("edgesketch_agent_healthy", "1 while the aggregator thread runs its loop", {}, [this] {
    return steady_ms() - aggregator_beat_ms.load(std::memory_order_relaxed) < 5'000 ? 1.0 : 0.0;
  });
}

}  // namespace edgesketch::agent
