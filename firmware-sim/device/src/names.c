/* Fleet naming without stdio: prefix plus a zero-padded decimal number. */
#include "es_device/names.h"

#include <string.h>

static const char* const kMetricNames[ES_METRIC_COUNT] = {"temperature", "humidity", "pressure",
                                                          "vibration", "event"};

const char* es_metric_name(es_metric metric) {
  if ((int)metric < 0 || metric >= ES_METRIC_COUNT) return "";
  return kMetricNames[metric];
}

int es_metric_from_name(const char* name) {
  int i;
  for (i = 0; i < ES_METRIC_COUNT; ++i) {
    if (strcmp(name, kMetricNames[i]) == 0) return i;
  }
  return -1;
}

int es_metric_is_categorical(es_metric metric) { return metric == ES_METRIC_EVENT; }

uint32_t es_device_site_index(uint32_t device_index, uint32_t site_count) {
  return site_count ? device_index % site_count : 0;
}

uint32_t es_device_line_index(uint32_t device_index, uint32_t site_count, uint32_t line_count) {
  if (site_count == 0 || line_count == 0) return 0;
  return (device_index / site_count) % line_count;
}

/* Writes prefix followed by `value` in decimal with at least `width` digits. */
static size_t format_numbered(const char* prefix, uint32_t value, unsigned width, char* out,
                              size_t cap) {
  char digits[10];
  unsigned n = 0;
  size_t prefix_len = strlen(prefix);
  size_t len;
  unsigned i;
  do {
    digits[n++] = (char)('0' + value % 10u);
    value /= 10u;
  } while (value != 0);
  while (n < width && n < sizeof digits) digits[n++] = '0';
  len = prefix_len + n;
  if (out == NULL || cap < len + 1) return 0;
  memcpy(out, prefix, prefix_len);
  for (i = 0; i < n; ++i) out[prefix_len + i] = digits[n - 1 - i];
  out[len] = '\0';
  return len;
}

size_t es_format_device_id(uint32_t device_index, char* out, size_t cap) {
  return format_numbered("dev-", device_index, 4, out, cap);
}

size_t es_format_site(uint32_t site_index, char* out, size_t cap) {
  return format_numbered("site-", site_index, 2, out, cap);
}

size_t es_format_line(uint32_t line_index, char* out, size_t cap) {
  return format_numbered("line-", line_index, 1, out, cap);
}

size_t es_format_event_label(uint32_t code, char* out, size_t cap) {
  return format_numbered("E", code, 3, out, cap);
}
