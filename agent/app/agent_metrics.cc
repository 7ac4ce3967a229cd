// The agent daemon's metrics (/metrics, docs/agent.md): the counters its threads increment and
// the gauges and counters read from its parts at scrape time.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/timex.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "app/agent_app_impl.h"

namespace edgesketch::agent {
namespace {

using Steady = std::chrono::steady_clock;

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

}  // namespace

void AgentApp::Impl::register_metrics() {
  daemon::MetricsRegistry& m = metrics;
  auto dropped = [&](const char* reason) {
    return &m.counter("edgesketch_agent_dropped_readings_total",
                      "Readings the agent dropped, by reason", {{"reason", reason}});
  };
  counters.drop_ring_full = dropped("ring_full");
  counters.drop_ring_timeout = dropped("ring_timeout");
  counters.drop_journal_error = dropped("journal_error");
  counters.drop_journal_stalled = dropped("journal_stalled");
  counters.drop_outbox_stalled = dropped("outbox_stalled");
  journal_stall = std::make_unique<StorageStall>("journal", m);
  outbox_stall = std::make_unique<StorageStall>("outbox", m);
  m.gauge_fn("edgesketch_agent_outbox_held_batches",
             "Closed batches waiting in memory for the outbox to write again", {},
             [this] { return static_cast<double>(outbox_held_count.load()); });
  m.gauge_fn("edgesketch_agent_outbox_held_bytes",
             "Memory the closed batches waiting for the outbox hold (an estimate)", {},
             [this] { return static_cast<double>(outbox_held_bytes.load()); });
  counters.outbox_append_errors = &m.counter("edgesketch_agent_outbox_append_errors_total",
                                             "Batches the outbox failed to store");
  counters.redelivered =
      &m.counter("edgesketch_agent_redelivered_payloads_total",
                 "MQTT payloads redelivered after a restart and already journaled");
  const std::string reloads_help = "SIGHUP reloads of the rules, by result";
  counters.reloads_applied =
      &m.counter("edgesketch_agent_config_reloads_total", reloads_help, {{"result", "applied"}});
  counters.reloads_rejected =
      &m.counter("edgesketch_agent_config_reloads_total", reloads_help, {{"result", "rejected"}});
  m.gauge_fn("edgesketch_agent_rules", "Rules the aggregator applies", {},
             [this] { return static_cast<double>(rule_count.load(std::memory_order_relaxed)); });
  counters.replayed_records =
      &m.counter("edgesketch_agent_journal_replayed_total", "Journal payloads replayed at start");
  counters.replay_unparsable =
      &m.counter("edgesketch_agent_journal_replay_unparsable_total",
                 "Journal payloads replay could not parse (their readings are not counted)");
  counters.self_samples =
      &m.counter("edgesketch_agent_self_samples_total",
                 "Samples of the agent's own health fed to the self-metrics rule");
  counters.self_records = &m.counter("edgesketch_agent_self_records_total",
                                     "Self-metrics window records appended to the outbox");
  edge_metrics = std::make_unique<EdgeMetrics>(m);

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
    m.gauge_fn("edgesketch_agent_ring_bytes",
               "Bytes of parsed readings the input's ring holds (queued or being aggregated)", l,
               [in] { return static_cast<double>(in->ring->bytes()); });
    m.gauge_fn("edgesketch_agent_ring_max_bytes", "The input's ring_bytes", l,
               [in] { return static_cast<double>(in->ring->max_bytes()); });
    m.counter_fn("edgesketch_agent_ring_oversize_chunks_total",
                 "Payloads larger than ring_bytes, passed alone into the empty ring", l,
                 [in] { return static_cast<double>(in->ring->stats().oversize_chunks); });
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
      m.counter_fn("edgesketch_agent_input_connection_losses_total",
                   "Connections of the MQTT input to its broker that were lost", l,
                   [in] { return static_cast<double>(in->mqtt->stats().link.connection_losses); });
      for (auto reason :
           {net::MqttDecodeError::kBadRemainingLength, net::MqttDecodeError::kOversize,
            net::MqttDecodeError::kBadPacketType, net::MqttDecodeError::kBadFlags,
            net::MqttDecodeError::kMalformed, net::MqttDecodeError::kBadTopic,
            net::MqttDecodeError::kBadPacketId, net::MqttDecodeError::kBadReturnCode}) {
        daemon::Labels rl = l;
        rl.emplace_back("reason", std::string(net::mqtt_decode_error_name(reason)));
        m.counter_fn(
            "edgesketch_agent_mqtt_protocol_errors_total",
            "Malformed or oversized packets from the broker (the connection is made again)", rl,
            [in, reason] { return static_cast<double>(in->mqtt->protocol_errors(reason)); });
      }
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
  m.gauge_fn("edgesketch_agent_healthy", "1 while the aggregator thread runs its loop", {},
             [this] { return healthy() ? 1.0 : 0.0; });
}

}  // namespace edgesketch::agent
