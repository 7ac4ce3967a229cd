/* Unity tests of the device core's PRNG (es_device/rng.h). C99, runs under GoogleTest through
 * support/unity_shim.h. */
#include "support/unity_shim.h"

#include "es_device/rng.h"

void setUp(void) {}
void tearDown(void) {}

static void test_same_seed_gives_same_sequence(void) {
  es_rng a, b;
  int i;
  es_rng_seed(&a, 42);
  es_rng_seed(&b, 42);
  for (i = 0; i < 1000; ++i) TEST_ASSERT_EQUAL_UINT64(es_rng_next(&a), es_rng_next(&b));
}

static void test_known_first_outputs(void) {
  /* Golden values: a change here changes every simulated reading of every seed. */
  es_rng r;
  uint64_t st = 0;
  TEST_ASSERT_EQUAL_UINT64(0xE220A8397B1DCDAFULL, es_splitmix64(&st));
  es_rng_seed(&r, 1);
  TEST_ASSERT_EQUAL_UINT64(0xB3F2AF6D0FC710C5ULL, es_rng_next(&r));
}

static void test_different_seeds_differ(void) {
  es_rng a, b;
  int same = 0, i;
  es_rng_seed(&a, 1);
  es_rng_seed(&b, 2);
  for (i = 0; i < 100; ++i) same += es_rng_next(&a) == es_rng_next(&b);
  TEST_ASSERT_EQUAL_INT(0, same);
}

static void test_seed_mix_separates_streams(void) {
  TEST_ASSERT_NOT_EQUAL_UINT64(es_seed_mix(7, 1, 2), es_seed_mix(7, 2, 1));
  TEST_ASSERT_NOT_EQUAL_UINT64(es_seed_mix(7, 1, 2), es_seed_mix(8, 1, 2));
  TEST_ASSERT_EQUAL_UINT64(es_seed_mix(7, 1, 2), es_seed_mix(7, 1, 2));
}

static void test_uniform_stays_in_range_with_mean_one_half(void) {
  es_rng r;
  double sum = 0;
  int i;
  es_rng_seed(&r, 3);
  for (i = 0; i < 100000; ++i) {
    double u = es_rng_uniform(&r);
    double o = es_rng_uniform_open(&r);
    TEST_ASSERT_TRUE(u >= 0.0 && u < 1.0);
    TEST_ASSERT_TRUE(o > 0.0 && o < 1.0);
    sum += u;
  }
  TEST_ASSERT_DOUBLE_WITHIN(0.005, 0.5, sum / 100000);
}

static void test_below_stays_below_and_covers_range(void) {
  es_rng r;
  int seen[7] = {0, 0, 0, 0, 0, 0, 0};
  int i;
  es_rng_seed(&r, 4);
  for (i = 0; i < 7000; ++i) {
    uint32_t v = es_rng_below(&r, 7);
    TEST_ASSERT_LESS_THAN_UINT(7, v);
    seen[v]++;
  }
  for (i = 0; i < 7; ++i) TEST_ASSERT_INT_WITHIN(150, 1000, seen[i]);
}

static void test_normal_has_unit_moments(void) {
  es_rng r;
  double sum = 0, sum2 = 0;
  int i, n = 200000;
  es_rng_seed(&r, 5);
  for (i = 0; i < n; ++i) {
    double z = es_rng_normal(&r);
    sum += z;
    sum2 += z * z;
  }
  TEST_ASSERT_DOUBLE_WITHIN(0.01, 0.0, sum / n);
  TEST_ASSERT_DOUBLE_WITHIN(0.02, 1.0, sum2 / n);
}

#define ES_UNITY_SUITE DeviceRng
#define DEVICE_RNG_TESTS(X)                         \
  X(test_same_seed_gives_same_sequence)             \
  X(test_known_first_outputs)                       \
  X(test_different_seeds_differ)                    \
  X(test_seed_mix_separates_streams)                \
  X(test_uniform_stays_in_range_with_mean_one_half) \
  X(test_below_stays_below_and_covers_range)        \
  X(test_normal_has_unit_moments)
ES_UNITY_TESTS(DEVICE_RNG_TESTS)
