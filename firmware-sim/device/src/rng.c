/* xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "es_device/rng.h"

#include <math.h>

uint64_t es_splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t es_seed_mix(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t st = seed;
  uint64_t h = es_splitmix64(&st);
  st = h ^ (a * 0xD6E8FEB86659FD93ULL);
  h = es_splitmix64(&st);
  st = h ^ (b * 0xA0761D6478BD642FULL);
  return es_splitmix64(&st);
}

void es_rng_seed(es_rng* rng, uint64_t seed) {
  uint64_t st = seed;
  int i;
  for (i = 0; i < 4; ++i) rng->s[i] = es_splitmix64(&st);
  /* splitmix64 never yields four zero words in a row, but keep the invariant explicit. */
  if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0) rng->s[0] = 1;
  rng->spare_normal = 0.0;
  rng->has_spare_normal = 0;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t es_rng_next(es_rng* rng) {
  uint64_t* s = rng->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double es_rng_uniform(es_rng* rng) {
  return (double)(es_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double es_rng_uniform_open(es_rng* rng) {
  return ((double)(es_rng_next(rng) >> 12) + 0.5) * (1.0 / 4503599627370496.0);
}

uint32_t es_rng_below(es_rng* rng, uint32_t n) {
  return (uint32_t)(((es_rng_next(rng) >> 32) * (uint64_t)n) >> 32);
}

double es_rng_normal(es_rng* rng) {
  double u, v, s, f;
  if (rng->has_spare_normal) {
    rng->has_spare_normal = 0;
    return rng->spare_normal;
  }
  do {
    u = 2.0 * es_rng_uniform(rng) - 1.0;
    v = 2.0 * es_rng_uniform(rng) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  f = sqrt(-2.0 * log(s) / s);
  rng->spare_normal = v * f;
  rng->has_spare_normal = 1;
  return u * f;
}
