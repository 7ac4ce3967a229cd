// Wiring of a simulation run and of a truth computation.
#include "sim_app.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "fault_injector.h"
#include "fleet.h"
#include "mqtt_transport.h"
#include "record_writer.h"
#include "sim_runner.h"
#include "udp_transport.h"

namespace edgesketch::sim {
namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "edgesketch-sim: %s\n", s.to_string().c_str());
  return 1;
}

Result<std::unique_ptr<Transport>> make_transport(const SimCommand& c) {
  switch (c.output) {
    case OutputKind::kMqtt: {
      ES_ASSIGN_OR_RETURN(auto t, MqttTransport::connect(c.mqtt));
      return std::unique_ptr<Transport>(std::move(t));
    }
    case OutputKind::kUdp: {
      ES_ASSIGN_OR_RETURN(auto t, UdpTransport::connect(c.udp_host, c.udp_port));
      return std::unique_ptr<Transport>(std::move(t));
    }
    case OutputKind::kNone:
      break;
  }
  return std::unique_ptr<Transport>(std::make_unique<NullTransport>());
}

void print_summary(const SimCommand& c, const SimStats& s) {
  const double rate =
      s.wall_seconds > 0 ? static_cast<double>(s.readings_sent) / s.wall_seconds : 0;
  std::fprintf(
      stderr,
      "edgesketch-sim: %s in %.2f s: %llu readings sent (%.0f readings/s), %llu "
      "messages, %.1f MB (%.1f MB/s), %s format; simulated %.1f s; faults: %llu "
      "duplicate, %llu late, %llu malformed, %llu offline messages (%llu readings); "
      "%llu send errors (%llu readings not sent)\n",
      s.interrupted ? "interrupted" : "done", s.wall_seconds,
      static_cast<unsigned long long>(s.readings_sent), rate,
      static_cast<unsigned long long>(s.messages_sent), static_cast<double>(s.bytes_sent) / 1e6,
      s.wall_seconds > 0 ? static_cast<double>(s.bytes_sent) / 1e6 / s.wall_seconds : 0,
      std::string(sim_format_name(c.run.format)).c_str(), static_cast<double>(s.simulated_ms) / 1e3,
      static_cast<unsigned long long>(s.duplicate_messages),
      static_cast<unsigned long long>(s.late_messages),
      static_cast<unsigned long long>(s.malformed_messages),
      static_cast<unsigned long long>(s.offline_messages),
      static_cast<unsigned long long>(s.offline_readings),
      static_cast<unsigned long long>(s.send_errors),
      static_cast<unsigned long long>(s.unsent_readings));
  if (c.summary_json) {
    std::printf(
        "{\"readings_sent\":%llu,\"messages_sent\":%llu,\"bytes_sent\":%llu,"
        "\"wall_seconds\":%.6f,\"readings_per_s\":%.1f,\"readings_generated\":%llu,"
        "\"simulated_ms\":%lld,\"duplicate_messages\":%llu,\"late_messages\":%llu,"
        "\"malformed_messages\":%llu,\"offline_messages\":%llu,\"offline_readings\":%llu,"
        "\"send_errors\":%llu,\"unsent_readings\":%llu,\"interrupted\":%s}\n",
        static_cast<unsigned long long>(s.readings_sent),
        static_cast<unsigned long long>(s.messages_sent),
        static_cast<unsigned long long>(s.bytes_sent), s.wall_seconds, rate,
        static_cast<unsigned long long>(s.readings_generated),
        static_cast<long long>(s.simulated_ms),
        static_cast<unsigned long long>(s.duplicate_messages),
        static_cast<unsigned long long>(s.late_messages),
        static_cast<unsigned long long>(s.malformed_messages),
        static_cast<unsigned long long>(s.offline_messages),
        static_cast<unsigned long long>(s.offline_readings),
        static_cast<unsigned long long>(s.send_errors),
        static_cast<unsigned long long>(s.unsent_readings), s.interrupted ? "true" : "false");
    std::fflush(stdout);
  }
}

}  // namespace

