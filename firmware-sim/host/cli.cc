// Flag parsing with CLI11, then semantic checks; every problem is a clear message and exit 2.
#include "cli.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "edgesketch/common/version.h"
#include "fleet.h"

namespace edgesketch::sim {
namespace {

constexpr int kUsageError = 2;

struct RawFlags {
  std::string fleet;
  std::uint32_t devices = 1000, sites = 10, lines = 5;
  std::vector<std::string> rates;
  std::uint64_t seed = 1;
  std::string duration = "60s";
  std::optional<std::int64_t> start_ms;
  double speed = 1.0;
  std::uint32_t batch = 100;
  std::string max_delay = "1s";
  std::string tick = "100ms";
  std::string format = "nanopb";
  std::optional<std::uint32_t> message_lines;
  std::string broker;
  std::string udp;
  bool dry_run = false;
  bool allow_remote = false;
  int qos = 0;
  std::string topic_prefix = "devices";
  std::string client_id;
  std::string record;
  double skew_ratio = 0;
  std::string skew = "0";
  double late_ratio = 0;
  std::string late = "30s";
  double dup_ratio = 0;
  double offline_ratio = 0;
  std::string offline = "60s";
  double malformed_ratio = 0;
  std::string progress = "1s";
  bool quiet = false;
  bool summary_json = false;
  // truth
  std::string truth_record;
  std::string window = "10s";
  std::vector<std::string> group_by;
  std::vector<std::string> metrics;
  std::vector<std::string> distinct;
  std::string topk;
  std::uint32_t k = 10;
  bool dedupe = false;
  std::string where;
  std::string truth_output;
  // export
  std::string export_record;
  std::string export_format = "vm-jsonl";
  std::string export_output;
};

Status bad(std::string message) { return Status::invalid_argument(std::move(message)); }

Result<double> parse_number(std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return bad("'" + std::string(text) + "' is not a number");
  }
  return v;
}

Status parse_rates(const std::vector<std::string>& specs, FleetOptions& fleet) {
  for (const std::string& spec : specs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) {
      return bad("--rate expects METRIC=HZ (e.g. vibration=100), not '" + spec + "'");
    }
    std::string name = spec.substr(0, eq);
    int metric = es_metric_from_name(name.c_str());
    if (metric < 0) {
      return bad("--rate: unknown metric '" + name +
                 "' (known: temperature, humidity, pressure, vibration, event)");
    }
    auto hz = parse_number(std::string_view(spec).substr(eq + 1));
    if (!hz.ok()) return bad("--rate " + spec + ": " + hz.status().message());
    fleet.rate_hz[static_cast<std::size_t>(metric)] = *hz;
  }
  return Status();
}

Status check_ratio(const char* flag, double v) {
  if (!(v >= 0.0 && v <= 1.0)) {
    return bad(std::string(flag) + " must be a probability in [0, 1], not " + std::to_string(v));
  }
  return Status();
}

Result<std::int64_t> duration_flag(const char* flag, const std::string& text) {
  auto d = parse_duration_ms(text);
  if (!d.ok()) return bad(std::string(flag) + ": " + d.status().message());
  return *d;
}

// "host:port" or "[v6]:port".
Status split_host_port(const std::string& text, std::string& host, int& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return bad("expected HOST:PORT, not '" + text + "'");
  }
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto p = parse_number(std::string_view(text).substr(colon + 1));
  if (!p.ok() || *p < 1 || *p > 65535 || *p != std::floor(*p)) {
    return bad("port must be in 1..65535 in '" + text + "'");
  }
  port = static_cast<int>(*p);
  return Status();
}

