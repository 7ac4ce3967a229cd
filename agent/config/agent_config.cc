// TOML -> AgentConfig through es_config's strict reader (every key read is remembered, what is
// left over is an unknown key; errors collect and are reported together).
#include "config/agent_config.h"

#include <fmt/format.h>

#include <limits>
#include <set>

#include "config/processing_sections.h"
#include "edgesketch/common/host_port.h"
#include "edgesketch/common/units.h"
#include "edgesketch/config/mqtt_connection_reader.h"
#include "edgesketch/config/toml_reader.h"
#include "window/self_metrics.h"

namespace edgesketch::agent {
namespace {

using config::TomlTable;

bool valid_topic_level(std::string_view s) {
  return !s.empty() && s.find_first_of("/+#") == std::string_view::npos;
}

// The bound of the durations that have none of their own: a quarter of the int64 range.
constexpr std::int64_t kMaxDurationMs = std::numeric_limits<std::int64_t>::max() / 4;

void read_agent(TomlTable t, AgentSection& a) {
  a.gateway_id = t.string("gateway_id", a.gateway_id);
  a.tenant = t.string("tenant", a.tenant);
  a.data_dir = t.string("data_dir", a.data_dir);
  if (!valid_topic_level(a.gateway_id)) {
    t.error("gateway_id", "is required and may not be empty or contain '/', '+' or '#'");
  }
  if (!valid_topic_level(a.tenant)) {
    t.error("tenant", "may not be empty or contain '/', '+' or '#'");
  }
  if (a.data_dir.empty()) t.error("data_dir", "may not be empty");
  t.finish();
}

// The keys that shape how an input's payloads are read, each checked against the format.
void read_format_options(TomlTable& t, InputConfig& in) {
  const std::string_view format = payload_format_name(in.format);
  const bool line = in.format == PayloadFormat::kLine;
  const bool fields = in.format == PayloadFormat::kJsonFields;
  const bool value = in.format == PayloadFormat::kValue;
  auto only_for = [&](std::string_view key, bool applies, std::string_view formats) {
    if (t.has(key) && !applies) {
      t.error(key, fmt::format("applies to format = {} only, not \"{}\"", formats, format));
    }
  };
  if (t.has("topic_template")) {
    const std::string text = t.string("topic_template");
    auto parsed = TopicTemplate::parse(text, wire::Limits{}.max_tags);
    if (!parsed.ok()) {
      t.error("topic_template", parsed.status().message());
    } else {
      in.topic_template = std::move(parsed).value();
      if (in.topic_template.names_metric() && !value) {
        t.error("topic_template",
                fmt::format("{{metric}} names the metric of format = \"value\" payloads; \"{}\" "
                            "payloads name their own metrics",
                            format));
      }
      if ((fields || value) && text.find("{device}") == std::string::npos) {
        t.error("topic_template",
                fmt::format("must name {{device}}: \"{}\" payloads carry no device id", format));
      }
    }
  }
  if (value && !in.topic_template.names_metric()) {
    t.error("format",
            "\"value\" needs a topic_template naming {device} and {metric} (e.g. "
            "\"shellies/{device}/sensor/{metric}\")");
  }
  only_for("device_tag", line, "\"line\"");
  in.device_tag = t.string("device_tag", in.device_tag);
  if (in.device_tag.empty()) t.error("device_tag", "may not be empty");
  only_for("strings", fields, "\"json_fields\"");
  const std::string strings = t.string("strings", "labels");
  if (strings == "labels") {
    in.strings = StringLeaves::kLabels;
  } else if (strings == "ignore") {
    in.strings = StringLeaves::kIgnore;
  } else {
    t.error("strings", fmt::format("must be \"labels\" or \"ignore\", not \"{}\"", strings));
  }
  only_for("time_field", fields, "\"json_fields\"");
  only_for("time_format", fields, "\"json_fields\"");
  in.time_field = t.string("time_field", in.time_field);
  const std::string time_format = t.string("time_format", "rfc3339");
  if (auto f = parse_time_format(time_format)) {
    in.time_format = *f;
  } else {
    t.error("time_format",
            fmt::format("must be \"rfc3339\", \"unix_s\", \"unix_ms\" or \"unix_ns\", not \"{}\"",
                        time_format));
  }
  if (t.has("time_format") && in.time_field.empty()) {
    t.error("time_format", "needs time_field (the key path of the time leaf)");
  }
}

void read_input(TomlTable t, std::size_t index, InputConfig& in) {
  const std::string type = t.string("type");
  if (type == "mqtt") {
    in.type = InputType::kMqtt;
  } else if (type == "udp") {
    in.type = InputType::kUdp;
  } else {
    t.error("type", fmt::format("must be \"mqtt\" or \"udp\", not \"{}\"", type));
  }
  in.name = t.string("name", fmt::format("{}{}", type, index));
  if (in.name.empty() || in.name.size() > 64) t.error("name", "must be 1 to 64 bytes");
  const std::string format = t.string("format", std::string(payload_format_name(in.format)));
  if (std::optional<PayloadFormat> f = parse_payload_format(format)) {
    in.format = *f;
  } else {
    t.error("format",
            fmt::format("must be \"nanopb\", \"json\", \"line\", \"json_fields\" or \"value\", "
                        "not \"{}\"",
                        format));
  }
  read_format_options(t, in);
  in.ring_capacity =
      static_cast<std::uint32_t>(t.integer("ring_capacity", in.ring_capacity, 2, 1 << 20));
  in.ring_bytes = t.bytes("ring_bytes", in.ring_bytes, 64u << 10, std::uint64_t{1} << 30);
  if (in.type == InputType::kMqtt) {
    in.mqtt = config::read_mqtt_connection(t, in.mqtt);
    if (!t.has("topics") && !in.topic_template.empty()) in.topics = {in.topic_template.filter()};
    in.topics = t.strings("topics", in.topics);
    in.qos = static_cast<int>(t.integer("qos", in.qos, 0, 1));
    if (in.mqtt.uri.empty()) t.error("broker", "is required");
    if (in.topics.empty()) t.error("topics", "is empty");
    for (const std::string& topic : in.topics) {
      if (topic.empty()) t.error("topics", "holds an empty topic");
    }
  } else {
    in.bind = t.string("bind", in.bind);
    in.receive_buffer_bytes =
        t.bytes("receive_buffer", in.receive_buffer_bytes, 0, std::uint64_t{1} << 30);
    if (!parse_host_port(in.bind)) {
      t.error("bind", fmt::format("must look like \"127.0.0.1:9782\", not \"{}\"", in.bind));
    }
    if (in.format != PayloadFormat::kNanopb) {
      // A datagram carries no topic to tell formats apart by; the firmware sends nanopb.
      t.error("format", "UDP inputs take nanopb only");
    }
    if (!in.topic_template.empty()) t.error("topic_template", "UDP datagrams have no topic");
  }
  t.finish();
}

void read_rule(TomlTable t, std::size_t index, const ProcessingConfig& processing, RuleSpec& r) {
  r.name = t.string("name", fmt::format("rule{}", index));
  r.match = t.string("match", r.match);
  r.group_by = t.strings("group_by", r.group_by);
  r.window_ms = static_cast<std::uint32_t>(
      t.duration_ms("window", r.window_ms, 1, std::numeric_limits<std::uint32_t>::max()));
  r.quantiles = t.boolean("quantiles", r.quantiles);
  r.distinct = t.string("distinct", r.distinct);
  r.topk = t.string("topk", r.topk);
  r.topk_slots = static_cast<std::uint32_t>(t.integer("topk_slots", r.topk_slots, 1, 65536));
  r.output = t.string("output", r.output);
  r.where = t.string("where", r.where);
  check_rule_where(t, r, processing);  // its errors go to the key "where"
  RuleSpec unconditional = r;
  unconditional.where.clear();
  Status v = validate_rule(unconditional, wire::Limits{});
  if (!v.ok()) t.error("window", v.message());
  t.finish();
}

void read_window(TomlTable t, WindowOptions& w) {
  w.allowed_lateness_ms =
      t.duration_ms("allowed_lateness", w.allowed_lateness_ms, 0, kMaxDurationMs);
  w.idle_timeout_ms = t.duration_ms("idle_timeout", w.idle_timeout_ms, 1, kMaxDurationMs);
  w.delta_hold_ms = t.duration_ms("delta_hold", w.delta_hold_ms, 0, kMaxDurationMs);
  w.max_future_ms = t.duration_ms("max_future", w.max_future_ms, 0, kMaxDurationMs);
  w.max_past_ms = t.duration_ms("max_past", w.max_past_ms, 1, wire::Limits{}.max_past_ms);
  t.finish();
}

void read_outbox(TomlTable t, OutboxConfig& o) {
  o.path = t.string("path", o.path);
  o.max_bytes = t.bytes("max_bytes", o.max_bytes, 1u << 20, std::uint64_t{1} << 40);
  if (t.has("coarsen")) {
    std::vector<std::string> levels = t.strings("coarsen");
    std::vector<std::uint32_t> ms;
    for (const std::string& level : levels) {
      Result<std::int64_t> v = parse_duration_ms(level);
      const std::int64_t day = wire::Limits{}.max_window_ms;
      if (!v.ok() || *v < 1000 || *v > day || day % *v != 0 ||
          (!ms.empty() && *v % ms.back() != 0)) {
        t.error("coarsen", fmt::format("level \"{}\": each level is a duration that divides 24h "
                                       "and is a multiple of the one before",
                                       level));
        return t.finish();
      }
      ms.push_back(static_cast<std::uint32_t>(*v));
    }
    o.coarsen_ms = std::move(ms);
  }
  t.finish();
}

void read_uplink(TomlTable t, UplinkConfig& u) {
  u.mqtt = config::read_mqtt_connection(t, u.mqtt);
  u.qos = static_cast<int>(t.integer("qos", u.qos, 1, 1));
  u.resend_timeout_ms = t.duration_ms("resend_timeout", u.resend_timeout_ms, 1000, kMaxDurationMs);
  u.backlog_rate_cap = t.number("backlog_rate_cap", u.backlog_rate_cap);
  if (!(u.backlog_rate_cap >= 0 && u.backlog_rate_cap <= 1e6)) {
    t.error("backlog_rate_cap", "must be in [0, 1000000] batches per second");
  }
  u.batch_max_records =
      static_cast<std::uint32_t>(t.integer("batch_max_records", u.batch_max_records, 1, 10'000));
  u.batch_max_bytes = t.bytes("batch_max_bytes", u.batch_max_bytes, 4096, 1u << 20);
  u.http_fallback_url = t.string("http_fallback_url", u.http_fallback_url);
  u.http_fallback_token = t.string("http_fallback_token", u.http_fallback_token);
  const std::string compression = t.string("compression", "zstd");
  const int level = static_cast<int>(t.integer("compression_level", 3, 1, 19));
  if (compression == "zstd") {
    u.zstd_level = level;
  } else if (compression == "none") {
    u.zstd_level = 0;
  } else {
    t.error("compression", fmt::format("must be \"zstd\" or \"none\", not \"{}\"", compression));
  }
  if (u.mqtt.uri.empty() && u.http_fallback_url.empty()) {
    t.error("broker", "is required (or at least 'uplink.http_fallback_url')");
  }
  if (!u.http_fallback_url.empty() && !u.http_fallback_url.starts_with("http://") &&
      !u.http_fallback_url.starts_with("https://")) {
    t.error("http_fallback_url", "must start with http:// or https://");
  }
  t.finish();
}

void read_metrics(TomlTable t, MetricsConfig& m) {
  m.listen = t.string("listen", m.listen);
  if (!m.listen.empty() && !parse_host_port(m.listen)) {
    t.error("listen", fmt::format("must look like \"127.0.0.1:9781\" (or \"\" for off), not \"{}\"",
                                  m.listen));
  }
  t.finish();
}

void read_self_metrics(TomlTable t, SelfMetricsConfig& s) {
  s.enabled = t.boolean("enabled", s.enabled);
  s.interval_ms = t.duration_ms("interval", s.interval_ms, 1'000, 3'600'000);
  t.finish();
}

Result<AgentConfig> read(config::TomlDocument& doc) {
  AgentConfig c;
  TomlTable root = doc.root();
  read_agent(root.table("agent"), c.agent);
  std::vector<TomlTable> inputs = root.tables("input");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    c.inputs.emplace_back();
    read_input(inputs[i], i, c.inputs.back());
  }
  TomlTable journal = root.table("journal");
  c.journal.dir = journal.string("dir", c.journal.dir);
  c.journal.fsync_interval_ms =
      journal.duration_ms("fsync_interval", c.journal.fsync_interval_ms, 1, 60'000);
  c.journal.segment_bytes =
      journal.bytes("segment_bytes", c.journal.segment_bytes, 64u << 10, std::uint64_t{1} << 30);
  journal.finish();
  read_processing_sections(root, c.processing);
  std::vector<TomlTable> rules = root.tables("rule");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    c.rules.emplace_back();
    read_rule(rules[i], i, c.processing, c.rules.back());
  }
  read_window(root.table("window"), c.window);
  read_outbox(root.table("outbox"), c.outbox);
  read_uplink(root.table("uplink"), c.uplink);
  read_metrics(root.table("metrics"), c.metrics);
  read_self_metrics(root.table("self_metrics"), c.self_metrics);
  root.finish();

  // Checks across sections.
  if (inputs.empty()) root.error("input", "no [[input]]: the agent needs at least one input");
  std::set<std::string> names;
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    if (!names.insert(c.inputs[i].name).second) {
      inputs[i].error("name", fmt::format("'{}' is used by another input", c.inputs[i].name));
    }
  }
  std::set<std::string> rule_names;
  for (std::size_t i = 0; i < c.rules.size(); ++i) {
    if (!rule_names.insert(c.rules[i].name).second) {
      rules[i].error("name", fmt::format("rule '{}': the name is used twice", c.rules[i].name));
    }
  }
  ES_RETURN_IF_ERROR(doc.status());

  for (InputConfig& in : c.inputs) {
    if (in.type == InputType::kMqtt && in.mqtt.client_id.empty()) {
      in.mqtt.client_id = "edgesketch-agent-" + c.agent.gateway_id + "-" + in.name;
    }
  }
  if (c.rules.empty()) c.rules.push_back(default_rule());
  if (c.journal.dir.empty()) c.journal.dir = c.agent.data_dir + "/journal";
  if (c.outbox.path.empty()) c.outbox.path = c.agent.data_dir + "/outbox.db";
  if (c.uplink.mqtt.client_id.empty()) {
    c.uplink.mqtt.client_id = "edgesketch-agent-" + c.agent.gateway_id;
  }
  c.warnings = doc.warnings();
  return c;
}

}  // namespace

Result<AgentConfig> parse_agent_config(std::string_view text, std::string_view source) {
  ES_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::parse(text, std::string(source)));
  return read(*doc);
}

Result<AgentConfig> load_agent_config(const std::string& path) {
  ES_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::parse_file(path));
  return read(*doc);
}

