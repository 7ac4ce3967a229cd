/* The sensor models documented in sensor.h. */
#include "es_device/sensor.h"

#include <math.h>

#define SPIKE_PROBABILITY 0.002
#define SPIKE_XM 4.0
#define SPIKE_ALPHA 1.5

static double clamp(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

double es_sensor_site_offset(es_metric metric, uint32_t site_index) {
  switch (metric) {
    case ES_METRIC_TEMPERATURE:
      return ((double)((site_index * 7u) % 11u) - 5.0) * 0.6;
    case ES_METRIC_HUMIDITY:
      return (double)((site_index * 13u) % 21u) - 10.0;
    case ES_METRIC_PRESSURE:
      return -1.5 * (double)site_index;
    default:
      return 0.0;
  }
}

static void init_environmental(es_sensor* s, double nominal, double device_sd, double tau_s,
                               double drift_sd, double noise_sd, double lo, double hi,
                               uint32_t site_index, double period_s) {
  double keep = exp(-period_s / tau_s);
  s->base =
      nominal + es_sensor_site_offset(s->metric, site_index) + device_sd * es_rng_normal(&s->rng);
  s->drift_keep = keep;
  s->drift_step_sd = drift_sd * sqrt(1.0 - keep * keep);
  /* Start in the stationary distribution, so there is no warm-up transient. */
  s->drift = drift_sd * es_rng_normal(&s->rng);
  s->noise_sd = noise_sd;
  s->lo = lo;
  s->hi = hi;
}

void es_sensor_init(es_sensor* sensor, es_metric metric, uint64_t seed, uint32_t device_index,
                    uint32_t site_index, double period_s, const es_zipf* codes) {
  es_sensor* s = sensor;
  s->metric = metric;
  es_rng_seed(&s->rng, es_seed_mix(seed, device_index, (uint64_t)metric));
  s->base = s->drift = s->drift_keep = s->drift_step_sd = s->noise_sd = 0.0;
  s->lo = s->hi = 0.0;
  s->log_mu = s->log_sigma = 0.0;
  s->codes = 0;
  switch (metric) {
    case ES_METRIC_TEMPERATURE:
      init_environmental(s, 21.0, 0.5, 1800.0, 1.0, 0.05, ES_TEMPERATURE_MIN, ES_TEMPERATURE_MAX,
                         site_index, period_s);
      break;
    case ES_METRIC_HUMIDITY:
      init_environmental(s, 45.0, 2.0, 1200.0, 4.0, 0.3, ES_HUMIDITY_MIN, ES_HUMIDITY_MAX,
                         site_index, period_s);
      break;
    case ES_METRIC_PRESSURE:
      init_environmental(s, 1013.25, 0.3, 3600.0, 1.5, 0.05, ES_PRESSURE_MIN, ES_PRESSURE_MAX,
                         site_index, period_s);
      break;
    case ES_METRIC_VIBRATION:
      s->log_mu = log(0.8) + 0.25 * es_rng_normal(&s->rng);
      s->log_sigma = 0.35;
      s->lo = ES_VIBRATION_MIN;
      s->hi = ES_VIBRATION_MAX;
      break;
    case ES_METRIC_EVENT:
      s->codes = codes;
      break;
    default:
      break;
  }
}

double es_sensor_sample(es_sensor* sensor) {
  es_sensor* s = sensor;
  double v;
  if (s->metric == ES_METRIC_VIBRATION) {
    v = exp(s->log_mu + s->log_sigma * es_rng_normal(&s->rng));
    if (es_rng_uniform(&s->rng) < SPIKE_PROBABILITY) {
      /* Pareto factor by inversion: xm * U^(-1/alpha). */
      v *= SPIKE_XM * exp(-log(es_rng_uniform_open(&s->rng)) / SPIKE_ALPHA);
    }
    return clamp(v, s->lo, s->hi);
  }
  s->drift = s->drift * s->drift_keep + s->drift_step_sd * es_rng_normal(&s->rng);
  v = s->base + s->drift + s->noise_sd * es_rng_normal(&s->rng);
  return clamp(v, s->lo, s->hi);
}

uint16_t es_sensor_sample_code(es_sensor* sensor) {
  return es_zipf_code(sensor->codes, es_rng_uniform(&sensor->rng));
}
