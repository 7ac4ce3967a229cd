/* Unity tests of the ReadingBatch encoders (es_device/encode.h): the output decodes with
 * pb_decode to the same readings, the fast and the reference encoder agree byte for byte, and
 * limits are errors. C99, runs under GoogleTest through support/unity_shim.h. */
#include "support/unity_shim.h"

#include <pb_decode.h>
#include <string.h>

#include "es_device/device.h"
#include "es_device/encode.h"

#define START_MS 1700000000000LL

static es_zipf codes;
static es_device device;
static es_batch batch;
static edgesketch_v1_ReadingBatch scratch;
static edgesketch_v1_ReadingBatch decoded;
static uint8_t fast_buf[16384];
static uint8_t ref_buf[16384];

void setUp(void) {
  es_device_config c;
  memset(&c, 0, sizeof c);
  es_zipf_init(&codes, 200, 1.1);
  c.device_index = 42;
  c.site_count = 10;
  c.line_count = 5;
  c.seed = 9;
  c.start_ms = START_MS;
  c.rate_mhz[ES_METRIC_TEMPERATURE] = 1000;
  c.rate_mhz[ES_METRIC_HUMIDITY] = 1000;
  c.rate_mhz[ES_METRIC_PRESSURE] = 1000;
  c.rate_mhz[ES_METRIC_VIBRATION] = 100000;
  c.rate_mhz[ES_METRIC_EVENT] = 2000; /* frequent events so batches carry labels */
  c.batch_readings = 100;
  c.max_delay_ms = 1000;
  c.event_codes = &codes;
  es_device_init(&device, &c);
}
void tearDown(void) {}

static int decode(const uint8_t* buf, size_t len) {
  pb_istream_t in = pb_istream_from_buffer(buf, len);
  memset(&decoded, 0, sizeof decoded);
  return pb_decode(&in, edgesketch_v1_ReadingBatch_fields, &decoded) ? 1 : 0;
}

/* Checks that `decoded` holds exactly the readings of `batch`. */
static void expect_decoded_equals_batch(void) {
  uint8_t g;
  uint16_t i;
  TEST_ASSERT_EQUAL_STRING(batch.device_id, decoded.device_id);
  TEST_ASSERT_EQUAL_UINT64(batch.batch_seq, decoded.batch_seq);
  TEST_ASSERT_EQUAL_UINT(2, decoded.tags_count);
  TEST_ASSERT_EQUAL_STRING("site", decoded.tags[0].key);
  TEST_ASSERT_EQUAL_STRING(batch.site, decoded.tags[0].value);
  TEST_ASSERT_EQUAL_STRING("line", decoded.tags[1].key);
  TEST_ASSERT_EQUAL_STRING(batch.line, decoded.tags[1].value);
  TEST_ASSERT_EQUAL_UINT(0, decoded.readings_count);
  TEST_ASSERT_EQUAL_UINT(batch.group_count, decoded.samples_count);
  for (g = 0; g < batch.group_count; ++g) {
    const es_batch_group* grp = &batch.groups[g];
    const edgesketch_v1_Samples* s = &decoded.samples[g];
    int64_t ts = s->base_ms;
    TEST_ASSERT_EQUAL_STRING(es_metric_name((es_metric)grp->metric), s->metric);
    TEST_ASSERT_EQUAL_UINT(grp->count, s->ts_delta_ms_count);
    for (i = 0; i < grp->count; ++i) {
      ts += s->ts_delta_ms[i];
      TEST_ASSERT_EQUAL_INT64(batch.ts_ms[grp->first + i], ts);
      if (grp->metric == ES_METRIC_EVENT) {
        char label[ES_NAME_MAX];
        es_format_event_label(batch.codes[grp->first + i], label, sizeof label);
        TEST_ASSERT_EQUAL_STRING(label, s->labels[i]);
      } else {
        /* Bit-exact: the wire carries the double itself. */
        TEST_ASSERT_EQUAL_MEMORY(&batch.values[grp->first + i], &s->values[i], sizeof(double));
      }
    }
    TEST_ASSERT_EQUAL_UINT(grp->metric == ES_METRIC_EVENT ? grp->count : 0, s->labels_count);
    TEST_ASSERT_EQUAL_UINT(grp->metric == ES_METRIC_EVENT ? 0 : grp->count, s->values_count);
  }
}

