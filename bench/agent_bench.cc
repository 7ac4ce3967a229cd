// The `agent` suite: the aggregator's speed and memory, and the uplink bytes it produces for the
// standard fleet. mqtt_e2e_readings_per_s (sim -> mosquitto -> agent) comes with the app.
//
//  aggregate_readings_per_s  one thread, readings already parsed, 2,000 standard devices (10,000
//                            per-device series, quantiles on) plus the grouped standard rules
//                            (per line: vibration with quantiles, distinct and top-K devices;
//                            per site: events with distinct devices and top-K codes)
//  rss_mb_10k_series         VmRSS growth of a child process (forked before anything else ran,
//                            heap trimmed) while its aggregator fills 2,000 standard devices'
//                            series (10,120) for one full 10 s window plus the next 4 s
//                            (readings generated on the fly, so the growth is the aggregator's)
//  lp_parse_readings_per_s, json_fields_parse_readings_per_s: the parsers alone (add_parse_figures)
//  uplink_bytes_per_reading  standard fleet (1,000 devices) from edgesketch-sim, nanopb payloads
//                            parsed and aggregated with the standard rules; encoded WindowBatch
//                            bytes of the windows closed by the watermark / readings in them.
//                            _zstd: the same batches compressed with zstd (level 3), for
//                            reference; the wire does not compress today.
//  aggregate_where_*, aggregate_edge_*, edge_process_readings_per_s (part "where"): the cost of
//                            rule conditions and of edge processing on the aggregator thread
//                            (add_where_figures())
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench.h"
#include "config/agent_config.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/codec.h"
#include "input/payload_parser.h"
#include "outbox/outbox.h"
#include "process/edge_processor.h"
#include "sim_runner.h"
#include "simulation.h"
#include "transport.h"
#include "window/aggregator.h"

namespace edgesketch::bench {
namespace {

using agent::Aggregator;
using agent::AggregatorOptions;
using agent::ReadingBuffer;
using agent::RuleSpec;

constexpr std::int64_t kStartMs = 1'700'000'000'000;

std::vector<RuleSpec> standard_rules() {
  return {RuleSpec{.name = "per-device", .match = "*", .group_by = {"device"}, .quantiles = true},
          RuleSpec{.name = "vibration-per-line",
                   .match = "vibration",
                   .group_by = {"site", "line"},
                   .quantiles = true,
                   .distinct = "device",
                   .topk = "device"},
          RuleSpec{.name = "event-per-site",
                   .match = "event",
                   .group_by = {"site"},
                   .distinct = "device",
                   .topk = "label"}};
}

// One standard device's readings for one second: 100 vibration, 1 each of temperature,
// humidity and pressure, and an event every 10 s. Values from a seeded generator.
class DeviceSecond {
 public:
  explicit DeviceSecond(std::uint32_t devices) : devices_(devices) {
    for (std::uint32_t d = 0; d < devices; ++d) {
      char name[16];
      std::snprintf(name, sizeof name, "dev-%05u", d);
      names_.emplace_back(name);
      std::snprintf(name, sizeof name, "site-%02u", d % 20);
      sites_.emplace_back(name);
      std::snprintf(name, sizeof name, "line-%u", (d / 20) % 5);
      lines_.emplace_back(name);
    }
  }

  void fill(std::uint32_t d, std::int64_t second_ms, ReadingBuffer& out) {
    auto base = [&](const char* metric, std::int64_t ts) -> wire::Reading& {
      wire::Reading& r = out.append();
      r.device_id = names_[d];
      r.metric = metric;
      r.tags.resize(2);
      r.tags[0] = wire::Tag{"line", lines_[d]};
      r.tags[1] = wire::Tag{"site", sites_[d]};
      r.ts_ms = ts;
      return r;
    };
    for (int i = 0; i < 100; ++i) {
      double v = std::exp(normal_(rng_) * 0.6);
      if (uniform_(rng_) < 0.01) v *= 20;  // spikes
      base("vibration", second_ms + i * 10).value = v;
    }
    base("temperature", second_ms + 3).value = 21.0 + d % 7 + normal_(rng_) * 0.05;
    base("humidity", second_ms + 5).value = 45.0 + normal_(rng_);
    base("pressure", second_ms + 7).value = 1013.0 + normal_(rng_) * 0.3;
    if ((second_ms / 1000 + d) % 10 == 0) {
      wire::Reading& e = base("event", second_ms + 9);
      e.is_label = true;
      char code[8];
      std::snprintf(code, sizeof code, "E%03d",
                    static_cast<int>(std::pow(uniform_(rng_), 3) * 200));
      e.label = code;
    }
  }

