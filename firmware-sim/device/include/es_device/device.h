/* One simulated device: samples its sensors on a fixed schedule and groups the readings into
 * batches, as the firmware's main loop would. No heap, no I/O: the caller drives time with
 * es_device_poll() and sends each ready batch (es_encode_batch() turns it into bytes).
 *
 * Schedule: metric m with rate r_m (millihertz) is sampled at true times
 *   start_ms * 1000 + phase_us(device, m) + k * period_us,  period_us = round(1e9 / r_m),
 * with a seed-independent phase in [0, period_us) that spreads devices over the period. A reading
 * is stamped floor(t_us / 1000) + clock_skew_ms.
 *
 * Batching: a batch is ready when it holds batch_readings readings, when its event group holds
 * ES_BATCH_MAX_LABELS labels, or when max_delay_ms have passed (true time) since its first
 * reading, whichever comes first. Everything is decided in true-time order, so the sequence of
 * batches does not depend on how finely the caller steps time. */
#ifndef ES_DEVICE_DEVICE_H_
#define ES_DEVICE_DEVICE_H_

#include <stdint.h>

#include "es_device/batch.h"
#include "es_device/names.h"
#include "es_device/sensor.h"
#include "es_device/zipf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct es_device_config {
  uint32_t device_index;              /* names, site, line and phases derive from it */
  uint32_t site_count;                /* > 0 */
  uint32_t line_count;                /* > 0 */
  uint64_t seed;                      /* fleet seed */
  int64_t start_ms;                   /* true time of the schedule's origin, Unix ms */
  int64_t clock_skew_ms;              /* added to every reported timestamp */
  uint32_t rate_mhz[ES_METRIC_COUNT]; /* sampling rate per metric in millihertz; 0 = off;
                                         at most 1,000,000 (1 kHz) */
  uint16_t batch_readings;            /* 1..ES_BATCH_MAX_READINGS */
  uint32_t max_delay_ms;              /* > 0 */
  const es_zipf* event_codes;         /* required when the event metric is on; shared */
} es_device_config;

typedef struct es_device_channel {
  es_sensor sensor;
  int64_t period_us;
  int64_t next_due_us; /* true time of the next sample */
  uint8_t enabled;
} es_device_channel;

/* Plain data (about 6 KB); one per simulated device; not thread-safe. */
typedef struct es_device {
  es_device_config config;
  char device_id[ES_NAME_MAX];
  char site[ES_NAME_MAX];
  char line[ES_NAME_MAX];
  es_device_channel channels[ES_METRIC_COUNT];
  uint64_t next_seq;
  /* readings since the last batch, in sampling order */
  uint16_t pending_count;
  uint16_t pending_labels;
  int64_t pending_first_us;
  uint8_t pending_metric[ES_BATCH_MAX_READINGS];
  int64_t pending_ts_ms[ES_BATCH_MAX_READINGS];
  double pending_value[ES_BATCH_MAX_READINGS];
  uint16_t pending_code[ES_BATCH_MAX_READINGS];
} es_device;

typedef enum es_device_status { ES_DEVICE_OK = 0, ES_DEVICE_INVALID_CONFIG = -1 } es_device_status;

/* Seed-independent phase of a metric's schedule for a device, in [0, period_us). */
int64_t es_device_phase_us(uint32_t device_index, es_metric metric, int64_t period_us);

/* Sets the device up from `config` (copied). Returns ES_DEVICE_INVALID_CONFIG (device unusable)
 * for out-of-range fields. */
es_device_status es_device_init(es_device* device, const es_device_config* config);

/* Runs the device up to and including true time now_ms. Returns 1 and fills *out when a batch
 * became ready on the way (the device stops right there: call again with the same now_ms until
 * it returns 0); returns 0 when it reached now_ms with no batch ready. */
int es_device_poll(es_device* device, int64_t now_ms, es_batch* out);

/* Emits the readings still pending as a batch ready at now_ms (end of a run). Returns 1 when
 * there were any, 0 otherwise. */
int es_device_flush(es_device* device, int64_t now_ms, es_batch* out);

#ifdef __cplusplus
}
#endif

#endif /* ES_DEVICE_DEVICE_H_ */
