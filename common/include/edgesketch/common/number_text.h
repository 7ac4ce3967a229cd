// Numbers appended to text in the shortest form that reads back to the same value
// (std::to_chars): the simulator's payloads and record export, and wherever JSON or a line
// protocol is written by hand.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>

namespace edgesketch {

inline void append_double(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

inline void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace edgesketch