ParserOptions parser_options(const InputConfig& input) {
  ParserOptions o;
  o.device_tag = input.device_tag;
  o.strings = input.strings;
  o.time_field = input.time_field;
  o.time_format = input.time_format;
  o.topic_template = input.topic_template;
  return o;
}

AggregatorOptions aggregator_options(const AgentConfig& config) {
  AggregatorOptions o;
  o.tenant = config.agent.tenant;
  o.gateway_id = config.agent.gateway_id;
  o.rules = config.rules;
  o.window = config.window;
  o.max_records_per_batch = config.uplink.batch_max_records;
  o.max_batch_bytes = config.uplink.batch_max_bytes;
  return o;
}

AggregatorOptions self_aggregator_options(const AgentConfig& config) {
  AggregatorOptions o;
  o.tenant = config.agent.tenant;
  o.gateway_id = config.agent.gateway_id;
  o.rules = {self_metrics_rule(config.self_metrics.interval_ms)};
  o.window = config.window;
  o.window.allowed_lateness_ms = 0;
  // Each series gets a sample every interval; this only closes windows when sampling stalls.
  o.window.idle_timeout_ms = 2 * static_cast<std::int64_t>(o.rules[0].window_ms);
  o.max_series = 64;
  o.max_records_per_batch = config.uplink.batch_max_records;
  o.max_batch_bytes = config.uplink.batch_max_bytes;
  return o;
}

}  // namespace edgesketch::agent