int run_simulation(const SimCommand& c, const Clock& clock, const std::atomic<bool>& stop) {
  FaultInjector faults(c.faults, c.fleet.seed, c.fleet.devices);
  auto fleet = Fleet::create(c.fleet, faults.clock_skews_ms());
  if (!fleet.ok()) return fail(fleet.status());
  auto transport = make_transport(c);
  if (!transport.ok()) return fail(transport.status());
  std::unique_ptr<RecordWriter> record;
  if (!c.record_path.empty()) {
    auto w = RecordWriter::create(c.record_path);
    if (!w.ok()) return fail(w.status());
    record = std::move(w).value();
  }
  SimRunner runner(**fleet, faults, c.run, **transport, record.get(), clock, &stop, stderr);
  auto stats = runner.run();
  if (!stats.ok()) return fail(stats.status());
  print_summary(c, *stats);
  return 0;
}

namespace {

// stdout, or a created file; either with a 1 MiB buffer. close() reports a failed final write.
class OutputFile {
 public:
  static Result<OutputFile> open(const std::string& path, const char* command) {
    OutputFile f;
    f.path_ = path;
    f.command_ = command;
    if (!path.empty()) {
      f.file_ = std::fopen(path.c_str(), "w");
      if (f.file_ == nullptr) {
        return Status::io_error(std::string(command) + ": cannot create '" + path + "'");
      }
    }
    f.buffer_ = std::make_unique<char[]>(kBufferBytes);
    std::setvbuf(f.get(), f.buffer_.get(), _IOFBF, kBufferBytes);
    return f;
  }
  OutputFile(OutputFile&& o) noexcept
      : path_(std::move(o.path_)),
        command_(o.command_),
        file_(std::exchange(o.file_, nullptr)),
        buffer_(std::move(o.buffer_)) {}
  OutputFile& operator=(OutputFile&&) = delete;
  ~OutputFile() {
    if (file_ != nullptr) std::fclose(file_);
  }

  std::FILE* get() const { return file_ != nullptr ? file_ : stdout; }

  Status close() {
    if (file_ == nullptr) {
      return std::fflush(stdout) == 0 ? Status() : Status::io_error("writing stdout failed");
    }
    const int rc = std::fclose(std::exchange(file_, nullptr));
    if (rc != 0)
      return Status::io_error(std::string(command_) + ": closing '" + path_ + "' failed");
    return Status();
  }

 private:
  static constexpr std::size_t kBufferBytes = 1 << 20;
  OutputFile() = default;
  std::string path_;
  const char* command_ = "";
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> buffer_;
};

double seconds_since(const Clock& clock, std::int64_t start_ns) {
  return static_cast<double>(clock.monotonic_ns() - start_ns) / 1e9;
}

}  // namespace

int run_truth(const TruthCommand& c, const Clock& clock) {
  auto out = OutputFile::open(c.output_path, "truth");
  if (!out.ok()) return fail(out.status());
  const std::int64_t start = clock.monotonic_ns();
  auto summary = compute_truth(c.options, out->get());
  if (!summary.ok()) return fail(summary.status());
  if (Status s = out->close(); !s.ok()) return fail(s);
  std::fprintf(stderr,
               "edgesketch-sim truth: %llu readings scanned, %llu used, %llu lines in %.2f s\n",
               static_cast<unsigned long long>(summary->readings_scanned),
               static_cast<unsigned long long>(summary->readings_used),
               static_cast<unsigned long long>(summary->lines), seconds_since(clock, start));
  return 0;
}

int run_export(const ExportCommand& c, const Clock& clock) {
  auto out = OutputFile::open(c.output_path, "export");
  if (!out.ok()) return fail(out.status());
  const std::int64_t start = clock.monotonic_ns();
  auto summary = export_record(c.options, out->get());
  if (!summary.ok()) return fail(summary.status());
  if (Status s = out->close(); !s.ok()) return fail(s);
  std::fprintf(stderr,
               "edgesketch-sim export: %llu readings in %llu lines (left out: %llu duplicate, "
               "%llu categorical, %llu non-finite) in %.2f s\n",
               static_cast<unsigned long long>(summary->readings_exported),
               static_cast<unsigned long long>(summary->lines),
               static_cast<unsigned long long>(summary->duplicate_readings_skipped),
               static_cast<unsigned long long>(summary->categorical_readings_skipped),
               static_cast<unsigned long long>(summary->non_finite_readings_skipped),
               seconds_since(clock, start));
  return 0;
}

}  // namespace edgesketch::sim
