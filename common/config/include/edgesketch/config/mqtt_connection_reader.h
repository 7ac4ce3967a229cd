// The one reader of MQTT connection settings in config files. Every table that describes an MQTT
// connection takes the same keys, read by read_mqtt_connection(): an agent's [[input]] of type
// "mqtt" and its [uplink], the collector's [mqtt].
//
//   key            type      into net::MqttConnection
//   broker         string    uri: "tcp://HOST:PORT", "mqtt://HOST:PORT" or "ssl://HOST:PORT"
//   client_id      string    client_id
//   username       string    username
//   password       string    password
//   password_file  string    password_file (read at every connect; overrides password)
//   tls_ca_file    string    ca_file     (ssl:// brokers only)
//   tls_cert_file  string    cert_file   (ssl:// only; together with tls_key_file)
//   tls_key_file   string    key_file
//   reconnect_min  duration  backoff.min_ms (1ms .. 1h)
//   reconnect_max  duration  backoff.max_ms (reconnect_min .. 1h)
//
// Renamed keys (kDeprecatedMqttKeys) are still read under their old names, with a warning, until
// the release named by kDeprecatedMqttKeysRefusedFrom; giving both names with different values
// is an error.
#pragma once

#include <array>
#include <string_view>

#include "edgesketch/config/toml_reader.h"
#include "edgesketch/net/mqtt_connection.h"

namespace edgesketch::config {

struct RenamedKey {
  std::string_view old_name;
  std::string_view name;
};

// Old spellings of the connection keys: the agent's [uplink] said backoff_min/backoff_max, the
// collector's [mqtt] said ca_file/cert_file/key_file.
inline constexpr std::array<RenamedKey, 5> kDeprecatedMqttKeys = {{
    {"ca_file", "tls_ca_file"},
    {"cert_file", "tls_cert_file"},
    {"key_file", "tls_key_file"},
    {"backoff_min", "reconnect_min"},
    {"backoff_max", "reconnect_max"},
}};
// The first release that refuses the old spellings (as unknown keys).
inline constexpr std::string_view kDeprecatedMqttKeysRefusedFrom = "0.2";

// Reads the connection keys of `table` over `defaults` (a key that is absent keeps its default)
// and returns the result. Reads only the keys above, so the caller reads its own keys of the
// table and calls table.finish().
//
// Errors (recorded in the table's document, naming the key as written):
//  - a value of the wrong type, a duration out of range;
//  - a non-empty broker that is not tcp://, mqtt:// or ssl://HOST:PORT (an empty one is left
//    to the caller: whether a broker is required depends on the table);
//  - TLS files with a broker that is not ssl://; a client certificate without its key or the
//    reverse; a password or password_file without a username; reconnect_max < reconnect_min;
//  - an old and a new spelling of one key with different values.
// Warnings: each old spelling used.
// client_id is not checked: its default depends on the table (the caller fills it in).
net::MqttConnection read_mqtt_connection(TomlTable& table, net::MqttConnection defaults);

}  // namespace edgesketch::config
