/* Unity tests of the sensor models, the Zipf table and the fleet names (es_device). C99, runs
 * under GoogleTest through support/unity_shim.h. */
#include "support/unity_shim.h"

#include <math.h>
#include <string.h>

#include "es_device/names.h"
#include "es_device/sensor.h"
#include "es_device/zipf.h"

static es_zipf codes;

void setUp(void) { es_zipf_init(&codes, 200, 1.1); }
void tearDown(void) {}

static void test_same_seed_gives_same_values(void) {
  int m, i;
  for (m = 0; m < ES_METRIC_EVENT; ++m) {
    es_sensor a, b;
    es_sensor_init(&a, (es_metric)m, 99, 12, 2, 1.0, &codes);
    es_sensor_init(&b, (es_metric)m, 99, 12, 2, 1.0, &codes);
    for (i = 0; i < 1000; ++i) TEST_ASSERT_EQUAL_DOUBLE(es_sensor_sample(&a), es_sensor_sample(&b));
  }
}

static void test_devices_and_seeds_get_different_values(void) {
  es_sensor a, b, c;
  es_sensor_init(&a, ES_METRIC_TEMPERATURE, 99, 12, 2, 1.0, &codes);
  es_sensor_init(&b, ES_METRIC_TEMPERATURE, 99, 13, 2, 1.0, &codes);
  es_sensor_init(&c, ES_METRIC_TEMPERATURE, 100, 12, 2, 1.0, &codes);
  double va = es_sensor_sample(&a);
  TEST_ASSERT_TRUE(va != es_sensor_sample(&b));
  TEST_ASSERT_TRUE(va != es_sensor_sample(&c));
}

/* Values over an hour at 1 Hz stay where a real sensor of that kind would read. */
static void check_range(es_metric metric, double lo, double hi) {
  uint32_t device;
  int i;
  for (device = 0; device < 50; ++device) {
    es_sensor s;
    es_sensor_init(&s, metric, 7, device, device % 10, 1.0, &codes);
    for (i = 0; i < 3600; ++i) {
      double v = es_sensor_sample(&s);
      TEST_ASSERT_GREATER_OR_EQUAL_DOUBLE(lo, v);
      TEST_ASSERT_LESS_OR_EQUAL_DOUBLE(hi, v);
    }
  }
}

static void test_temperature_is_plausible(void) { check_range(ES_METRIC_TEMPERATURE, 5.0, 38.0); }
static void test_humidity_is_plausible(void) { check_range(ES_METRIC_HUMIDITY, 0.0, 100.0); }
static void test_pressure_is_plausible(void) { check_range(ES_METRIC_PRESSURE, 980.0, 1030.0); }

static void test_site_offsets_are_seed_independent_and_bounded(void) {
  uint32_t site;
  for (site = 0; site < 10; ++site) {
    double t = es_sensor_site_offset(ES_METRIC_TEMPERATURE, site);
    double h = es_sensor_site_offset(ES_METRIC_HUMIDITY, site);
    TEST_ASSERT_DOUBLE_WITHIN(3.0 + 1e-9, 0.0, t);
    TEST_ASSERT_DOUBLE_WITHIN(10.0 + 1e-9, 0.0, h);
  }
  TEST_ASSERT_EQUAL_DOUBLE(-4.5, es_sensor_site_offset(ES_METRIC_PRESSURE, 3));
}

static void test_temperature_drifts_slowly(void) {
  /* Consecutive 1 Hz readings differ by noise (sd 0.05) plus a tiny drift step. */
  es_sensor s;
  double prev, v, max_step = 0;
  int i;
  es_sensor_init(&s, ES_METRIC_TEMPERATURE, 11, 3, 3, 1.0, &codes);
  prev = es_sensor_sample(&s);
  for (i = 0; i < 10000; ++i) {
    v = es_sensor_sample(&s);
    if (v - prev > max_step) max_step = v - prev;
    if (prev - v > max_step) max_step = prev - v;
    prev = v;
  }
  TEST_ASSERT_LESS_THAN_DOUBLE(0.5, max_step);
}

static void test_vibration_is_lognormal_with_heavy_tail(void) {
  es_sensor s;
  int i, n = 200000, above_10 = 0, below_median = 0;
  double max = 0;
  es_sensor_init(&s, ES_METRIC_VIBRATION, 5, 0, 0, 0.01, &codes);
  for (i = 0; i < n; ++i) {
    double v = es_sensor_sample(&s);
    TEST_ASSERT_GREATER_THAN_DOUBLE(0.0, v);
    TEST_ASSERT_LESS_OR_EQUAL_DOUBLE(ES_VIBRATION_MAX, v);
    if (v > max) max = v;
    if (v > 10.0) above_10++;
    if (v < exp(s.log_mu)) below_median++;
  }
  /* Half the samples sit below exp(mu) (the lognormal median; spikes barely move it). */
  TEST_ASSERT_INT_WITHIN(n / 50, n / 2, below_median);
  /* Spikes (p = 0.002, x4..) reach far beyond the body, which stays below ~5 mm/s. */
  TEST_ASSERT_GREATER_THAN(20, above_10);
  TEST_ASSERT_GREATER_THAN_DOUBLE(40.0, max);
}

