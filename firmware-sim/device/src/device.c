/* The device main loop: due-time scheduling of sensors and batching (see device.h). */
#include "es_device/device.h"

#include <string.h>

#define PHASE_SALT 0x70686173652d7631ULL /* seed-independent: phases never change with --seed */
#define MAX_RATE_MHZ 1000000u

int64_t es_device_phase_us(uint32_t device_index, es_metric metric, int64_t period_us) {
  if (period_us <= 0) return 0;
  return (int64_t)(es_seed_mix(PHASE_SALT, device_index, (uint64_t)metric) % (uint64_t)period_us);
}

es_device_status es_device_init(es_device* device, const es_device_config* config) {
  es_device* d = device;
  uint32_t site, line;
  int m;
  if (config->site_count == 0 || config->line_count == 0 || config->batch_readings == 0 ||
      config->batch_readings > ES_BATCH_MAX_READINGS || config->max_delay_ms == 0) {
    return ES_DEVICE_INVALID_CONFIG;
  }
  for (m = 0; m < ES_METRIC_COUNT; ++m) {
    if (config->rate_mhz[m] > MAX_RATE_MHZ) return ES_DEVICE_INVALID_CONFIG;
  }
  if (config->rate_mhz[ES_METRIC_EVENT] != 0 &&
      (config->event_codes == 0 || config->event_codes->n == 0)) {
    return ES_DEVICE_INVALID_CONFIG;
  }
  d->config = *config;
  site = es_device_site_index(config->device_index, config->site_count);
  line = es_device_line_index(config->device_index, config->site_count, config->line_count);
  if (es_format_device_id(config->device_index, d->device_id, sizeof d->device_id) == 0 ||
      es_format_site(site, d->site, sizeof d->site) == 0 ||
      es_format_line(line, d->line, sizeof d->line) == 0) {
    return ES_DEVICE_INVALID_CONFIG;
  }
  for (m = 0; m < ES_METRIC_COUNT; ++m) {
    es_device_channel* c = &d->channels[m];
    uint32_t rate = config->rate_mhz[m];
    c->enabled = rate != 0;
    c->period_us = rate ? (int64_t)((1000000000ULL + rate / 2) / rate) : 0;
    c->next_due_us = rate ? config->start_ms * 1000 +
                                es_device_phase_us(config->device_index, (es_metric)m, c->period_us)
                          : 0;
    es_sensor_init(&c->sensor, (es_metric)m, config->seed, config->device_index, site,
                   rate ? (double)c->period_us / 1e6 : 1.0, config->event_codes);
  }
  d->next_seq = 1;
  d->pending_count = 0;
  d->pending_labels = 0;
  d->pending_first_us = 0;
  return ES_DEVICE_OK;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Moves the pending readings into *out, grouped by metric (a stable counting sort). */
static void emit(es_device* d, int64_t ready_us, es_batch* out) {
  uint16_t per_metric[ES_METRIC_COUNT];
  uint16_t next[ES_METRIC_COUNT];
  uint16_t i, pos = 0;
  int m;
  memcpy(out->device_id, d->device_id, sizeof out->device_id);
  memcpy(out->site, d->site, sizeof out->site);
  memcpy(out->line, d->line, sizeof out->line);
  out->batch_seq = d->next_seq++;
  out->ready_ms = floor_div(ready_us, 1000);
  out->count = d->pending_count;
  out->group_count = 0;
  memset(per_metric, 0, sizeof per_metric);
  for (i = 0; i < d->pending_count; ++i) per_metric[d->pending_metric[i]]++;
  for (m = 0; m < ES_METRIC_COUNT; ++m) {
    next[m] = pos;
    if (per_metric[m] != 0) {
      es_batch_group* g = &out->groups[out->group_count++];
      g->metric = (uint8_t)m;
      g->first = pos;
      g->count = per_metric[m];
      pos = (uint16_t)(pos + per_metric[m]);
    }
  }
  for (i = 0; i < d->pending_count; ++i) {
    uint16_t at = next[d->pending_metric[i]]++;
    out->ts_ms[at] = d->pending_ts_ms[i];
    out->values[at] = d->pending_value[i];
    out->codes[at] = d->pending_code[i];
  }
  d->pending_count = 0;
  d->pending_labels = 0;
}

int es_device_poll(es_device* device, int64_t now_ms, es_batch* out) {
  es_device* d = device;
  const int64_t limit_us = (now_ms + 1) * 1000; /* exclusive */
  const int64_t max_delay_us = (int64_t)d->config.max_delay_ms * 1000;
  for (;;) {
    int best = -1;
    int64_t best_due = INT64_MAX;
    int64_t deadline = d->pending_count ? d->pending_first_us + max_delay_us : INT64_MAX;
    int m;
    es_device_channel* c;
    uint16_t at;
    for (m = 0; m < ES_METRIC_COUNT; ++m) {
      if (d->channels[m].enabled && d->channels[m].next_due_us < best_due) {
        best = m;
        best_due = d->channels[m].next_due_us;
      }
    }
    /* A deadline that coincides with a sample closes the batch before the sample. */
    if (deadline <= best_due) {
      if (deadline >= limit_us) return 0;
      emit(d, deadline, out);
      return 1;
    }
    if (best < 0 || best_due >= limit_us) return 0;
    c = &d->channels[best];
    at = d->pending_count;
    if (at == 0) d->pending_first_us = best_due;
    d->pending_metric[at] = (uint8_t)best;
    d->pending_ts_ms[at] = floor_div(best_due, 1000) + d->config.clock_skew_ms;
    if (best == ES_METRIC_EVENT) {
      d->pending_code[at] = es_sensor_sample_code(&c->sensor);
      d->pending_value[at] = 0.0;
      d->pending_labels++;
    } else {
      d->pending_value[at] = es_sensor_sample(&c->sensor);
      d->pending_code[at] = 0;
    }
    d->pending_count++;
    c->next_due_us += c->period_us;
    if (d->pending_count >= d->config.batch_readings || d->pending_labels >= ES_BATCH_MAX_LABELS) {
      emit(d, best_due, out);
      return 1;
    }
  }
}

int es_device_flush(es_device* device, int64_t now_ms, es_batch* out) {
  if (device->pending_count == 0) return 0;
  emit(device, now_ms * 1000, out);
  return 1;
}
