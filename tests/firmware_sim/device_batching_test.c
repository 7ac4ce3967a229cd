/* Unity tests of the device main loop (es_device/device.h): schedule, batching triggers and
 * independence from how finely time is stepped. C99, runs under GoogleTest through
 * support/unity_shim.h. */
#include "support/unity_shim.h"

#include <string.h>

#include "es_device/device.h"

#define START_MS 1700000000000LL

static es_zipf codes;
static es_device device_a;
static es_device device_b;
static es_batch batch_a;
static es_batch batch_b;

static es_device_config base_config(void) {
  es_device_config c;
  memset(&c, 0, sizeof c);
  c.device_index = 7;
  c.site_count = 10;
  c.line_count = 5;
  c.seed = 1;
  c.start_ms = START_MS;
  c.clock_skew_ms = 0;
  c.rate_mhz[ES_METRIC_TEMPERATURE] = 1000;
  c.rate_mhz[ES_METRIC_HUMIDITY] = 1000;
  c.rate_mhz[ES_METRIC_PRESSURE] = 1000;
  c.rate_mhz[ES_METRIC_VIBRATION] = 100000;
  c.rate_mhz[ES_METRIC_EVENT] = 100;
  c.batch_readings = 100;
  c.max_delay_ms = 1000;
  c.event_codes = &codes;
  return c;
}

void setUp(void) { es_zipf_init(&codes, 200, 1.1); }
void tearDown(void) {}

static void test_init_names_the_device_from_its_index(void) {
  es_device_config c = base_config();
  TEST_ASSERT_EQUAL_INT(ES_DEVICE_OK, es_device_init(&device_a, &c));
  TEST_ASSERT_EQUAL_STRING("dev-0007", device_a.device_id);
  TEST_ASSERT_EQUAL_STRING("site-07", device_a.site);
  TEST_ASSERT_EQUAL_STRING("line-0", device_a.line);
}

static void test_init_rejects_bad_configs(void) {
  es_device_config c = base_config();
  c.batch_readings = 0;
  TEST_ASSERT_EQUAL_INT(ES_DEVICE_INVALID_CONFIG, es_device_init(&device_a, &c));
  c = base_config();
  c.batch_readings = ES_BATCH_MAX_READINGS + 1;
  TEST_ASSERT_EQUAL_INT(ES_DEVICE_INVALID_CONFIG, es_device_init(&device_a, &c));
  c = base_config();
  c.event_codes = 0;
  TEST_ASSERT_EQUAL_INT(ES_DEVICE_INVALID_CONFIG, es_device_init(&device_a, &c));
  c = base_config();
  c.rate_mhz[ES_METRIC_VIBRATION] = 2000000;
  TEST_ASSERT_EQUAL_INT(ES_DEVICE_INVALID_CONFIG, es_device_init(&device_a, &c));
}

static void test_full_batches_are_grouped_by_metric_in_time_order(void) {
  es_device_config c = base_config();
  int batches = 0;
  uint16_t i;
  uint8_t g;
  c.max_delay_ms = 5000; /* only full batches within the 10 s */
  es_device_init(&device_a, &c);
  while (es_device_poll(&device_a, START_MS + 10000, &batch_a)) {
    batches++;
    TEST_ASSERT_EQUAL_UINT64(batches, batch_a.batch_seq);
    TEST_ASSERT_LESS_OR_EQUAL_UINT(100, batch_a.count);
    {
      uint16_t total = 0;
      for (g = 0; g < batch_a.group_count; ++g) {
        const es_batch_group* grp = &batch_a.groups[g];
        TEST_ASSERT_EQUAL_UINT(total, grp->first);
        total = (uint16_t)(total + grp->count);
        if (g > 0) {
          TEST_ASSERT_GREATER_THAN_UINT(batch_a.groups[g - 1].metric, grp->metric);
        }
        for (i = 1; i < grp->count; ++i) {
          TEST_ASSERT_GREATER_THAN_INT(batch_a.ts_ms[grp->first + i - 1],
                                       batch_a.ts_ms[grp->first + i]);
        }
        if (grp->metric == ES_METRIC_VIBRATION && grp->count > 1) {
          TEST_ASSERT_EQUAL_INT64(10, batch_a.ts_ms[grp->first + 1] - batch_a.ts_ms[grp->first]);
        }
      }
      TEST_ASSERT_EQUAL_UINT(batch_a.count, total);
    }
  }
  /* 10 s at 103.1 readings/s: 10 full batches of 100, the rest pending. */
  TEST_ASSERT_EQUAL_INT(10, batches);
  TEST_ASSERT_EQUAL_UINT(100, batch_a.count);
  TEST_ASSERT_EQUAL_STRING("dev-0007", batch_a.device_id);
}

static void test_slow_metrics_are_flushed_after_max_delay(void) {
  es_device_config c = base_config();
  memset(c.rate_mhz, 0, sizeof c.rate_mhz);
  c.rate_mhz[ES_METRIC_TEMPERATURE] = 1000; /* 1 Hz: a batch of 100 would take 100 s */
  c.max_delay_ms = 5000;
  es_device_init(&device_a, &c);
  TEST_ASSERT_EQUAL_INT(1, es_device_poll(&device_a, START_MS + 20000, &batch_a));
  /* Readings at phase, phase+1s, ... phase+4s; the deadline phase+5s closes the batch first. */
  TEST_ASSERT_EQUAL_UINT(5, batch_a.count);
  TEST_ASSERT_EQUAL_INT64(batch_a.ts_ms[0] + 5000, batch_a.ready_ms);
}

