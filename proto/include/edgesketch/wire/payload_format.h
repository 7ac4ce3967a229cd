// The payload formats devices publish to an agent's inputs: the agent parses them, the simulator
// writes them. docs/agent.md describes each.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace edgesketch::wire {

// The values are stable: the agent's journal stores them in its record types.
enum class PayloadFormat : std::uint8_t {
  kNanopb = 0,      // edgesketch.v1.ReadingBatch (columnar Samples or rows)
  kJson = 1,        // edgesketch's JSON reading batch (docs/agent.md)
  kLine = 2,        // InfluxDB line protocol, every field a reading
  kJsonFields = 3,  // any flat or nested JSON object, every leaf a reading (Zigbee2MQTT, Tasmota)
  kValue = 4,       // one bare value per message (Home Assistant, ESPHome, Shelly state topics)
};

// Every format, in enum order.
inline constexpr PayloadFormat kPayloadFormats[] = {
    PayloadFormat::kNanopb, PayloadFormat::kJson, PayloadFormat::kLine, PayloadFormat::kJsonFields,
    PayloadFormat::kValue};

// "nanopb", "json", "line", "json_fields", "value".
std::string_view payload_format_name(PayloadFormat format);
// The format of a name payload_format_name() gives; nullopt for any other name.
std::optional<PayloadFormat> parse_payload_format(std::string_view name);

}  // namespace edgesketch::wire
