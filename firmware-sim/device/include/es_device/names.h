/* Names of the simulated fleet: metrics, devices, sites, lines and event labels. All of them are
 * functions of seed-independent indices, so tests can predict them. */
#ifndef ES_DEVICE_NAMES_H_
#define ES_DEVICE_NAMES_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The metrics a simulated device can sample, in the order they appear in a ReadingBatch. */
typedef enum es_metric {
  ES_METRIC_TEMPERATURE = 0, /* degrees Celsius */
  ES_METRIC_HUMIDITY = 1,    /* percent relative humidity */
  ES_METRIC_PRESSURE = 2,    /* hPa */
  ES_METRIC_VIBRATION = 3,   /* mm/s RMS */
  ES_METRIC_EVENT = 4,       /* categorical: error code label "E000".."E255" */
  ES_METRIC_COUNT = 5
} es_metric;

/* Longest name these functions produce, including the terminating NUL. */
#define ES_NAME_MAX 16

/* "temperature", "humidity", "pressure", "vibration", "event"; "" for an invalid value. */
const char* es_metric_name(es_metric metric);

/* The metric called `name` (NUL-terminated), or -1 when there is none. */
int es_metric_from_name(const char* name);

/* 1 when the metric carries labels instead of numeric values (only ES_METRIC_EVENT). */
int es_metric_is_categorical(es_metric metric);

/* Site and line of a device: sites are dealt round-robin, lines round-robin within a site, so
 * any device count spreads evenly: site = index % sites, line = (index / sites) % lines. */
uint32_t es_device_site_index(uint32_t device_index, uint32_t site_count);
uint32_t es_device_line_index(uint32_t device_index, uint32_t site_count, uint32_t line_count);

/* Each writes a NUL-terminated name into out[cap] and returns its length, or 0 when cap is too
 * small. "dev-0042" (at least 4 digits), "site-03" (at least 2), "line-2" (at least 1),
 * "E017" (at least 3). */
size_t es_format_device_id(uint32_t device_index, char* out, size_t cap);
size_t es_format_site(uint32_t site_index, char* out, size_t cap);
size_t es_format_line(uint32_t line_index, char* out, size_t cap);
size_t es_format_event_label(uint32_t code, char* out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ES_DEVICE_NAMES_H_ */