static void test_event_labels_close_a_batch_at_the_label_limit(void) {
  es_device_config c = base_config();
  memset(c.rate_mhz, 0, sizeof c.rate_mhz);
  c.rate_mhz[ES_METRIC_EVENT] = 1000000; /* 1 kHz */
  c.batch_readings = 200;
  es_device_init(&device_a, &c);
  TEST_ASSERT_EQUAL_INT(1, es_device_poll(&device_a, START_MS + 1000, &batch_a));
  TEST_ASSERT_EQUAL_UINT(ES_BATCH_MAX_LABELS, batch_a.count);
  TEST_ASSERT_EQUAL_UINT(ES_METRIC_EVENT, batch_a.groups[0].metric);
}

static void test_clock_skew_shifts_timestamps_only(void) {
  es_device_config c = base_config();
  es_device_config skewed = base_config();
  uint16_t i;
  skewed.clock_skew_ms = -2500;
  es_device_init(&device_a, &c);
  es_device_init(&device_b, &skewed);
  TEST_ASSERT_EQUAL_INT(1, es_device_poll(&device_a, START_MS + 5000, &batch_a));
  TEST_ASSERT_EQUAL_INT(1, es_device_poll(&device_b, START_MS + 5000, &batch_b));
  TEST_ASSERT_EQUAL_INT64(batch_a.ready_ms, batch_b.ready_ms);
  TEST_ASSERT_EQUAL_UINT(batch_a.count, batch_b.count);
  for (i = 0; i < batch_a.count; ++i) {
    TEST_ASSERT_EQUAL_INT64(batch_a.ts_ms[i] - 2500, batch_b.ts_ms[i]);
    TEST_ASSERT_EQUAL_DOUBLE(batch_a.values[i], batch_b.values[i]);
  }
}

/* Stepping time 1 ms at a time or in one jump yields the same batches. */
static void test_batches_do_not_depend_on_the_time_step(void) {
  es_device_config c = base_config();
  int64_t t;
  int n = 0;
  c.max_delay_ms = 300;
  es_device_init(&device_a, &c);
  es_device_init(&device_b, &c);
  for (t = START_MS; t < START_MS + 30000; ++t) {
    while (es_device_poll(&device_a, t, &batch_a)) {
      TEST_ASSERT_EQUAL_INT(1, es_device_poll(&device_b, START_MS + 30000, &batch_b));
      TEST_ASSERT_EQUAL_UINT64(batch_a.batch_seq, batch_b.batch_seq);
      TEST_ASSERT_EQUAL_INT64(batch_a.ready_ms, batch_b.ready_ms);
      TEST_ASSERT_EQUAL_UINT(batch_a.count, batch_b.count);
      TEST_ASSERT_EQUAL_MEMORY(batch_a.ts_ms, batch_b.ts_ms, batch_a.count * sizeof(int64_t));
      TEST_ASSERT_EQUAL_MEMORY(batch_a.values, batch_b.values, batch_a.count * sizeof(double));
      ++n;
    }
  }
  TEST_ASSERT_GREATER_THAN(30, n);
}

static void test_flush_emits_pending_readings(void) {
  es_device_config c = base_config();
  es_device_init(&device_a, &c);
  while (es_device_poll(&device_a, START_MS + 500, &batch_a)) {
  }
  TEST_ASSERT_EQUAL_INT(1, es_device_flush(&device_a, START_MS + 501, &batch_a));
  TEST_ASSERT_GREATER_THAN_UINT(0, batch_a.count);
  TEST_ASSERT_EQUAL_INT64(START_MS + 501, batch_a.ready_ms);
  TEST_ASSERT_EQUAL_INT(0, es_device_flush(&device_a, START_MS + 501, &batch_a));
}

static void test_phases_are_seed_independent_and_within_the_period(void) {
  uint32_t d;
  for (d = 0; d < 100; ++d) {
    int64_t p = es_device_phase_us(d, ES_METRIC_VIBRATION, 10000);
    TEST_ASSERT_TRUE(p >= 0 && p < 10000);
  }
  TEST_ASSERT_EQUAL_INT64(es_device_phase_us(3, ES_METRIC_TEMPERATURE, 1000000),
                          es_device_phase_us(3, ES_METRIC_TEMPERATURE, 1000000));
}

#define ES_UNITY_SUITE DeviceBatching
#define DEVICE_BATCHING_TESTS(X)                           \
  X(test_init_names_the_device_from_its_index)             \
  X(test_init_rejects_bad_configs)                         \
  X(test_full_batches_are_grouped_by_metric_in_time_order) \
  X(test_slow_metrics_are_flushed_after_max_delay)         \
  X(test_event_labels_close_a_batch_at_the_label_limit)    \
  X(test_clock_skew_shifts_timestamps_only)                \
  X(test_batches_do_not_depend_on_the_time_step)           \
  X(test_flush_emits_pending_readings)                     \
  X(test_phases_are_seed_independent_and_within_the_period)
ES_UNITY_TESTS(DEVICE_BATCHING_TESTS)
