/* A batch of readings of one device, ready to encode: what one message carries.
 *
 * Readings are grouped by metric (groups in ascending es_metric order, one group per metric) and
 * in time order within a group; this is the canonical order of a batch in every payload format
 * and in the record file. Reading i of group g is at index groups[g].first + i of the columns. */
#ifndef ES_DEVICE_BATCH_H_
#define ES_DEVICE_BATCH_H_

#include <stdint.h>

#include "es_device/names.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most readings in one batch (the Samples.values limit of proto/edgesketch.options). */
#define ES_BATCH_MAX_READINGS 256
/* Most labels of one metric in one batch (the Samples.labels limit). */
#define ES_BATCH_MAX_LABELS 32

typedef struct es_batch_group {
  uint8_t metric; /* es_metric */
  uint16_t first; /* index of its first reading in the columns */
  uint16_t count; /* > 0 */
} es_batch_group;

/* Plain data (about 5 KB): the caller owns it, usually one per sender, reused for every batch. */
typedef struct es_batch {
  char device_id[ES_NAME_MAX];
  char site[ES_NAME_MAX]; /* batch tag "site" */
  char line[ES_NAME_MAX]; /* batch tag "line" */
  uint64_t batch_seq;     /* the device's message counter, from 1 */
  int64_t ready_ms;       /* true (unskewed) time at which the batch became ready to send */
  uint16_t count;         /* readings in all groups */
  uint8_t group_count;
  es_batch_group groups[ES_METRIC_COUNT];
  int64_t ts_ms[ES_BATCH_MAX_READINGS];  /* device clock, Unix ms (skew applied) */
  double values[ES_BATCH_MAX_READINGS];  /* numeric metrics */
  uint16_t codes[ES_BATCH_MAX_READINGS]; /* ES_METRIC_EVENT: label es_format_event_label(code) */
} es_batch;

#ifdef __cplusplus
}
#endif

#endif /* ES_DEVICE_BATCH_H_ */
