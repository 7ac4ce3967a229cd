/* Zipf table: normalized cumulative weights, sampled by binary search. */
#include "es_device/zipf.h"

#include <math.h>

int es_zipf_init(es_zipf* zipf, uint32_t n, double s) {
  double total = 0.0;
  double running = 0.0;
  uint32_t k;
  if (zipf == 0 || n == 0 || n > ES_ZIPF_MAX_CODES || !(s > 0.0)) return -1;
  for (k = 0; k < n; ++k) total += pow((double)(k + 1), -s);
  for (k = 0; k < n; ++k) {
    running += pow((double)(k + 1), -s);
    zipf->cdf[k] = running / total;
  }
  zipf->cdf[n - 1] = 1.0; /* exact, whatever the rounding of the sum */
  zipf->n = (uint16_t)n;
  return 0;
}

uint16_t es_zipf_code(const es_zipf* zipf, double u) {
  uint32_t lo = 0;
  uint32_t hi = zipf->n - 1u;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2u;
    if (u < zipf->cdf[mid]) {
      hi = mid;
    } else {
      lo = mid + 1u;
    }
  }
  return (uint16_t)lo;
}

double es_zipf_probability(const es_zipf* zipf, uint32_t k) {
  if (k >= zipf->n) return 0.0;
  return k == 0 ? zipf->cdf[0] : zipf->cdf[k] - zipf->cdf[k - 1];
}
