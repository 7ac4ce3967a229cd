// Turns a batch into the bytes of one message in any of the payload formats.
//
//  nanopb  edgesketch.v1.ReadingBatch (es_encode_batch; see es_device/encode.h).
//  json    {"device_id":"dev-0001","tags":{"site":"site-01","line":"line-0"},"batch_seq":7,
//           "readings":[{"metric":"vibration","ts_ms":1700000000005,"value":0.81},
//                       {"metric":"event","ts_ms":1700000000009,"label":"E017"}]}
//  line    InfluxDB line protocol, one line per reading, ms timestamps, tags sorted by key:
//           vibration,device=dev-0001,line=line-0,site=site-01 value=0.81 1700000000005
//           event,device=dev-0001,line=line-0,site=site-01 label="E017" 1700000000009
//
// Readings appear in the batch's canonical order (es_device/batch.h) in every format. Numbers are
// printed in the shortest form that parses back to the same double.
#pragma once

#include <string>

#include "edgesketch/common/status.h"
#include "es_device/batch.h"
#include "sim_options.h"

namespace edgesketch::sim {

// Replaces *out with the payload. Fails only for a batch that breaks a wire limit.
Status encode_payload(const es_batch& batch, PayloadFormat format, std::string& out);

}  // namespace edgesketch::sim
