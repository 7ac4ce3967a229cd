/* Zipf-distributed categorical codes: code k (0-based rank) has probability
 * (k + 1)^-s / H(n, s). The table is built once and shared read-only by every device. */
#ifndef ES_DEVICE_ZIPF_H_
#define ES_DEVICE_ZIPF_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ES_ZIPF_MAX_CODES 256

/* The cumulative distribution of n codes. Immutable after es_zipf_init: safe to share between
 * devices (and threads). */
typedef struct es_zipf {
  uint16_t n;
  double cdf[ES_ZIPF_MAX_CODES]; /* cdf[k] = P(code <= k); cdf[n - 1] == 1 */
} es_zipf;

/* Builds the table for n in [1, ES_ZIPF_MAX_CODES] codes and exponent s > 0.
 * Returns 0, or -1 (table untouched) for invalid arguments. */
int es_zipf_init(es_zipf* zipf, uint32_t n, double s);

/* The code whose CDF interval holds u in [0, 1): the smallest k with u < cdf[k]. */
uint16_t es_zipf_code(const es_zipf* zipf, double u);

/* P(code == k); 0 for k >= n. */
double es_zipf_probability(const es_zipf* zipf, uint32_t k);

#ifdef __cplusplus
}
#endif

#endif /* ES_DEVICE_ZIPF_H_ */
