// MqttConnection: the settings of one MQTT connection (broker, identity, credentials, TLS,
// reconnect delays), the same for every MQTT client of edgesketch: the agent's MQTT inputs and
// its uplink, and the collector. Config files fill it through one reader
// (config::read_mqtt_connection, es_config); net::MqttLink and net::MqttSubscriber connect with
// it.
//
// Plain values; no MQTT client code, so config code can fill it without linking Paho.
#pragma once

#include <string>

#include "edgesketch/net/backoff.h"

namespace edgesketch::net {

struct MqttConnection {
  // "tcp://HOST:PORT" (or "mqtt://HOST:PORT"), or "ssl://HOST:PORT" for TLS (see ca_file).
  // Config key: broker.
  std::string uri = "tcp://127.0.0.1:1883";
  // Must be stable across restarts and unique on the broker: the persistent session is kept
  // under it. The clients refuse an empty one.
  std::string client_id;
  // Empty: no credentials. MQTT sends a password only together with a username.
  std::string username;
  std::string password;
  // Read at every connect attempt (its first line), so a rotated password needs no restart;
  // overrides `password`. A file that cannot be read fails that attempt (retried with backoff).
  std::string password_file;
  // TLS, for ssl:// URIs only: the CA certificate(s) the broker's certificate must chain to, and
  // an optional client certificate and key (PEM; both or neither). The files are read at every
  // connect, so renewed certificates take effect at the next reconnect. The broker's
  // certificate must name the host of `uri`. Config keys: tls_ca_file, tls_cert_file,
  // tls_key_file.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Delays between connect attempts after a failure or a lost connection (exponential, with
  // jitter). Config keys: reconnect_min, reconnect_max.
  BackoffOptions backoff;
  // false: persistent session (the broker keeps subscriptions and queues QoS 1 messages while
  // the client is away). Not a config key: the agent's and the collector's delivery guarantees
  // rely on persistent sessions.
  bool clean_session = false;
  int keepalive_s = 30;
  // Bound on one connect attempt (TCP + TLS + CONNACK) and on one SUBACK.
  int connect_timeout_ms = 5000;
};

// One topic filter a client subscribes to after every connect.
struct MqttSubscription {
  std::string topic_filter;
  int qos = 1;  // 0 or 1
};

}  // namespace edgesketch::net