static void test_encoded_batches_decode_to_the_same_readings(void) {
  int n = 0, with_labels = 0;
  while (es_device_poll(&device, START_MS + 30000, &batch)) {
    size_t len = 0;
    TEST_ASSERT_EQUAL_INT(ES_ENCODE_OK, es_encode_batch(&batch, fast_buf, sizeof fast_buf, &len));
    TEST_ASSERT_EQUAL_size_t(es_encoded_size(&batch), len);
    TEST_ASSERT_TRUE(decode(fast_buf, len));
    expect_decoded_equals_batch();
    with_labels += batch.groups[batch.group_count - 1].metric == ES_METRIC_EVENT;
    ++n;
  }
  TEST_ASSERT_GREATER_THAN(25, n);
  TEST_ASSERT_GREATER_THAN(10, with_labels);
}

static void test_fast_and_reference_encoders_agree_byte_for_byte(void) {
  int n = 0;
  while (es_device_poll(&device, START_MS + 30000, &batch)) {
    size_t fast_len = 0, ref_len = 0;
    TEST_ASSERT_EQUAL_INT(ES_ENCODE_OK,
                          es_encode_batch(&batch, fast_buf, sizeof fast_buf, &fast_len));
    TEST_ASSERT_EQUAL_INT(ES_ENCODE_OK, es_encode_batch_reference(&batch, &scratch, ref_buf,
                                                                  sizeof ref_buf, &ref_len));
    TEST_ASSERT_EQUAL_size_t(ref_len, fast_len);
    TEST_ASSERT_EQUAL_MEMORY(ref_buf, fast_buf, ref_len);
    ++n;
  }
  TEST_ASSERT_GREATER_THAN(25, n);
}

/* A hand-made batch with the proto3 corner cases: zero batch_seq and a zero base timestamp are
 * omitted by pb_encode, negative and large deltas, one-reading groups. */
static void fill_corner_case_batch(void) {
  memset(&batch, 0, sizeof batch);
  strcpy(batch.device_id, "dev-9999");
  strcpy(batch.site, "site-09");
  strcpy(batch.line, "line-4");
  batch.batch_seq = 0;
  batch.count = 5;
  batch.group_count = 3;
  batch.groups[0].metric = ES_METRIC_TEMPERATURE;
  batch.groups[0].first = 0;
  batch.groups[0].count = 2;
  batch.ts_ms[0] = 0;
  batch.ts_ms[1] = -5;
  batch.values[0] = -0.0;
  batch.values[1] = 1e300;
  batch.groups[1].metric = ES_METRIC_VIBRATION;
  batch.groups[1].first = 2;
  batch.groups[1].count = 1;
  batch.ts_ms[2] = -1700000000000LL;
  batch.values[2] = 3.5;
  batch.groups[2].metric = ES_METRIC_EVENT;
  batch.groups[2].first = 3;
  batch.groups[2].count = 2;
  batch.ts_ms[3] = 1;
  batch.ts_ms[4] = 1 + 2147483647LL;
  batch.codes[3] = 0;
  batch.codes[4] = 255;
}

static void test_corner_cases_match_pb_encode(void) {
  size_t fast_len = 0, ref_len = 0;
  fill_corner_case_batch();
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_OK,
                        es_encode_batch(&batch, fast_buf, sizeof fast_buf, &fast_len));
  TEST_ASSERT_EQUAL_INT(
      ES_ENCODE_OK, es_encode_batch_reference(&batch, &scratch, ref_buf, sizeof ref_buf, &ref_len));
  TEST_ASSERT_EQUAL_size_t(ref_len, fast_len);
  TEST_ASSERT_EQUAL_MEMORY(ref_buf, fast_buf, ref_len);
  TEST_ASSERT_TRUE(decode(fast_buf, fast_len));
  expect_decoded_equals_batch();
}