  std::uint32_t devices() const { return devices_; }

 private:
  std::uint32_t devices_;
  std::vector<std::string> names_, sites_, lines_;
  std::mt19937_64 rng_{42};
  std::normal_distribution<double> normal_;
  std::uniform_real_distribution<double> uniform_;
};

std::unique_ptr<Aggregator> make_aggregator(const Clock& clock) {
  // Designated initializers: assigning the strings afterwards trips a GCC 12 false positive.
  return std::move(Aggregator::create(AggregatorOptions{.tenant = std::string("bench"),
                                                        .gateway_id = std::string("gw"),
                                                        .rules = standard_rules(),
                                                        .clock = &clock}))
      .value();
}

void add_throughput_figures(const BenchOptions& options, nlohmann::json& out) {
  // 2,500 devices x 4 numeric metrics = 10,000 per-device series (+ events, 100 line and 20 site
  // series). Each device's second of readings is generated into a reused buffer, as the parser
  // would leave it, and only add() (plus poll() and take_batches() once per simulated second) is
  // timed: the readings are "already parsed" and warm in cache, like a chunk just taken off a
  // ring.
  constexpr std::uint32_t kDevices = 2500;
  DeviceSecond gen(kDevices);
  ReadingBuffer buf;
  FakeClock clock(kStartMs);
  auto agg = make_aggregator(clock);
  std::int64_t t = 0;
  std::uint64_t record = 0;
  std::uint64_t records_out = 0;
  std::uint64_t readings = 0;
  using steady = std::chrono::steady_clock;
  auto pass = [&]() -> double {
    double ns = 0;
    for (std::uint32_t d = 0; d < kDevices; ++d) {
      buf.clear();
      gen.fill(d, kStartMs + t, buf);
      readings += buf.size();
      const auto start = steady::now();
      agg->add(buf.view(), ++record);
      ns += std::chrono::duration<double, std::nano>(steady::now() - start).count();
    }
    const auto start = steady::now();
    agg->poll();
    for (auto& b : agg->take_batches().batches) records_out += b.records.size();
    ns += std::chrono::duration<double, std::nano>(steady::now() - start).count();
    t += 1000;
    clock.set_now_ms(kStartMs + t);
    return ns;
  };
  // Warm up: every series and its first windows exist, windows have closed.
  for (int i = 0; i < 16; ++i) pass();
  const int passes = options.quick ? 2 : 10;
  std::vector<double> per_s;
  for (int r = 0; r < options.repetitions; ++r) {
    readings = 0;
    double ns = 0;
    for (int p = 0; p < passes; ++p) ns += pass();
    per_s.push_back(static_cast<double>(readings) / ns * 1e9);
  }
  out["aggregate_readings_per_s"] = median(per_s);
  out["aggregate_series"] = agg->stats().open_series;
  out["aggregate_records_closed"] = records_out;
}

// One configuration of the aggregator thread's work for add_where_figures(): rules, and edge
// processing before them or not, with its own aggregator, clock and (identically seeded)
// readings.
struct ThreadArm {
  std::string key;
  std::unique_ptr<agent::EdgeProcessor> processor;  // null: none
  std::unique_ptr<FakeClock> clock;
  std::unique_ptr<Aggregator> agg;
  std::unique_ptr<DeviceSecond> gen;
  std::int64_t t = 0;
  std::uint64_t record = 0;
  std::vector<double> per_s;
};

// The standard rules plus a spikes rule with this condition.
std::vector<RuleSpec> rules_with_spikes(const std::string& where) {
  std::vector<RuleSpec> rules = standard_rules();
  rules.push_back(RuleSpec{.name = "vibration-spikes",
                           .match = "vibration",
                           .group_by = {"device"},
                           .output = "vibration_spikes",
                           .where = where});
  return rules;
}

// What the bench's processing does: a registry of every device (3 tags), a dropped and a hashed
// tag, and two filters that take nothing (one glob, one condition), so every reading goes
// through every stage.
std::unique_ptr<agent::EdgeProcessor> bench_processor(std::uint32_t devices) {
  std::string csv = "device,building,floor,owner\n";
  for (std::uint32_t d = 0; d < devices; ++d) {
    char row[64];
    std::snprintf(row, sizeof row, "dev-%05u,b%u,%u,owner-%u\n", d, d % 7, d % 4, d);
    csv += row;
  }
  auto registry = agent::DeviceRegistry::parse(csv, "bench.csv");
  agent::ProcessingConfig c;
  c.privacy.drop_tags = {"owner"};
  c.privacy.hash_tags = {"site"};
  c.filters = {agent::FilterSpec{.name = "debug", .match = "debug_*"},
               agent::FilterSpec{.name = "cold", .match = "temp*", .where = "value < -40"}};
  auto p = agent::EdgeProcessor::create(c, std::move(registry).value(), "bench-key-0123456789");
  return std::move(p).value();
}

//  aggregate_baseline_readings_per_s      the standard rules (as aggregate_readings_per_s),
//                                         measured interleaved with the arms below
//  aggregate_where_false_readings_per_s   + a rule on vibration whose where never holds
//                                         ("value > 1e300"): the evaluation alone
//  aggregate_where_readings_per_s         + a spikes rule: vibration, where "value > 5" (its
//                                         series take ~1.4 % of the vibration readings)
//  aggregate_where_regex_readings_per_s   + the spikes rule with where
//                                         'line =~ "line-[0-2]" and value > 5' (an RE2 match
//                                         for every vibration reading)
//  aggregate_edge_readings_per_s          EdgeProcessor::process() then add(), standard rules:
//                                         enrichment (2,500-device registry), a dropped and a
//                                         hashed tag, two filters
//  edge_process_readings_per_s            process() alone, same processing
// Each arm has its own aggregator and the same readings; the arms take turns pass by pass (one
// simulated second each), so a change of the machine's speed hits them alike.
void add_where_figures(const BenchOptions& options, nlohmann::json& out) {
  constexpr std::uint32_t kDevices = 2500;
  std::vector<ThreadArm> arms;
  auto arm = [&](std::string key, std::vector<RuleSpec> rules, bool process) {
    ThreadArm a;
    a.key = std::move(key);
    a.clock = std::make_unique<FakeClock>(kStartMs);
    a.agg = std::move(Aggregator::create(AggregatorOptions{.tenant = std::string("bench"),
                                                           .gateway_id = std::string("gw"),
                                                           .rules = std::move(rules),
                                                           .clock = a.clock.get()}))
                .value();
    a.gen = std::make_unique<DeviceSecond>(kDevices);
    if (process) a.processor = bench_processor(kDevices);
    arms.push_back(std::move(a));
  };
  arm("aggregate_baseline_readings_per_s", standard_rules(), false);
  arm("aggregate_where_false_readings_per_s", rules_with_spikes("value > 1e300"), false);
  arm("aggregate_where_readings_per_s", rules_with_spikes("value > 5"), false);
  arm("aggregate_where_regex_readings_per_s",
      rules_with_spikes("line =~ \"line-[0-2]\" and value > 5"), false);
  arm("aggregate_edge_readings_per_s", standard_rules(), true);
  ReadingBuffer buf;
  using steady = std::chrono::steady_clock;
  double process_ns = 0;
  std::uint64_t process_readings = 0;
  auto pass = [&](ThreadArm& a, std::uint64_t& readings) {
    double ns = 0;
    for (std::uint32_t d = 0; d < kDevices; ++d) {
      buf.clear();
      a.gen->fill(d, kStartMs + a.t, buf);
      const std::size_t n = buf.size();
      readings += n;
      const auto start = steady::now();
      if (a.processor) a.processor->process(buf);
      const auto processed = steady::now();
      a.agg->add(buf.view(), ++a.record);
      const auto end = steady::now();
      ns += std::chrono::duration<double, std::nano>(end - start).count();
      if (a.processor) {
        process_ns += std::chrono::duration<double, std::nano>(processed - start).count();
        process_readings += n;
      }
    }
    const auto start = steady::now();
    a.agg->poll();
    (void)a.agg->take_batches();
    ns += std::chrono::duration<double, std::nano>(steady::now() - start).count();
    a.t += 1000;
    a.clock->set_now_ms(kStartMs + a.t);
    return ns;
  };
  for (ThreadArm& a : arms) {
    std::uint64_t ignored = 0;
    for (int i = 0; i < 16; ++i) pass(a, ignored);
  }
  process_ns = 0;
  process_readings = 0;
  const int passes = options.quick ? 2 : 10;
  std::vector<double> process_per_s;
  for (int r = 0; r < options.repetitions; ++r) {
    std::vector<std::uint64_t> readings(arms.size(), 0);
    std::vector<double> ns(arms.size(), 0);
    for (int p = 0; p < passes; ++p) {
      for (std::size_t i = 0; i < arms.size(); ++i) ns[i] += pass(arms[i], readings[i]);
    }
    for (std::size_t i = 0; i < arms.size(); ++i) {
      arms[i].per_s.push_back(static_cast<double>(readings[i]) / ns[i] * 1e9);
    }
    process_per_s.push_back(static_cast<double>(process_readings) / process_ns * 1e9);
    process_ns = 0;
    process_readings = 0;
  }
  for (const ThreadArm& a : arms) out[a.key] = median(a.per_s);
  out["edge_process_readings_per_s"] = median(process_per_s);
  const double base = out["aggregate_baseline_readings_per_s"].get<double>();
  out["aggregate_where_false_cost_pct"] =
      100.0 * (1.0 - out["aggregate_where_false_readings_per_s"].get<double>() / base);
  out["aggregate_where_cost_pct"] =
      100.0 * (1.0 - out["aggregate_where_readings_per_s"].get<double>() / base);
  out["aggregate_where_regex_cost_pct"] =
      100.0 * (1.0 - out["aggregate_where_regex_readings_per_s"].get<double>() / base);
  out["aggregate_edge_cost_pct"] =
      100.0 * (1.0 - out["aggregate_edge_readings_per_s"].get<double>() / base);
}

long vm_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      in >> kb;
      return kb;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

void add_rss_figures(nlohmann::json& out) {
  int fds[2];
  if (::pipe(fds) != 0) return;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::malloc_trim(0);  // free heap pages inherited from the parent would hide growth
    constexpr std::uint32_t kDevices = 2000;
    DeviceSecond gen(kDevices);
    ReadingBuffer buf;
    FakeClock clock(kStartMs);
    const long before = vm_rss_kb();
    auto agg = make_aggregator(clock);
    std::uint64_t record = 0;
    // 14 s: every series holds one full window and the next one's first seconds.
    for (std::int64_t s = 0; s < 14; ++s) {
      clock.set_now_ms(kStartMs + s * 1000);
      for (std::uint32_t d = 0; d < kDevices; ++d) {
        buf.clear();
        gen.fill(d, kStartMs + s * 1000, buf);
        agg->add(buf.view(), ++record);
      }
      agg->poll();
    }
    const long after = vm_rss_kb();
    const agent::AggregatorStats st = agg->stats();
    double figures[4] = {static_cast<double>(after - before) / 1024.0,
                         static_cast<double>(st.open_series), static_cast<double>(st.open_windows),
                         static_cast<double>(st.sketch_bytes) / (1024.0 * 1024.0)};
    (void)!::write(fds[1], figures, sizeof figures);
    ::_exit(0);
  }
  ::close(fds[1]);
  double figures[4] = {-1, 0, 0, 0};
  (void)!::read(fds[0], figures, sizeof figures);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out["rss_mb_10k_series"] = figures[0];
  out["rss_series"] = figures[1];
  out["rss_open_windows"] = figures[2];
  out["rss_sketch_mb"] = figures[3];  // the sketches' own memory_bytes() at that moment
}

// Parses each simulated nanopb payload and feeds the aggregator, like the agent's input and
// aggregator threads would (one thread here).
class AggregatingTransport final : public sim::Transport {
 public:
  explicit AggregatingTransport(Aggregator& agg) : agg_(agg) {}
  Status send(std::string_view, std::string_view payload) override {
    buf_.clear();
    Status s = parser_.parse(
        agent::PayloadFormat::kNanopb,
        ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()),
        kStartMs + 60'000, buf_);
    if (s.ok()) agg_.add(buf_.view(), ++record_);
    return Status();
  }
  Status finish() override { return Status(); }

