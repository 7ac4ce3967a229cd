/* Deterministic pseudo-random numbers for the device core: xoshiro256** seeded through
 * splitmix64. Every sensor owns one stream, so a run is a pure function of its seed. */
#ifndef ES_DEVICE_RNG_H_
#define ES_DEVICE_RNG_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One xoshiro256** stream plus the spare value of the polar normal method. Plain data: copy it
 * to fork a stream, zero it never (seed it). Not thread-safe; each owner uses its own. */
typedef struct es_rng {
  uint64_t s[4];
  double spare_normal;
  int has_spare_normal;
} es_rng;

/* splitmix64: advances *state and returns the next output (used for seeding and hashing). */
uint64_t es_splitmix64(uint64_t* state);

/* Mixes a seed with two stream coordinates (e.g. device index, metric) into an independent
 * stream seed: es_seed_mix(s, a, b) != es_seed_mix(s, a', b') for (a, b) != (a', b'). */
uint64_t es_seed_mix(uint64_t seed, uint64_t a, uint64_t b);

/* Seeds the stream (any seed, including 0, gives a valid non-zero state). */
void es_rng_seed(es_rng* rng, uint64_t seed);

/* Next 64 random bits. */
uint64_t es_rng_next(es_rng* rng);

/* Uniform double in [0, 1) with 53 random bits. */
double es_rng_uniform(es_rng* rng);

/* Uniform double in (0, 1): never 0, safe for log(). */
double es_rng_uniform_open(es_rng* rng);

/* Uniform integer in [0, n); n > 0. Lemire's multiply-shift (bias below 2^-32 for small n). */
uint32_t es_rng_below(es_rng* rng, uint32_t n);

/* Standard normal N(0, 1) by Marsaglia's polar method (needs log and sqrt from <math.h>). */
double es_rng_normal(es_rng* rng);

#ifdef __cplusplus
}
#endif

#endif /* ES_DEVICE_RNG_H_ */
