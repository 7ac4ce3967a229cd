// Turns a batch into the messages of any of the payload formats.
//
//  nanopb       edgesketch.v1.ReadingBatch (es_encode_batch; see es_device/encode.h).
//  json         {"device_id":"dev-0001","tags":{"site":"site-01","line":"line-0"},"batch_seq":7,
//                "readings":[{"metric":"vibration","ts_ms":1700000000005,"value":0.81},
//                            {"metric":"event","ts_ms":1700000000009,"label":"E017"}]}
//  line         InfluxDB line protocol, one line per reading, ms timestamps, tags sorted by key:
//                vibration,device=dev-0001,line=line-0,site=site-01 value=0.81 1700000000005
//                event,device=dev-0001,line=line-0,site=site-01 label="E017" 1700000000009
//  line-fields  one line per row (align_rows()), every metric a field, values at the sensors'
//               resolution (round_to_sensor_resolution()):
//                iot,device=dev-0001,line=line-0,site=site-01 temperature=21.53,humidity=45.2,
//                pressure=1013.1,vibration=0.81,event="E017" 1700000000005
//  json-fields  one Zigbee2MQTT-shaped object per row, the row's time as "last_seen" (Unix ms,
//               Zigbee2MQTT's `last_seen: epoch`):
//                {"temperature":21.53,"humidity":45.2,"vibration":0.81,"last_seen":1700000000005}
//  value        one message per reading, the bare value or label: 21.53, E017
//
// Topics (the levels after the simulator's --topic-prefix): "<device>/readings" (nanopb, json,
// line), "<device>" (json-fields, as zigbee2mqtt/<device>), "<device>/<metric>" (value, as
// shellies/<device>/sensor/<metric>), kLineFieldsTopic (line-fields: messages carry the lines of
// many devices, as Telegraf's MQTT output with batch = true).
//
// Readings appear in the batch's canonical order (es_device/batch.h) in every single-message
// format, row by row in the row formats. Numbers are printed in the shortest form that parses
// back to the same double.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "es_device/batch.h"
#include "sim_options.h"

namespace edgesketch::sim {

// The topic (after the prefix) of line-fields messages.
inline constexpr std::string_view kLineFieldsTopic = "edgesketch-sim/iot";
// The json-fields key of a row's time.
inline constexpr std::string_view kJsonFieldsTimeKey = "last_seen";

// The row formats (line-fields, json-fields) send a row of readings with one time. Row j holds
// reading j of every metric group that has one; align_rows() stamps all of them with the time of
// the row's first reading (in metric order), so the batch says what is sent and recorded.
bool is_row_format(SimFormat format);
void align_rows(es_batch& batch);
// Rows of a batch: its largest metric group.
std::uint16_t row_count(const es_batch& batch);

// What the devices behind the row formats and value report: values at their sensors' resolution
// (temperature, humidity and pressure to 0.01, vibration to 0.001, as in "22.13", "1013.25",
// "0.412"), not every digit of the model's double. The batch's values are rounded in place, so
// the record holds what is sent.
bool sends_sensor_resolution(SimFormat format);
void round_to_sensor_resolution(es_batch& batch);

// One message of an encoded batch.
struct EncodedMessage {
  std::string topic;  // after the prefix
  std::string payload;
  std::vector<std::uint16_t> readings;  // indexes of the readings it carries (batch columns)
};

// A batch as its format sends it: one message (nanopb, json, line, line-fields), one per row
// (json-fields) or one per reading (value). Slots and their strings are reused across batches.
class EncodedBatch {
 public:
  void clear() { size_ = 0; }
  // The next message, cleared (capacity kept).
  EncodedMessage& add();
  std::span<EncodedMessage> messages() { return {items_.data(), size_}; }
  std::span<const EncodedMessage> messages() const { return {items_.data(), size_}; }

 private:
  std::vector<EncodedMessage> items_;
  std::size_t size_ = 0;
};

// Replaces `out` with the batch's messages. The row formats expect an align_rows()ed batch. Fails
// only for a batch that breaks a wire limit.
Status encode_batch(const es_batch& batch, SimFormat format, EncodedBatch& out);

// The payload of a single-message format (nanopb, json, line, line-fields: the batch's lines).
Status encode_payload(const es_batch& batch, SimFormat format, std::string& out);

}  // namespace edgesketch::sim