Result<SimCommand> build_sim(const RawFlags& f, bool standard, std::int64_t now_ms, int pid) {
  SimCommand c;
  if (!f.fleet.empty() && f.fleet != "standard") {
    return bad("--fleet knows only 'standard', not '" + f.fleet + "'");
  }
  c.fleet = standard_fleet();
  if (!standard) {
    c.fleet.devices = f.devices;
    c.fleet.sites = f.sites;
    c.fleet.lines = f.lines;
    ES_RETURN_IF_ERROR(parse_rates(f.rates, c.fleet));
  }
  c.fleet.seed = f.seed;
  ES_ASSIGN_OR_RETURN(c.fleet.duration_ms, duration_flag("--duration", f.duration));
  c.fleet.start_ms = f.start_ms ? *f.start_ms : now_ms / 1000 * 1000;
  c.fleet.batch = f.batch;
  ES_ASSIGN_OR_RETURN(c.fleet.max_delay_ms, duration_flag("--max-delay", f.max_delay));
  ES_RETURN_IF_ERROR(validate(c.fleet));

  if (!(f.speed >= 0.0 && f.speed <= 1e6)) return bad("--speed must be in [0, 1e6]");
  c.run.speed = f.speed;
  ES_ASSIGN_OR_RETURN(c.run.tick_ms, duration_flag("--tick", f.tick));
  if (c.run.tick_ms < 1 || c.run.tick_ms > 60'000) return bad("--tick must be in [1ms, 60s]");
  auto format = parse_sim_format(f.format);
  if (!format) {
    return bad("--format must be nanopb, json, line, line-fields, json-fields or value, not '" +
               f.format + "'");
  }
  c.run.format = *format;
  if (f.message_lines) {
    if (!format->line_fields) return bad("--message-lines applies to --format line-fields only");
    if (*f.message_lines < 1 || *f.message_lines > 100'000) {
      return bad("--message-lines must be in 1..100000");
    }
    c.run.message_lines = *f.message_lines;
  }
  ES_ASSIGN_OR_RETURN(c.run.progress_interval_ms, duration_flag("--progress", f.progress));
  if (f.quiet) c.run.progress_interval_ms = 0;

  ES_RETURN_IF_ERROR(check_ratio("--skew-ratio", f.skew_ratio));
  ES_RETURN_IF_ERROR(check_ratio("--late-ratio", f.late_ratio));
  ES_RETURN_IF_ERROR(check_ratio("--dup-ratio", f.dup_ratio));
  ES_RETURN_IF_ERROR(check_ratio("--offline-ratio", f.offline_ratio));
  ES_RETURN_IF_ERROR(check_ratio("--malformed-ratio", f.malformed_ratio));
  c.faults.skew_ratio = f.skew_ratio;
  ES_ASSIGN_OR_RETURN(c.faults.skew_ms, duration_flag("--skew", f.skew));
  c.faults.late_ratio = f.late_ratio;
  ES_ASSIGN_OR_RETURN(c.faults.late_ms, duration_flag("--late", f.late));
  c.faults.duplicate_ratio = f.dup_ratio;
  c.faults.offline_ratio = f.offline_ratio;
  ES_ASSIGN_OR_RETURN(c.faults.offline_ms, duration_flag("--offline", f.offline));
  c.faults.malformed_ratio = f.malformed_ratio;
  if (c.faults.skew_ms > 86'400'000) return bad("--skew must be at most 24h");

  int outputs = (f.broker.empty() ? 0 : 1) + (f.udp.empty() ? 0 : 1) + (f.dry_run ? 1 : 0);
  if (outputs != 1) {
    return bad(
        "say where readings go: exactly one of --broker tcp://HOST:PORT, --udp HOST:PORT "
        "or --dry-run");
  }
  if (!f.broker.empty()) {
    c.output = OutputKind::kMqtt;
    const std::string prefix = "tcp://";
    if (f.broker.rfind(prefix, 0) != 0) {
      return bad("--broker must look like tcp://HOST:PORT, not '" + f.broker + "'");
    }
    std::string host;
    int port = 0;
    ES_RETURN_IF_ERROR(split_host_port(f.broker.substr(prefix.size()), host, port));
    if (!f.allow_remote && !is_loopback_host(host)) {
      return bad("--broker " + f.broker + " is not on loopback; add --allow-remote to send there");
    }
    c.mqtt.uri = f.broker;
    c.mqtt.qos = f.qos;
    c.mqtt.topic_prefix = f.topic_prefix;
    c.mqtt.client_id = f.client_id.empty() ? "edgesketch-sim-" + std::to_string(pid) : f.client_id;
    if (f.qos != 0 && f.qos != 1) return bad("--qos must be 0 or 1");
    if (f.topic_prefix.empty() || f.topic_prefix.find_first_of("+#") != std::string::npos) {
      return bad("--topic-prefix must be non-empty and free of MQTT wildcards");
    }
  } else if (!f.udp.empty()) {
    c.output = OutputKind::kUdp;
    ES_RETURN_IF_ERROR(split_host_port(f.udp, c.udp_host, c.udp_port));
    if (!f.allow_remote && !is_loopback_host(c.udp_host)) {
      return bad("--udp " + f.udp + " is not on loopback; add --allow-remote to send there");
    }
  }
  c.record_path = f.record;
  c.summary_json = f.summary_json;
  return c;
}

Result<TruthCommand> build_truth(const RawFlags& f) {
  TruthCommand c;
  c.options.record_path = f.truth_record;
  ES_ASSIGN_OR_RETURN(c.options.window_ms, duration_flag("--window", f.window));
  if (c.options.window_ms <= 0) return bad("--window must be positive");
  c.options.group_by = f.group_by;
  c.options.metrics = f.metrics;
  c.options.distinct_of = f.distinct;
  c.options.topk_of = f.topk;
  if (f.k == 0) return bad("--k must be at least 1");
  c.options.k = f.k;
  c.options.dedupe = f.dedupe;
  c.options.where = f.where;
  c.output_path = f.truth_output;
  return c;
}

}  // namespace

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  std::size_t unit_at = text.find_first_not_of("0123456789.");
  std::string_view number = text.substr(0, unit_at);
  std::string_view unit = unit_at == std::string_view::npos ? "" : text.substr(unit_at);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m" || unit == "min") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return bad("'" + std::string(text) + "' is not a duration (use e.g. 250ms, 10s, 2m, 1h)");
  }
  auto v = parse_number(number);
  if (number.empty() || !v.ok() || *v * scale > 1e15) {
    return bad("'" + std::string(text) + "' is not a duration (use e.g. 250ms, 10s, 2m, 1h)");
  }
  return static_cast<std::int64_t>(std::llround(*v * scale));
}