 private:
  Aggregator& agg_;
  agent::PayloadParser parser_;
  ReadingBuffer buf_;
  std::uint64_t record_ = 0;
};

// Keeps what the simulator sends: (topic after the prefix, payload).
class KeepingTransport final : public sim::Transport {
 public:
  Status send(std::string_view topic, std::string_view payload) override {
    sent.emplace_back(std::string(topic), std::string(payload));
    return Status();
  }
  Status finish() override { return Status(); }
  std::vector<std::pair<std::string, std::string>> sent;
};

// Payloads shaped like the e2e format figures' (agent_mqtt_bench.cc): 1,000 devices sampling
// temperature, humidity, pressure and vibration (and with `event`, the event) once a second.
std::vector<std::pair<std::string, std::string>> device_format_payloads(sim::SimFormat format,
                                                                        bool event,
                                                                        std::int64_t duration_ms) {
  sim::FleetOptions fleet;
  fleet.devices = 1000;
  fleet.rate_hz = {1.0, 1.0, 1.0, 1.0, event ? 1.0 : 0.0};
  fleet.start_ms = kStartMs;
  fleet.duration_ms = duration_ms;
  KeepingTransport transport;
  if (!simulate(fleet, transport, nullptr, format).ok()) return {};
  return std::move(transport.sent);
}

// The parsers alone, one thread, warm: what the input thread spends per reading.
//  lp_parse_readings_per_s           messages of 1,000 four-field lines (line-fields)
//  json_fields_parse_readings_per_s  Zigbee2MQTT-shaped objects, five leaves and last_seen
void add_parse_figures(const BenchOptions& options, nlohmann::json& out) {
  struct Case {
    const char* key;
    sim::SimFormat sim_format;
    bool event;
    agent::PayloadFormat format;
    const char* prefix;
    const char* topic_template;
  };
  for (const Case& c : {Case{"lp_parse_readings_per_s",
                             {agent::PayloadFormat::kLine, true},
                             false,
                             agent::PayloadFormat::kLine,
                             "telegraf/",
                             ""},
                        Case{"json_fields_parse_readings_per_s",
                             {agent::PayloadFormat::kJsonFields},
                             true,
                             agent::PayloadFormat::kJsonFields,
                             "zigbee2mqtt/",
                             "zigbee2mqtt/{device}"}}) {
    auto payloads = device_format_payloads(c.sim_format, c.event, options.quick ? 10'000 : 30'000);
    for (auto& [topic, payload] : payloads) topic = c.prefix + topic;
    agent::ParserOptions o;
    if (*c.topic_template != '\0')
      o.topic_template = *agent::TopicTemplate::parse(c.topic_template);
    if (c.format == agent::PayloadFormat::kJsonFields) {
      o.time_field = std::string("last_seen");
      o.time_format = agent::TimeFormat::kUnixMs;
    }
    agent::PayloadParser parser(o);
    ReadingBuffer buf;
    std::uint64_t readings = 0;
    auto pass = [&] {
      readings = 0;
      for (const auto& [topic, payload] : payloads) {
        buf.clear();
        Status s = parser.parse(
            c.format,
            ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()),
            kStartMs + 60'000, buf, topic);
        if (s.ok()) readings += buf.size();
      }
    };
    pass();  // warm: buffers sized
    const double ns = median_ns(options.repetitions, pass);
    out[c.key] = static_cast<double>(readings) / ns * 1e9;
  }
}

void add_uplink_figures(const BenchOptions& options, nlohmann::json& out) {
  FakeClock clock(kStartMs + 30'000);
  auto agg = make_aggregator(clock);
  AggregatingTransport transport(*agg);
  auto stats = simulate(standard_fleet(kStartMs, options.quick ? 20'000 : 60'000), transport);
  if (!stats.ok()) return;
  // Only windows the watermark closed: the flush at the end would add partial windows.
  agent::ClosedBatches closed = agg->take_batches();
  std::uint64_t bytes = 0, readings = 0, records = 0, batches = 0;
  for (wire::WindowBatch& b : closed.batches) {
    b.seq = 1'000'000 + batches++;
    bytes += wire::encode_window_batch(b).size();
    for (const wire::WindowRecord& r : b.records) {
      ++records;
      // Every reading lands in exactly one per-device record.
      if (!r.key.tags.empty() && r.key.tags[0].key == "device") readings += r.agg.count();
    }
  }
  // What the agent sends is what its outbox stores (below): zstd frames at the default level.
  out["uplink_bytes_per_reading_uncompressed"] =
      static_cast<double>(bytes) / static_cast<double>(readings);
  out["uplink_readings"] = readings;
  out["uplink_batches"] = batches;

  // The same batches through a real SQLite outbox (WAL, synchronous=FULL, the agent's default
  // compression) in a temporary directory: the payload bytes it stores and sends, and the
  // fsyncs issued per appended batch (commits and any auto-checkpoints).
  testbed::TempDir scratch("es-agent-bench");
  if (scratch.path().empty()) return;
  const std::string& dir = scratch.path();
  {
    agent::OutboxOptions oo;
    oo.path = dir + "/outbox.db";
    oo.max_bytes = std::uint64_t{1} << 30;
    oo.clock = &clock;
    oo.zstd_level = agent::UplinkConfig{}.zstd_level;
    auto outbox = agent::Outbox::open(oo);
    if (outbox.ok()) {
      std::uint64_t appended = 0;
      for (wire::WindowBatch& b : closed.batches) {
        if ((*outbox)->append(std::move(b), 0).ok()) ++appended;
      }
      auto st = (*outbox)->stats();
      if (st.ok() && appended > 0) {
        out["fsyncs_per_batch"] = st->fsyncs_per_batch;
        out["uplink_bytes_per_reading"] =
            static_cast<double>(st->bytes) / static_cast<double>(readings);
        out["uplink_bytes_per_record"] =
            static_cast<double>(st->bytes) / static_cast<double>(records);
        out["outbox_batches_appended"] = appended;
      }
    }
  }
}

}  // namespace

nlohmann::json run_agent_bench(const BenchOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  const auto runs = [&](std::string_view part) {
    return options.only.empty() || options.only == part;
  };
  // First, while this process's heap holds no freed pages the child could reuse unseen.
  if (runs("rss")) add_rss_figures(out);
  if (runs("throughput")) add_throughput_figures(options, out);
  if (runs("where")) add_where_figures(options, out);
  if (runs("uplink")) add_uplink_figures(options, out);
  if (runs("parse")) add_parse_figures(options, out);
  if (runs("mqtt")) add_mqtt_e2e_figures(options, out);
  if (runs("formats")) add_device_format_e2e_figures(options, out);
  return out;
}

}  // namespace edgesketch::bench
