// The simulation loop of edgesketch-sim: steps simulated time tick by tick, polls every device,
// applies faults, encodes and sends each message and records what was sent.
//
// Order (what makes the record deterministic): for each tick (tick_ms of simulated time), devices
// in index order; for each device, its batches in time order, its late burst released before any
// batch that became ready after the burst's release time. Pacing only decides *when* a tick runs.
//
// A record MESSAGE is one device batch: the readings of it that went out. The row formats send a
// batch as several messages (json-fields: one per row; value: one per reading), line-fields packs
// the lines of several batches into one message (RunOptions::message_lines).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

#include "edgesketch/common/clock.h"
#include "edgesketch/common/status.h"
#include "es_device/batch.h"
#include "fault_injector.h"
#include "fleet.h"
#include "payload_format.h"
#include "record_writer.h"
#include "sim_options.h"
#include "transport.h"

namespace edgesketch::sim {

struct SimStats {
  std::uint64_t readings_generated = 0;  // sampled by the devices
  std::uint64_t messages_generated = 0;  // batches the devices produced
  std::uint64_t readings_sent = 0;       // in messages the transport accepted (and recorded)
  std::uint64_t messages_sent = 0;       // accepted by the transport, malformed ones included
                                         // (line-fields: a message packs several batches)
  std::uint64_t bytes_sent = 0;          // payload bytes accepted by the transport
  std::uint64_t duplicate_messages = 0;  // extra copies of batches sent
  std::uint64_t late_messages = 0;       // batches held back and sent in a burst
  std::uint64_t malformed_messages = 0;  // corrupted batches sent (not recorded)
  std::uint64_t offline_messages = 0;    // lost while their device was offline
  std::uint64_t offline_readings = 0;
  std::uint64_t send_errors = 0;  // messages the transport refused (not recorded)
  std::uint64_t unsent_readings = 0;
  std::int64_t simulated_ms = 0;  // simulated time covered
  double wall_seconds = 0;
  bool interrupted = false;  // stopped early by the stop flag
};

class SimRunner {
 public:
  // Borrows everything; all must outlive run(). `record` and `progress` may be null; `stop` is
  // polled once per tick and while pacing (a signal handler may set it).
  SimRunner(Fleet& fleet, FaultInjector& faults, const RunOptions& options, Transport& transport,
            RecordWriter* record, const Clock& clock, const std::atomic<bool>* stop,
            std::FILE* progress);

  // Runs the whole simulated duration (or until stopped), then flushes pending batches and held
  // bursts, finishes the transport and the record. Errors: a record I/O failure or an encoding
  // bug; transport failures are counted in the stats, not fatal.
  Result<SimStats> run();

 private:
  struct HeldMessage {
    std::uint64_t batch_seq;
    std::uint8_t flags;
    EncodedBatch encoded;
    std::vector<RecordedReading> readings;
  };
  // line-fields: a batch whose lines wait in the pack, recorded once the pack is sent.
  struct PackedBatch {
    RecordedMessageHeader header;
    std::vector<RecordedReading> readings;
  };

  Status handle(std::uint32_t device, es_batch& batch);
  void release_held(std::uint32_t device, std::int64_t now_ms, bool force);
  // Sends the batch's messages (line-fields: adds its lines to the pack) and records what went
  // out. `readings` are indexed like the batch's columns.
  void send_and_record(std::uint32_t device, std::uint64_t batch_seq, std::int64_t sent_ms,
                       std::uint8_t flags, const EncodedBatch& encoded,
                       const std::vector<RecordedReading>& readings);
  void send_malformed(std::uint32_t device, std::int64_t ready_ms);
  void count_sent(std::uint8_t flags);
  // line-fields: sends the pack and records its batches.
  void flush_pack();
  // line-fields: appends lines (and what to record once they are sent) to the pack, sending it
  // first when they would take it past the 4,096 readings of one agent payload.
  void add_to_pack(std::string_view lines, std::uint32_t rows, std::size_t reading_count,
                   std::int64_t now_ms);
  void to_recorded(const es_batch& batch, std::vector<RecordedReading>& out);
  void define_dictionary();
  void pace(std::int64_t simulated_offset_ms);
  void maybe_report_progress(bool final_line);

  Fleet& fleet_;
  FaultInjector& faults_;
  RunOptions options_;
  Transport& transport_;
  RecordWriter* record_;
  const Clock& clock_;
  const std::atomic<bool>* stop_;
  std::FILE* progress_;

  SimStats stats_;
  es_batch batch_{};
  EncodedBatch encoded_;
  std::vector<RecordedReading> readings_;
  std::vector<RecordedReading> sent_readings_;
  // line-fields pack: its bytes, lines, readings, the simulated time of its first lines, and the
  // batches it holds (slots reused; pack_batches_ of them in use).
  std::string pack_;
  std::uint32_t pack_lines_ = 0;
  std::size_t pack_readings_ = 0;
  std::int64_t pack_first_ms_ = 0;
  std::vector<PackedBatch> packed_;
  std::size_t pack_batches_ = 0;
  std::uint64_t pack_malformed_ = 0;  // corrupted batches inside the pack
  std::vector<std::deque<HeldMessage>> held_;
  std::vector<bool> label_defined_;
  std::int64_t wall_start_ns_ = 0;
  std::int64_t next_progress_ns_ = 0;
  std::int64_t sim_now_ms_ = 0;
  std::uint64_t last_progress_readings_ = 0;
  std::int64_t last_progress_ns_ = 0;
  std::string last_send_error_;
};

}  // namespace edgesketch::sim
