// "HOST:PORT" as config files and flags write addresses ("127.0.0.1:9781", "[::1]:9781",
// "broker.local:1883"): one parser for the listen addresses, the UDP binds and the brokers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace edgesketch {

struct HostPort {
  std::string host;  // without the brackets of "[::1]"
  int port = 0;      // 0..65535; 0 is "any free port" where the caller allows it
};

// Splits `text` at its last ':': a non-empty host and a port of decimal digits up to 65535.
// nullopt otherwise. The host is not checked further (a name or an address).
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace edgesketch
