// The agent daemon's wiring: sinks on the input threads, the aggregator thread's loop, journal
// replay at start, the ordered shutdown and the self source that ships the daemon's own health
// as series. The state is AgentApp::Impl (agent_app_impl.h); the metrics are agent_metrics.cc's.
#include "app/agent_app.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "app/agent_app_impl.h"
#include "journal/payload_record.h"

namespace edgesketch::agent {
namespace {

using Steady = std::chrono::steady_clock;

static_assert(kMaxPayloadRecordFormat == static_cast<std::uint8_t>(PayloadFormat::kValue),
              "journal payload records name every PayloadFormat");

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
// While the outbox cannot write, closed batches wait in memory; past this many (or this much
// memory: a batch of 2,000 records with their sketches holds a megabyte or more) the aggregator
// stops taking readings from the rings (backpressure: MQTT inputs wait, UDP inputs drop).
constexpr std::size_t kOutboxHoldBatches = 1024;
constexpr std::size_t kOutboxHoldBytes = 16u << 20;
// Retry intervals of a stalled journal (input threads back off up to the max) and outbox.
constexpr std::int64_t kJournalRetryMinMs = 10;
constexpr std::int64_t kJournalRetryMaxMs = 200;
constexpr std::int64_t kOutboxRetryMs = 200;

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace

AgentApp::AgentApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentApp::~AgentApp() { stop(0); }

Result<std::unique_ptr<AgentApp>> AgentApp::create(AgentConfig config, AgentDeps deps) {
  auto impl = std::make_unique<Impl>(deps.clock ? *deps.clock : system_clock());
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

  auto processor = EdgeProcessor::create(c.processing);
  if (!processor.ok()) return processor.status();
  impl->processor = std::move(*processor);
  impl->withhold_payload_details.store(impl->processor->hides_tags());

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
  fo.mqtt = c.uplink.mqtt;
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
    pipe->ring = std::make_unique<ReadingRing>(ic.ring_capacity, ic.ring_bytes);
    InputPipe* p = pipe.get();
    InputSink sink = [self, p](std::string_view topic, ByteSpan payload, bool dup) {
      return self->sink(*p, topic, payload, dup);
    };
    if (ic.type == InputType::kMqtt) {
      MqttInputOptions mo;
      mo.name = ic.name;
      mo.connection = ic.mqtt;
      mo.topics = ic.topics;
      mo.qos = ic.qos;
      mo.withhold_topics = &impl->withhold_payload_details;
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
        counters.drop_outbox_stalled->inc(n);
        drop_log.warn(
            "input {}: ring full while the outbox is stalled, datagram of {} readings "
            "dropped",
            in.config.name, n);
      } else {
        counters.drop_ring_full->inc(n);
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
    if (withhold_payload_details.load(std::memory_order_relaxed)) {
      bad_payload_log.warn("input {}: bad payload [{}] (topic and details withheld: [privacy])",
                           in.config.name, reason);
    } else {
      bad_payload_log.warn("input {}: bad payload on {}: {}", in.config.name, topic,
                           parsed.to_string());
    }
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
  const std::uint8_t type =
      encode_payload_record(static_cast<std::uint8_t>(in.config.format), received_ms,
                            in.config.name, topic, payload, in.record);
  const ByteSpan body = payload_record_body(in.record);  // what the redelivery filter hashes
  // Only a message the broker flags as DUP can be a redelivery: one without the flag was never
  // delivered before, however many byte-identical payloads the journal holds (line protocol
  // without timestamps repeats byte for byte).
  if (dup && in.config.type == InputType::kMqtt &&
      redelivery.take_redelivery(static_cast<std::uint8_t>(in.config.format), body)) {
    counters.redelivered->inc();
    redelivery_log.info(
        "input {}: a redelivered payload on {} is journaled already, not counted again",
        in.config.name,
        withhold_payload_details.load(std::memory_order_relaxed) ? "(withheld)" : topic);
    return Taken::kAccepted;  // journaled (and replayed) before the restart
  }
  // Room in the ring before the journal write: a payload dropped here was never journaled, so
  // a restart cannot replay what the counters report as dropped. Only this thread pushes, so
  // the room seen here is still there after the write.
  // The room is in slots and in bytes (ring_bytes).
  const std::size_t bytes = ReadingRing::chunk_bytes(chunk);
  if (in.config.type == InputType::kUdp) {
    if (!in.ring->has_room(bytes)) return Taken::kNoRoom;
  } else {
    // Bounded wait (keepalive / 2) so a stalled aggregator cannot cost the broker connection;
    // unbounded while the outbox is stalled (the broker queues for the session meanwhile).
    auto deadline = Steady::now() + std::chrono::seconds(15);
    while (!in.ring->has_room(bytes) && Steady::now() < deadline &&
           !inputs_stopping.load(std::memory_order_relaxed)) {
      if (outbox_backpressure.load(std::memory_order_relaxed)) {
        deadline = Steady::now() + std::chrono::seconds(15);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (!in.ring->has_room(bytes)) {
      counters.drop_ring_timeout->inc(n);
      drop_log.warn("input {}: ring still full after 15 s, payload of {} readings dropped",
                    in.config.name, n);
      return Taken::kRefused;
    }
  }
  // The journal write. MQTT holds the payload and retries until the journal works again (Paho
  // reads nothing more meanwhile: the broker queues at QoS 1); UDP hands it back for the hold.
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
      counters.drop_journal_error->inc(n);
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
  (void)in.ring->push_blocking(std::move(in.spare), kNeverStop, bytes);
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
  if (withhold_payload_details.load(std::memory_order_relaxed)) {
    bad_payload_log.warn(
        "input {}: {} item(s) of a payload skipped (topic and details withheld: "
        "[privacy])",
        in.config.name, skipped.total());
  } else {
    bad_payload_log.warn("input {}: {} item(s) of a payload on {} skipped; the first: {}",
                         in.config.name, skipped.total(), topic, skipped.first().to_string());
  }
}

bool AgentApp::Impl::hold(InputPipe& in, std::string_view topic, ByteSpan payload,
                          std::int64_t received_ms) {
  const std::size_t n = in.spare->readings.size();
  if (in.held.size() >= kUdpHoldPayloads || in.held_bytes + payload.size() > kUdpHoldBytes) {
    counters.drop_journal_stalled->inc(n);
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
  const std::int64_t now = mono_ms();
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
  // Every payload record still in the journal goes to the redelivery filter (it keeps the newest
  // RedeliveryFilter::kTail of them: trim keeps at least those, committed or not, because a message
  // whose PUBACK was lost may already be in a committed window); only those past the outbox's
  // journal_upto are fed to the windows.
  auto second =
      journal->replay(0, [&](std::uint64_t record_no, std::uint8_t type, ByteSpan payload) {
        const PayloadRecordView rec = read_payload_record(type, payload);
        if (rec.kind == PayloadRecordView::Kind::kOther) return;  // close marks, anything unknown
        if (rec.kind == PayloadRecordView::Kind::kMalformed) {
          if (record_no >= from) ++bad;
          return;
        }
        if (rec.body.empty()) return;
        redelivery.remember(rec.format, rec.body);
        if (record_no < from) return;
        const auto parts = split_payload_record_body(rec);
        if (!parts) {
          ++bad;
          return;
        }
        const std::int64_t now = rec.received_ms > 0 ? rec.received_ms : clock.now_ms();
        const auto format = static_cast<PayloadFormat>(rec.format);
        buf.clear();
        Status s;
        if (rec.with_topic) {
          s = parser_of(parts->input).parse(format, parts->payload, now, buf, parts->topic);
        } else {
          TopicFields fields;
          fields.device = parts->device;
          s = parser.parse_resolved(format, parts->payload, now, buf, fields);
        }
        if (!s.ok()) {
          ++bad;
          return;
        }
        processor->process(buf);  // as when it first arrived: the outbox never sees raw values
        aggregator->add(buf.view(), record_no);
        ++payloads;
      });
  if (!second.ok()) return second.status();
  aggregator->clear_replay_fence();
  counters.replayed_records->inc(payloads);
  counters.replay_unparsable->inc(bad);
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
      processor->process(chunk->readings);
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
    h.bytes = window_batch_memory_bytes(h.batch);
    outbox_held_bytes.fetch_add(h.bytes, std::memory_order_relaxed);
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
    h.bytes = window_batch_memory_bytes(h.batch);
    outbox_held_bytes.fetch_add(h.bytes, std::memory_order_relaxed);
    outbox_held.push_back(std::move(h));
  }
  outbox_held_count.store(outbox_held.size(), std::memory_order_relaxed);
}

void AgentApp::Impl::flush_outbox_held(bool force) {
  const std::int64_t now = mono_ms();
  if (!outbox_held.empty() && (force || now >= outbox_retry_ms)) {
    while (!outbox_held.empty()) {
      HeldBatch& h = outbox_held.front();
      const std::size_t records = h.batch.records.size();
      const Lane lane = Lane::kLive;
      auto seq = outbox->append_in_place(h.batch, h.journal_upto, lane, h.marks);
      if (!seq.ok() && seq.status().code() != StatusCode::kInvalidArgument) {
        // A full disk, an I/O or fsync error: the batch stays first in line and is retried.
        counters.outbox_append_errors->inc();
        outbox_stall->failed(kOutboxAppend, seq.status());
        outbox_retry_ms = now + kOutboxRetryMs;
        break;
      }
      if (!seq.ok()) {
        // Refused for good (too large for the outbox): counted and logged. A device batch's
        // readings stay in the journal, which is not trimmed any more this run, so a restart
        // replays them.
        counters.outbox_append_errors->inc();
        if (!h.self) trim_blocked = true;
        spdlog::error("outbox refused a batch of {} records: {}", records,
                      seq.status().to_string());
      } else {
        outbox_stall->cleared(kOutboxAppend);
        if (h.self) counters.self_records->inc(records);
        committed_upto = std::max(committed_upto, h.journal_upto);
      }
      outbox_held_bytes.fetch_sub(h.bytes, std::memory_order_relaxed);
      outbox_held.pop_front();
      forwarder->wake();
    }
    outbox_held_count.store(outbox_held.size(), std::memory_order_relaxed);
  }
  outbox_backpressure.store(
      outbox_held.size() >= kOutboxHoldBatches ||
          outbox_held_bytes.load(std::memory_order_relaxed) >= kOutboxHoldBytes,
      std::memory_order_relaxed);
  // The newest RedeliveryFilter::kTail records stay for the redelivery filter of the next start.
  const std::uint64_t next = journal->stats().next_record_no;
  const std::uint64_t upto =
      std::min(committed_upto, next > RedeliveryFilter::kTail ? next - RedeliveryFilter::kTail : 0);
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
  s.readings_dropped = counters.drop_ring_full->value() + counters.drop_ring_timeout->value() +
                       counters.drop_journal_error->value() +
                       counters.drop_journal_stalled->value() +
                       counters.drop_outbox_stalled->value();
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
    counters.self_samples->inc();
  }
  self_aggregator->poll();
}

void AgentApp::Impl::publish_stats() {
  AggregatorStats s = aggregator->stats();
  edge_metrics->publish(processor->stats(), s);
  std::lock_guard lock(agg_stats_mu);
  agg_stats = std::move(s);
}

void AgentApp::Impl::run_aggregator() {
  std::int64_t last_poll = mono_ms();
  std::int64_t last_stats = 0;
  while (!aggregator_stop.load(std::memory_order_acquire)) {
    const std::int64_t now = mono_ms();
    aggregator_beat_ms.store(now, std::memory_order_relaxed);
    // Backpressure while the outbox holds too many batches: the rings fill, MQTT sinks wait.
    const bool hold_back = outbox_backpressure.load(std::memory_order_relaxed) &&
                           !shutting_down.load(std::memory_order_relaxed);
    const std::uint64_t chunks = hold_back ? 0 : drain_rings();
    rule_reload.apply_pending([this](RuleReload reload) {
      Status s = aggregator->reload_rules(std::move(reload.rules));
      if (s.ok()) {
        // The processing that goes with the rules (their where may read registry tags).
        if (reload.processor) {
          reload.processor->inherit_counts(*processor);
          processor = std::move(reload.processor);
          withhold_payload_details.store(processor->hides_tags());
        }
        counters.reloads_applied->inc();
        rule_count.store(aggregator->rules().size(), std::memory_order_relaxed);
      } else {
        counters.reloads_rejected->inc();
      }
      return s;
    });
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
  m.aggregator_beat_ms.store(m.mono_ms());
  m.redelivery.start();
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
  return reload(std::move(rules), nullptr, timeout);
}

Status AgentApp::reload(std::vector<RuleSpec> rules, std::unique_ptr<EdgeProcessor> processor,
                        std::chrono::milliseconds timeout) {
  return impl_->rule_reload.offer({.rules = std::move(rules), .processor = std::move(processor)},
                                  timeout);
}

void AgentApp::reload_rejected() { impl_->counters.reloads_rejected->inc(); }

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
    m.counters.drop_journal_stalled->inc(readings);
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

bool AgentApp::healthy() const { return impl_->healthy(); }

bool AgentApp::Impl::healthy() const {
  return mono_ms() - aggregator_beat_ms.load(std::memory_order_relaxed) < 5'000;
}

int AgentApp::metrics_port() const {
  return impl_->metrics_server ? impl_->metrics_server->port() : 0;
}

std::string AgentApp::render_metrics() const { return impl_->metrics.render(); }

}  // namespace edgesketch::agent
