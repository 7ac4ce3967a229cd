/* Sensor models of a simulated device. Each sensor owns its PRNG stream, seeded from
 * (fleet seed, device index, metric), so a sensor's sequence does not depend on which other
 * metrics are enabled or how readings are batched.
 *
 * Models (site offsets are seed-independent functions of the site index; per-device offsets
 * come from the seed):
 *  - temperature: 21 C + site offset in [-3, 3] + device offset N(0, 0.5) + slow drift
 *    (Ornstein-Uhlenbeck, time constant 30 min, stationary sd 1.0) + noise N(0, 0.05);
 *    clamped to the sensor range [-40, 85].
 *  - humidity: 45 % + site offset in [-10, 10] + device offset N(0, 2) + drift (20 min, sd 4)
 *    + noise N(0, 0.3); clamped to [0, 100].
 *  - pressure: 1013.25 hPa - 1.5 hPa per site index (altitude) + device offset N(0, 0.3)
 *    + drift (1 h, sd 1.5) + noise N(0, 0.05); clamped to [300, 1100].
 *  - vibration: lognormal exp(mu + 0.35 N(0, 1)) with per-device mu = ln(0.8) + N(0, 0.25), so
 *    some machines run rougher; with probability 0.002 a sample is a spike multiplied by a
 *    Pareto(xm = 4, alpha = 1.5) factor (heavy tail); clamped to [0, 10000].
 *  - event: an error code drawn from the shared Zipf table (rank 0 is the most frequent).
 * Uses sqrt/log/exp/pow from <math.h>; no heap, no I/O. */
#ifndef ES_DEVICE_SENSOR_H_
#define ES_DEVICE_SENSOR_H_

#include <stdint.h>

#include "es_device/names.h"
#include "es_device/rng.h"
#include "es_device/zipf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Clamp ranges of the numeric models (what a plausibility test may assert). */
#define ES_TEMPERATURE_MIN (-40.0)
#define ES_TEMPERATURE_MAX 85.0
#define ES_HUMIDITY_MIN 0.0
#define ES_HUMIDITY_MAX 100.0
#define ES_PRESSURE_MIN 300.0
#define ES_PRESSURE_MAX 1100.0
#define ES_VIBRATION_MIN 0.0
#define ES_VIBRATION_MAX 10000.0

/* State of one sensor. Plain data owned by its device; not thread-safe. */
typedef struct es_sensor {
  es_metric metric;
  es_rng rng;
  /* environmental models */
  double base;          /* site + device offset around the nominal value */
  double drift;         /* current Ornstein-Uhlenbeck deviation */
  double drift_keep;    /* exp(-dt / tau) for the sampling period dt */
  double drift_step_sd; /* sd * sqrt(1 - keep^2): keeps the stationary sd at any rate */
  double noise_sd;
  double lo, hi;
  /* vibration */
  double log_mu;
  double log_sigma;
  /* event */
  const es_zipf* codes;
} es_sensor;

/* The site offset of a metric's nominal value: seed-independent, for tests and documentation. */
double es_sensor_site_offset(es_metric metric, uint32_t site_index);

/* Prepares a sensor sampled every period_s seconds (> 0). `codes` is required for
 * ES_METRIC_EVENT (and must outlive the sensor), ignored otherwise. */
void es_sensor_init(es_sensor* sensor, es_metric metric, uint64_t seed, uint32_t device_index,
                    uint32_t site_index, double period_s, const es_zipf* codes);

/* Next value of a numeric sensor (any metric but ES_METRIC_EVENT). */
double es_sensor_sample(es_sensor* sensor);

/* Next code of the event sensor, in [0, codes->n). */
uint16_t es_sensor_sample_code(es_sensor* sensor);

#ifdef __cplusplus
}
#endif

#endif /* ES_DEVICE_SENSOR_H_ */