static void test_zipf_ranks_follow_the_power_law(void) {
  es_sensor s;
  int counts[200];
  int i, n = 400000;
  memset(counts, 0, sizeof counts);
  es_sensor_init(&s, ES_METRIC_EVENT, 1, 0, 0, 10.0, &codes);
  for (i = 0; i < n; ++i) {
    uint16_t c = es_sensor_sample_code(&s);
    TEST_ASSERT_LESS_THAN_UINT(200, c);
    counts[c]++;
  }
  /* Rank 0 is the most frequent and frequencies fall with rank. */
  TEST_ASSERT_GREATER_THAN(counts[1], counts[0]);
  TEST_ASSERT_GREATER_THAN(counts[2], counts[1]);
  TEST_ASSERT_GREATER_THAN(counts[9], counts[2]);
  TEST_ASSERT_GREATER_THAN(counts[99], counts[9]);
  /* Observed frequencies match the table: P(k) proportional to (k+1)^-1.1. */
  TEST_ASSERT_DOUBLE_WITHIN(0.004, es_zipf_probability(&codes, 0), (double)counts[0] / n);
  TEST_ASSERT_DOUBLE_WITHIN(0.002, es_zipf_probability(&codes, 4), (double)counts[4] / n);
  TEST_ASSERT_DOUBLE_WITHIN(1e-12, pow(2.0, -1.1),
                            es_zipf_probability(&codes, 1) / es_zipf_probability(&codes, 0));
}

static void test_zipf_table_rejects_bad_arguments(void) {
  es_zipf z;
  TEST_ASSERT_EQUAL_INT(-1, es_zipf_init(&z, 0, 1.1));
  TEST_ASSERT_EQUAL_INT(-1, es_zipf_init(&z, ES_ZIPF_MAX_CODES + 1, 1.1));
  TEST_ASSERT_EQUAL_INT(-1, es_zipf_init(&z, 10, 0.0));
  TEST_ASSERT_EQUAL_INT(0, es_zipf_init(&z, 1, 2.0));
  TEST_ASSERT_EQUAL_UINT(0, es_zipf_code(&z, 0.999));
}

static void test_names_are_functions_of_the_index(void) {
  char buf[ES_NAME_MAX];
  TEST_ASSERT_EQUAL_size_t(8, es_format_device_id(42, buf, sizeof buf));
  TEST_ASSERT_EQUAL_STRING("dev-0042", buf);
  es_format_device_id(12345, buf, sizeof buf);
  TEST_ASSERT_EQUAL_STRING("dev-12345", buf);
  es_format_site(3, buf, sizeof buf);
  TEST_ASSERT_EQUAL_STRING("site-03", buf);
  es_format_line(2, buf, sizeof buf);
  TEST_ASSERT_EQUAL_STRING("line-2", buf);
  es_format_event_label(17, buf, sizeof buf);
  TEST_ASSERT_EQUAL_STRING("E017", buf);
  TEST_ASSERT_EQUAL_size_t(0, es_format_device_id(1, buf, 8)); /* needs 9 bytes */
  TEST_ASSERT_EQUAL_STRING("vibration", es_metric_name(ES_METRIC_VIBRATION));
  TEST_ASSERT_EQUAL_INT(ES_METRIC_EVENT, es_metric_from_name("event"));
  TEST_ASSERT_EQUAL_INT(-1, es_metric_from_name("voltage"));
}

static void test_sites_and_lines_spread_evenly(void) {
  int per_group[10][5];
  uint32_t d;
  int s, l;
  memset(per_group, 0, sizeof per_group);
  TEST_ASSERT_EQUAL_UINT(3, es_device_site_index(123, 10));
  TEST_ASSERT_EQUAL_UINT(2, es_device_line_index(123, 10, 5));
  for (d = 0; d < 1000; ++d) {
    per_group[es_device_site_index(d, 10)][es_device_line_index(d, 10, 5)]++;
  }
  for (s = 0; s < 10; ++s) {
    for (l = 0; l < 5; ++l) TEST_ASSERT_EQUAL_INT(20, per_group[s][l]);
  }
}

#define ES_UNITY_SUITE DeviceSensor
#define DEVICE_SENSOR_TESTS(X)                          \
  X(test_same_seed_gives_same_values)                   \
  X(test_devices_and_seeds_get_different_values)        \
  X(test_temperature_is_plausible)                      \
  X(test_humidity_is_plausible)                         \
  X(test_pressure_is_plausible)                         \
  X(test_site_offsets_are_seed_independent_and_bounded) \
  X(test_temperature_drifts_slowly)                     \
  X(test_vibration_is_lognormal_with_heavy_tail)        \
  X(test_zipf_ranks_follow_the_power_law)               \
  X(test_zipf_table_rejects_bad_arguments)              \
  X(test_names_are_functions_of_the_index)              \
  X(test_sites_and_lines_spread_evenly)
ES_UNITY_TESTS(DEVICE_SENSOR_TESTS)
