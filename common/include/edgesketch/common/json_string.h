// JSON string literals, written the way Go's encoding/json writes them, so the Prometheus API,
// the simulator's payloads and its truth files all escape alike.
#pragma once

#include <string>
#include <string_view>

namespace edgesketch {

// Appends `s` as a JSON string literal: '"' and '\' escaped, \n \r \t by name, other control
// characters and the HTML-sensitive <, >, & as \u00XX, U+2028/U+2029 as \u2028/\u2029, and each
// byte of invalid UTF-8 as \ufffd.
void append_json_string(std::string& out, std::string_view s);

}  // namespace edgesketch
