// read_mqtt_connection: the connection keys of an MQTT table, their old spellings and the checks
// that net::MqttLink would otherwise only make at start.
#include "edgesketch/config/mqtt_connection_reader.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "edgesketch/common/host_port.h"

namespace edgesketch::config {
namespace {

constexpr std::int64_t kMaxReconnectMs = 3'600'000;

std::string_view old_name_of(std::string_view name) {
  for (const RenamedKey& r : kDeprecatedMqttKeys) {
    if (r.name == name) return r.old_name;
  }
  return {};
}

// The spelling of `name` the table uses: its old name when only that one is there.
std::string_view spelling(const TomlTable& t, std::string_view name) {
  const std::string_view old_name = old_name_of(name);
  return !old_name.empty() && !t.has(name) && t.has(old_name) ? old_name : name;
}

// Reads `name` with `read(key, fallback)`, or its old spelling with a warning. Both spellings
// with different values: an error, and the new one wins.
template <typename T, typename Read>
T read_renamed(TomlTable& t, std::string_view name, T fallback, Read read) {
  const std::string_view old_name = old_name_of(name);
  if (!t.has(old_name)) return read(name, std::move(fallback));
  const T old_value = read(old_name, fallback);
  if (!t.has(name)) {
    t.warning(old_name, fmt::format("deprecated, rename it to '{}' (the old name is refused from "
                                    "edgesketch {})",
                                    name, kDeprecatedMqttKeysRefusedFrom));
    return old_value;
  }
  T value = read(name, std::move(fallback));
  if (value == old_value) {
    t.warning(old_name, fmt::format("deprecated, and '{}' gives the same setting: remove '{}' (the "
                                    "old name is refused from edgesketch {})",
                                    t.key_path(name), old_name, kDeprecatedMqttKeysRefusedFrom));
  } else {
    t.error(old_name, fmt::format("deprecated name of '{}', which gives a different value: keep "
                                  "only '{}'",
                                  t.key_path(name), name));
  }
  return value;
}

// What is wrong with a broker URI, or "" when net::MqttLink takes it.
std::string broker_problem(std::string_view uri) {
  for (std::string_view scheme : {"tcp://", "mqtt://", "ssl://"}) {
    if (uri.starts_with(scheme)) {
      const std::optional<HostPort> address = parse_host_port(uri.substr(scheme.size()));
      if (address && address->port > 0) return {};
      break;
    }
  }
  if (uri.starts_with("mqtts://")) {
    return fmt::format("\"{}\": TLS brokers are written \"ssl://HOST:PORT\"", uri);
  }
  return fmt::format("must look like \"tcp://HOST:PORT\" or \"ssl://HOST:PORT\", not \"{}\"", uri);
}

}  // namespace

net::MqttConnection read_mqtt_connection(TomlTable& t, net::MqttConnection defaults) {
  net::MqttConnection c = std::move(defaults);
  auto string = [&t](std::string_view key, std::string fallback) {
    return t.string(key, std::move(fallback));
  };
  auto delay = [&t](std::string_view key, std::int64_t fallback) {
    return t.duration_ms(key, fallback, 1, kMaxReconnectMs);
  };
  c.uri = t.string("broker", c.uri);
  c.client_id = t.string("client_id", c.client_id);
  c.username = t.string("username", c.username);
  c.password = t.string("password", c.password);
  c.password_file = t.string("password_file", c.password_file);
  c.ca_file = read_renamed(t, "tls_ca_file", c.ca_file, string);
  c.cert_file = read_renamed(t, "tls_cert_file", c.cert_file, string);
  c.key_file = read_renamed(t, "tls_key_file", c.key_file, string);
  c.backoff.min_ms = read_renamed(t, "reconnect_min", c.backoff.min_ms, delay);
  c.backoff.max_ms = read_renamed(t, "reconnect_max", c.backoff.max_ms, delay);

  const std::pair<std::string_view, const std::string*> tls_files[] = {
      {"tls_ca_file", &c.ca_file}, {"tls_cert_file", &c.cert_file}, {"tls_key_file", &c.key_file}};
  if (!c.uri.empty()) {
    if (std::string problem = broker_problem(c.uri); !problem.empty()) {
      t.error("broker", problem);
    } else if (!c.uri.starts_with("ssl://")) {
      for (const auto& [name, file] : tls_files) {
        if (file->empty()) continue;
        t.error(spelling(t, name),
                fmt::format("TLS files need an ssl:// broker, and '{}' is \"{}\"",
                            t.key_path("broker"), c.uri));
        break;
      }
    }
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    t.error(spelling(t, c.cert_file.empty() ? "tls_key_file" : "tls_cert_file"),
            fmt::format("a client certificate needs both '{}' and '{}'",
                        t.key_path("tls_cert_file"), t.key_path("tls_key_file")));
  }
  if (c.username.empty()) {
    const std::pair<std::string_view, const std::string*> secrets[] = {
        {"password", &c.password}, {"password_file", &c.password_file}};
    for (const auto& [name, value] : secrets) {
      if (value->empty()) continue;
      t.error(name, fmt::format("is set but '{}' is empty: MQTT sends a password only with a "
                                "username",
                                t.key_path("username")));
    }
  }
  if (c.backoff.max_ms < c.backoff.min_ms) {
    // Name the key the file gives: reconnect_max, else reconnect_min against the default.
    const std::string_view max_key = spelling(t, "reconnect_max");
    const std::string_view min_key = spelling(t, "reconnect_min");
    if (t.has(max_key)) {
      t.error(max_key, fmt::format("{} ms is below '{}' ({} ms)", c.backoff.max_ms,
                                   t.key_path(min_key), c.backoff.min_ms));
    } else {
      t.error(min_key, fmt::format("{} ms is above '{}' ({} ms by default)", c.backoff.min_ms,
                                   t.key_path(max_key), c.backoff.max_ms));
    }
  }
  return c;
}

}  // namespace edgesketch::config
