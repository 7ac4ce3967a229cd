// Fuzz target for the [enrich] device registry's CSV parser (agent/process/device_registry.h):
// any bytes either fail with kInvalidArgument naming the source, or yield a registry in which
// every device is found again, rows' cells are sorted by key and within the limits, and no value
// holds a control character.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "process/device_registry.h"

using namespace edgesketch;
using edgesketch::agent::DeviceRegistry;

namespace {

using edgesketch::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  agent::RegistryLimits limits;
  limits.max_bytes = 1 << 16;
  limits.max_devices = 1000;
  limits.max_tag_columns = 4;
  limits.max_value_bytes = 32;
  auto reg = DeviceRegistry::parse(text, "fuzz.csv", limits);
  if (!reg.ok()) {
    check(reg.status().code() == StatusCode::kInvalidArgument);
    check(reg.status().message().rfind("fuzz.csv", 0) == 0);
    return 0;
  }
  check(reg->devices() <= limits.max_devices);
  check(reg->tag_keys().size() <= limits.max_tag_columns);
  for (std::uint32_t row = 0; row < reg->devices(); ++row) {
    const std::string_view dev = reg->device(row);
    check(!dev.empty() && dev.size() <= limits.max_value_bytes);
    check(reg->find(dev) == row);  // found again, and unique
    std::string last;
    bool first = true;
    for (const DeviceRegistry::Cell& c : reg->cells(row)) {
      const std::string key(reg->key(c));
      check(first || last < key);
      first = false;
      last = key;
      const std::string_view v = reg->value(c);
      check(!v.empty() && v.size() <= limits.max_value_bytes);
      for (char ch : v) check(static_cast<unsigned char>(ch) >= 0x20 && ch != '\x7f');
    }
  }
  return 0;
}