static void test_buffer_too_small_is_an_error(void) {
  size_t need, len = 0;
  TEST_ASSERT_EQUAL_INT(1, es_device_poll(&device, START_MS + 5000, &batch));
  need = es_encoded_size(&batch);
  TEST_ASSERT_GREATER_THAN_UINT(100, need);
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_BUFFER_TOO_SMALL,
                        es_encode_batch(&batch, fast_buf, need - 1, &len));
  TEST_ASSERT_EQUAL_size_t(need, len);
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_BUFFER_TOO_SMALL, es_encode_batch(&batch, fast_buf, 0, &len));
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_BUFFER_TOO_SMALL,
                        es_encode_batch_reference(&batch, &scratch, ref_buf, need - 1, &len));
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_OK, es_encode_batch(&batch, fast_buf, need, &len));
  TEST_ASSERT_EQUAL_size_t(need, len);
}

static void test_batches_beyond_wire_limits_are_rejected(void) {
  size_t len = 0;
  uint16_t i;
  fill_corner_case_batch();
  /* More labels than Samples.labels holds (32). */
  batch.groups[2].count = 33;
  batch.count = 36;
  for (i = 3; i < 36; ++i) batch.ts_ms[i] = i;
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_INVALID_BATCH,
                        es_encode_batch(&batch, fast_buf, sizeof fast_buf, &len));
  TEST_ASSERT_EQUAL_size_t(0, es_encoded_size(&batch));
  /* A timestamp step that does not fit the sint32 delta. */
  fill_corner_case_batch();
  batch.ts_ms[4] = 2 + 2147483647LL;
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_INVALID_BATCH,
                        es_encode_batch(&batch, fast_buf, sizeof fast_buf, &len));
  /* A group pointing past the readings. */
  fill_corner_case_batch();
  batch.groups[2].first = 4;
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_INVALID_BATCH,
                        es_encode_batch(&batch, fast_buf, sizeof fast_buf, &len));
}

static void test_golden_bytes_of_a_tiny_batch(void) {
  /* One temperature reading 21.5 at ts 1000 of dev-0001 (site-01, line-0), batch_seq 7. */
  static const uint8_t expected[] = {
      0x0a, 0x08, 'd',  'e',  'v',  '-',  '0',  '0',  '0',  '1', /* device_id */
      0x12, 0x0f, 0x0a, 0x04, 's',  'i',  't',  'e',  0x12, 0x07, 's', 'i', 't',
      'e',  '-',  '0',  '1',  0x12, 0x0e, 0x0a, 0x04, 'l',  'i',  'n', 'e', 0x12,
      0x06, 'l',  'i',  'n',  'e',  '-',  '0',  0x1a, 0x1d,                      /* samples */
      0x0a, 0x0b, 't',  'e',  'm',  'p',  'e',  'r',  'a',  't',  'u', 'r', 'e', /* metric */
      0x10, 0xd0, 0x0f,                                                          /* base_ms 1000 */
      0x1a, 0x01, 0x00,                                           /* ts_delta_ms [0] */
      0x22, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x35, 0x40, /* values [21.5] */
      0x28, 0x07};                                                /* batch_seq 7 */
  size_t len = 0;
  memset(&batch, 0, sizeof batch);
  strcpy(batch.device_id, "dev-0001");
  strcpy(batch.site, "site-01");
  strcpy(batch.line, "line-0");
  batch.batch_seq = 7;
  batch.count = 1;
  batch.group_count = 1;
  batch.groups[0].metric = ES_METRIC_TEMPERATURE;
  batch.groups[0].first = 0;
  batch.groups[0].count = 1;
  batch.ts_ms[0] = 1000;
  batch.values[0] = 21.5;
  TEST_ASSERT_EQUAL_INT(ES_ENCODE_OK, es_encode_batch(&batch, fast_buf, sizeof fast_buf, &len));
  TEST_ASSERT_EQUAL_size_t(sizeof expected, len);
  TEST_ASSERT_EQUAL_MEMORY(expected, fast_buf, sizeof expected);
}

#define ES_UNITY_SUITE DeviceEncode
#define DEVICE_ENCODE_TESTS(X)                            \
  X(test_encoded_batches_decode_to_the_same_readings)     \
  X(test_fast_and_reference_encoders_agree_byte_for_byte) \
  X(test_corner_cases_match_pb_encode)                    \
  X(test_buffer_too_small_is_an_error)                    \
  X(test_batches_beyond_wire_limits_are_rejected)         \
  X(test_golden_bytes_of_a_tiny_batch)
ES_UNITY_TESTS(DEVICE_ENCODE_TESTS)
