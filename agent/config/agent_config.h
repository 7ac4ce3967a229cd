// The agent's configuration file (TOML, /etc/edgesketch/agent.toml; packaging/agent.toml is the
// commented reference) and the struct it loads into. docs/agent.md has the key reference.
//
// The MQTT connection keys of [[input]] (type "mqtt") and [uplink] are read by es_config's
// config::read_mqtt_connection, the same reader as the collector's [mqtt]. Deprecated key
// spellings load with a warning in AgentConfig::warnings.
//
// Loading is strict (es_config's TomlDocument): an unknown key anywhere is an error naming its full
// path ("agent.toml: unknown key 'rule[1].windw'"), as is a value of the wrong type or range
// ("agent.toml: 'window.allowed_lateness': expected a duration string like \"10s\""); every
// problem of the file is reported at once, one per line. Array indexes in paths count from 0 in
// file order. Durations are strings with a unit ("100ms", "10s", "5m", "1h", "7d"); byte sizes
// are integers or strings with a unit ("64MiB").
//
// Thread safety: plain values; the loader functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_connection.h"
#include "input/payload_parser.h"
#include "process/processing_config.h"
#include "ring/reading_ring.h"
#include "window/aggregator.h"
#include "window/rule.h"

namespace edgesketch::agent {

enum class InputType : std::uint8_t { kMqtt, kUdp };

// [agent]
struct AgentSection {
  // Required. Names this gateway in topics and in (gateway_id, seq); no '/', '+', '#'.
  std::string gateway_id;
  // The tenant topic level; no '/', '+', '#'.
  std::string tenant = "default";
  // Where the journal and the outbox live unless [journal] dir / [outbox] path say otherwise.
  std::string data_dir = "/var/lib/edgesketch/agent";
};

// [[input]]
struct InputConfig {
  // Names the input in logs and metrics; default "<type><index>" ("mqtt0").
  std::string name;
  InputType type = InputType::kMqtt;
  PayloadFormat format = PayloadFormat::kNanopb;
  // Which topic levels name the device, the metric and tags ("zigbee2mqtt/{device}",
  // "shellies/{device}/sensor/{metric}"); empty: ".../devices/<id>/..." names the device. With a
  // template and no `topics`, the input subscribes to the template's filter.
  TopicTemplate topic_template;
  // line: the tag holding the device id (Telegraf's is "host").
  std::string device_tag = "device";
  // json_fields: strings = "labels" (label readings) or "ignore"; the key path of the time leaf
  // ("" = the receive time) and its format.
  StringLeaves strings = StringLeaves::kLabels;
  std::string time_field;
  TimeFormat time_format = TimeFormat::kRfc3339;
  // MQTT: the local broker's connection (the keys of config::read_mqtt_connection; client_id
  // defaults to "edgesketch-agent-<gateway_id>-<name>", the persistent session lives under it),
  // topic filters and their QoS (0 or 1).
  net::MqttConnection mqtt;
  std::vector<std::string> topics = {"devices/+/readings"};
  int qos = 1;
  // UDP: "ADDRESS:PORT" to bind.
  std::string bind = "127.0.0.1:9782";
  // UDP: the socket's receive buffer (SO_RCVBUF, capped by net.core.rmem_max); 0 = the system
  // default. What overflows it is dropped by the kernel and counted.
  std::uint64_t receive_buffer_bytes = 0;
  // Parsed payloads the input's ring holds before MQTT blocks or UDP drops.
  std::uint32_t ring_capacity = 1024;
  // The bytes of parsed readings the input's ring holds (queued, and on its free list) before
  // MQTT blocks or UDP drops, whichever of the two bounds is reached first; a payload larger
  // than this alone passes into an empty ring (ring/reading_ring.h).
  std::uint64_t ring_bytes = ReadingRing::kDefaultMaxBytes;  // 16 MiB
};

// [journal]
struct JournalConfig {
  std::string dir;  // default <data_dir>/journal
  std::int64_t fsync_interval_ms = 100;
  std::uint64_t segment_bytes = 8u << 20;
};

// [outbox]
struct OutboxConfig {
  std::string path;  // default <data_dir>/outbox.db
  std::uint64_t max_bytes = 64u << 20;
  // Windows of the coarsening levels, finest first.
  std::vector<std::uint32_t> coarsen_ms = {60'000, 3'600'000};
};

// [uplink]
struct UplinkConfig {
  // The collector-side broker's connection (the keys of config::read_mqtt_connection). The
  // broker is required unless http_fallback_url is set; client_id defaults to
  // "edgesketch-agent-<gateway_id>".
  net::MqttConnection mqtt{.uri = ""};
  int qos = 1;
  std::int64_t resend_timeout_ms = 30'000;
  // Backlog lane rate cap, batches per second (0 = none).
  double backlog_rate_cap = 20;
  // Bounds of one WindowBatch.
  std::uint32_t batch_max_records = 2'000;
  std::uint64_t batch_max_bytes = 512u << 10;
  // compression = "zstd" (default) | "none", compression_level = 1..19 (default 3): batches are
  // stored in the outbox and sent as one zstd frame (wire/compression.h); 0 = uncompressed, for
  // collectors older than the compressed wire format.
  int zstd_level = 3;
  // HTTP fallback (POST /api/v1/ingest); "" = off.
  std::string http_fallback_url;
  std::string http_fallback_token;
};

// [metrics]
struct MetricsConfig {
  std::string listen = "127.0.0.1:9781";
};

// [self_metrics]: the agent's own health shipped as series (window/self_metrics.h).
struct SelfMetricsConfig {
  bool enabled = true;
  // Sampling interval, 1 s .. 1 h; the built-in rule's window is this rounded up to a valid
  // window (self_metrics_window_ms()).
  std::int64_t interval_ms = 10'000;
};

struct AgentConfig {
  AgentSection agent;
  std::vector<InputConfig> inputs;
  JournalConfig journal;
  // [enrich], [privacy], [[filter]]: what happens to readings before the rules
  // (process/edge_processor.h). Reloaded on SIGHUP with the rules.
  ProcessingConfig processing;
  // [[rule]]; when the file has none, {default_rule()}.
  std::vector<RuleSpec> rules;
  // [window]
  WindowOptions window;
  OutboxConfig outbox;
  UplinkConfig uplink;
  MetricsConfig metrics;
  SelfMetricsConfig self_metrics;
  // What loads but deserves the operator's attention (deprecated key spellings), one
  // "<source>: '<key path>': <what>" line each. The daemon logs them at start and
  // --check-config prints them.
  std::vector<std::string> warnings;
};

// Parses and validates a config. `source` names the text in messages (usually the file path).
// kInvalidArgument with "<source>:<line>:<column>: <what>" for a syntax error, else one
// "<source>: '<key path>': <what>" line per unknown key, wrong type or bad value.
Result<AgentConfig> parse_agent_config(std::string_view text, std::string_view source = "config");

// Reads the file and parse_agent_config()s it; kNotFound / kIoError when it cannot be read.
Result<AgentConfig> load_agent_config(const std::string& path);

// The payload parser's options of an input.
ParserOptions parser_options(const InputConfig& input);

// The aggregator's options as the config describes them (clock left null).
AggregatorOptions aggregator_options(const AgentConfig& config);

// The options of the self-metrics aggregator: the built-in rule only (self_metrics_rule()), no
// allowed lateness (one clock, samples in order: a window closes at the first sample past its
// end), the [window] clock bounds and the [uplink] batch bounds (clock left null).
AggregatorOptions self_aggregator_options(const AgentConfig& config);

}  // namespace edgesketch::agent
