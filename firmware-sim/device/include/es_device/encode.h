/* Encodes an es_batch as an edgesketch.v1.ReadingBatch (proto/edgesketch.proto) into a
 * caller-provided buffer, without heap.
 *
 * Wire content: device_id = batch->device_id; tags = [{site}, {line}] in that order (the gateway
 * adds `device` from device_id); one Samples per group in group order with metric name,
 * base_ms = the group's first timestamp, ts_delta_ms[i] = ts[i] - ts[i-1] (ts[-1] = base_ms, so
 * ts_delta_ms[0] = 0), and values (numeric) or labels ("E017", categorical); no row-form
 * readings; batch_seq.
 *
 * Two encoders produce byte-identical output (a test checks it):
 *  - es_encode_batch: the fast path. It computes the exact size first, then writes through
 *    nanopb's stream primitives (pb_encode_tag / pb_encode_varint / pb_write) with the generated
 *    field numbers; packed arrays are written in bulk rather than element by element.
 *  - es_encode_batch_reference: fills the generated edgesketch_v1_ReadingBatch struct and calls
 *    pb_encode(). Simple and obviously right, about half as fast; needs a ~45 KB scratch struct.
 */
#ifndef ES_DEVICE_ENCODE_H_
#define ES_DEVICE_ENCODE_H_

#include <stddef.h>
#include <stdint.h>

#include "edgesketch.pb.h"
#include "es_device/batch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum es_encode_status {
  ES_ENCODE_OK = 0,
  ES_ENCODE_BUFFER_TOO_SMALL = -1, /* nothing useful was written; *out_len = size needed */
  ES_ENCODE_INVALID_BATCH = -2     /* breaks a wire limit (group counts, labels, int32 deltas) */
} es_encode_status;

/* Exact encoded size of the batch in bytes, or 0 when the batch is invalid. */
size_t es_encoded_size(const es_batch* batch);

/* Writes the batch into buf[cap]; on success *out_len is the encoded length. On
 * ES_ENCODE_BUFFER_TOO_SMALL *out_len is the size that would have been needed. */
es_encode_status es_encode_batch(const es_batch* batch, uint8_t* buf, size_t cap, size_t* out_len);

/* The same bytes via the generated struct and pb_encode(). `scratch` is overwritten. */
es_encode_status es_encode_batch_reference(const es_batch* batch,
                                           edgesketch_v1_ReadingBatch* scratch, uint8_t* buf,
                                           size_t cap, size_t* out_len);

#ifdef __cplusplus
}
#endif

#endif /* ES_DEVICE_ENCODE_H_ */