bool is_loopback_host(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

CliOutcome parse_command_line(int argc, char** argv, std::int64_t now_ms, int pid) {
  RawFlags f;
  CLI::App app{
      "edgesketch-sim: a deterministic fleet of simulated IoT devices that publishes readings "
      "over MQTT or UDP and records exactly what it sent.\n"
      "`edgesketch-sim truth ...` computes exact per-window answers from a record file;\n"
      "`edgesketch-sim export ...` writes its readings in another system's import format.",
      "edgesketch-sim"};
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  app.set_version_flag("--version", "edgesketch-sim " + std::string(kVersion));

  app.add_option("--fleet", f.fleet, "'standard': the standard fleet of DESIGN.md");
  auto* devices = app.add_option("--devices", f.devices, "Number of devices (dev-0000..)");
  auto* sites = app.add_option("--sites", f.sites, "Sites (site = device index % sites)");
  auto* lines = app.add_option("--lines", f.lines, "Lines per site");
  auto* rates = app.add_option("--rate", f.rates,
                               "Sampling rate METRIC=HZ, repeatable; 0 turns a metric off "
                               "(defaults: temperature, humidity, pressure 1, vibration 100, "
                               "event 0.1)");
  for (auto* o : {devices, sites, lines, rates}) {
    o->excludes(app.get_option("--fleet"));
  }
  app.add_option("--seed", f.seed, "Seed of every sensor and fault stream");
  app.add_option("--duration", f.duration, "Simulated time to cover (e.g. 60s, 1h)");
  app.add_option("--start-ms", f.start_ms,
                 "Unix ms of the first readings (default: now, floored to the second)");
  app.add_option("--speed", f.speed, "Simulated seconds per wall second; 0 = as fast as possible");
  app.add_option("--batch", f.batch, "Readings per message (1..256)");
  app.add_option("--max-delay", f.max_delay,
                 "Send a batch at the latest this long after its first reading");
  app.add_option("--tick", f.tick, "Simulated time per loop step");
  app.add_option("--format", f.format,
                 "Payload format: nanopb, json, line, line-fields, json-fields or value");
  app.add_option("--message-lines", f.message_lines,
                 "line-fields: most lines per message (default 1000)");
  app.add_option("--broker", f.broker, "Publish to this MQTT broker, tcp://HOST:PORT");
  app.add_option("--udp", f.udp, "Send UDP datagrams to HOST:PORT");
  app.add_flag("--dry-run", f.dry_run, "Send nothing (generate, record, measure)");
  app.add_flag("--allow-remote", f.allow_remote, "Allow a broker or UDP peer off loopback");
  app.add_option("--qos", f.qos, "MQTT QoS, 0 or 1");
  app.add_option("--topic-prefix", f.topic_prefix,
                 "Topics are PREFIX/<device_id>/readings (nanopb, json, line), PREFIX/<device_id> "
                 "(json-fields), PREFIX/<device_id>/<metric> (value), PREFIX/edgesketch-sim/iot "
                 "(line-fields)");
  app.add_option("--client-id", f.client_id, "MQTT client id (default edgesketch-sim-<pid>)");
  app.add_option("--record", f.record, "Write every reading sent to this record file");
  app.add_option("--skew-ratio", f.skew_ratio, "Fraction of devices with a skewed clock");
  app.add_option("--skew", f.skew, "Largest clock skew (uniform in [-skew, skew])");
  app.add_option("--late-ratio", f.late_ratio, "Per message: probability of starting a late burst");
  app.add_option("--late", f.late, "How long a late burst holds messages back");
  app.add_option("--dup-ratio", f.dup_ratio, "Per message: probability of sending it twice");
  app.add_option("--offline-ratio", f.offline_ratio,
                 "Per message: probability that the device goes offline");
  app.add_option("--offline", f.offline, "How long a device stays offline");
  app.add_option("--malformed-ratio", f.malformed_ratio,
                 "Per message: probability of a truncated or garbage payload instead");
  app.add_option("--progress", f.progress, "Interval of progress lines on stderr");
  app.add_flag("--quiet", f.quiet, "No progress lines (the summary is still printed)");
  app.add_flag("--summary-json", f.summary_json, "Print the summary as JSON on stdout too");

  CLI::App* truth = app.add_subcommand("truth", "Exact per-window answers from a record file");
  truth->add_option("--record", f.truth_record, "Record file written by --record")->required();
  truth->add_option("--window", f.window, "Window length (e.g. 10s)");
  truth->add_option("--group-by", f.group_by, "Tag keys to group by: site, line, device")
      ->delimiter(',');
  truth->add_option("--metric", f.metrics, "Metrics to report (default all)")->delimiter(',');
  truth
      ->add_option("--distinct", f.distinct,
                   "Count distinct values of a tag or 'label' (repeatable)")
      ->delimiter(',');
  truth->add_option("--topk", f.topk, "Rank the values of a tag or 'label'");
  truth->add_option("--k", f.k, "Entries of the top-K list");
  truth->add_flag("--dedupe", f.dedupe, "Skip duplicate copies of messages");
  truth->add_option("--where", f.where,
                    "Only readings whose value meets this, e.g. 'value > 5' or "
                    "'value >= 1 and value < 2' (value comparisons joined by 'and')");
  truth->add_option("--output", f.truth_output, "Write the JSON lines here (default stdout)");

  CLI::App* exporter =
      app.add_subcommand("export", "A record file's numeric readings in a peer's import format");
  exporter->add_option("--record", f.export_record, "Record file written by --record")->required();
  exporter->add_option("--format", f.export_format,
                       "vm-jsonl: VictoriaMetrics' /api/v1/import JSON lines");
  exporter->add_option("--output", f.export_output, "Write here (default stdout)");

  CliOutcome outcome;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    outcome.exit_code = app.exit(e);
    return outcome;
  } catch (const CLI::CallForAllHelp& e) {
    outcome.exit_code = app.exit(e);
    return outcome;
  } catch (const CLI::CallForVersion& e) {
    outcome.exit_code = app.exit(e);
    return outcome;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "edgesketch-sim: %s\nRun edgesketch-sim --help for usage.\n", e.what());
    outcome.exit_code = kUsageError;
    return outcome;
  }
  Status status;
  if (exporter->parsed()) {
    outcome.command =
        ExportCommand{.options = {.record_path = f.export_record, .format = f.export_format},
                      .output_path = f.export_output};
  } else if (truth->parsed()) {
    auto c = build_truth(f);
    if (c.ok()) {
      outcome.command = std::move(c).value();
    } else {
      status = c.status();
    }
  } else {
    auto c = build_sim(f, f.fleet == "standard", now_ms, pid);
    if (c.ok()) {
      outcome.command = std::move(c).value();
    } else {
      status = c.status();
    }
  }
  if (!status.ok()) {
    std::fprintf(stderr, "edgesketch-sim: %s\nRun edgesketch-sim --help for usage.\n",
                 status.message().c_str());
    outcome.exit_code = kUsageError;
  }
  return outcome;
}

}  // namespace edgesketch::sim
