/* ReadingBatch encoders (see encode.h). Field order and proto3 default omission follow what
 * pb_encode() does for the generated struct, so both encoders emit the same bytes. */
#include "es_device/encode.h"

#include <pb_encode.h>
#include <string.h>

#define SAMPLES_MAX_PER_BATCH 8 /* ReadingBatch.samples max_count */
#define SAMPLES_MAX_LABELS 32   /* Samples.labels max_count */
#define STRING_MAX 47           /* max_size 48 minus the NUL */
#define CHUNK 32                /* values converted per pb_write */

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

static uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static uint32_t zigzag32(int32_t v) { return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31); }

/* Size of a length-delimited field (tag < 16) with `len` payload bytes. */
static size_t delimited_size(size_t len) { return 1 + varint_size(len) + len; }

static size_t string_field_size(const char* s) {
  size_t len = strlen(s);
  return len ? delimited_size(len) : 0; /* proto3: empty strings are omitted */
}

/* The packed ts_delta_ms payloads of all groups, encoded once while sizing: a batch holds at most
 * ES_BATCH_MAX_READINGS deltas of at most 5 bytes each. */
typedef struct delta_scratch {
  uint8_t bytes[ES_BATCH_MAX_READINGS * 5];
  size_t used;
} delta_scratch;

typedef struct group_layout {
  const uint8_t* deltas; /* the packed ts_delta_ms payload, in the scratch */
  size_t delta_bytes;
  size_t size; /* payload of the Samples submessage */
} group_layout;

/* Appends the varint v at p; returns the new end. */
static uint8_t* put_varint(uint8_t* p, uint32_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static int layout_group(const es_batch* b, const es_batch_group* g, delta_scratch* scratch,
                        group_layout* out) {
  const char* name = es_metric_name((es_metric)g->metric);
  int categorical = es_metric_is_categorical((es_metric)g->metric);
  int64_t base, prev;
  size_t size = 0, delta_bytes = 0;
  uint16_t i;
  if (g->count == 0 || name[0] == '\0' || (size_t)g->first + g->count > b->count ||
      g->count > ES_BATCH_MAX_READINGS || (categorical && g->count > SAMPLES_MAX_LABELS)) {
    return -1;
  }
  base = b->ts_ms[g->first];
  prev = base;
  {
    uint8_t* start = scratch->bytes + scratch->used;
    uint8_t* p = start;
    if (scratch->used + (size_t)g->count * 5u > sizeof scratch->bytes) return -1;
    for (i = 0; i < g->count; ++i) {
      int64_t ts = b->ts_ms[g->first + i];
      int64_t d = ts - prev;
      if (d < INT32_MIN || d > INT32_MAX) return -1;
      p = put_varint(p, zigzag32((int32_t)d));
      prev = ts;
    }
    delta_bytes = (size_t)(p - start);
    out->deltas = start;
    scratch->used += delta_bytes;
  }
  size += string_field_size(name);
  if (base != 0) size += 1 + varint_size(zigzag64(base));
  size += delimited_size(delta_bytes);
  if (categorical) {
    char label[ES_NAME_MAX];
    for (i = 0; i < g->count; ++i) {
      size_t len = es_format_event_label(b->codes[g->first + i], label, sizeof label);
      if (len == 0) return -1;
      size += delimited_size(len);
    }
  } else {
    size += delimited_size((size_t)g->count * 8u);
  }
  out->delta_bytes = delta_bytes;
  out->size = size;
  return 0;
}

static size_t tag_size(const char* key, const char* value) {
  return delimited_size(string_field_size(key) + string_field_size(value));
}

static size_t batch_size(const es_batch* b, delta_scratch* scratch, group_layout* layouts) {
  size_t size = 0;
  uint8_t g;
  scratch->used = 0;
  if (b->group_count > SAMPLES_MAX_PER_BATCH || b->group_count > ES_METRIC_COUNT ||
      b->count > ES_BATCH_MAX_READINGS || strlen(b->device_id) > STRING_MAX) {
    return 0;
  }
  size += string_field_size(b->device_id);
  size += tag_size("site", b->site);
  size += tag_size("line", b->line);
  for (g = 0; g < b->group_count; ++g) {
    if (layout_group(b, &b->groups[g], scratch, &layouts[g]) != 0) return 0;
    size += delimited_size(layouts[g].size);
  }
  if (b->batch_seq != 0) size += 1 + varint_size(b->batch_seq);
  return size;
}

size_t es_encoded_size(const es_batch* batch) {
  delta_scratch scratch;
  group_layout layouts[ES_METRIC_COUNT];
  return batch_size(batch, &scratch, layouts);
}

static int write_string_field(pb_ostream_t* s, uint32_t field, const char* str) {
  size_t len = strlen(str);
  if (len == 0) return 1;
  return pb_encode_tag(s, PB_WT_STRING, field) && pb_encode_string(s, (const pb_byte_t*)str, len);
}

static int write_tag(pb_ostream_t* s, const char* key, const char* value) {
  return pb_encode_tag(s, PB_WT_STRING, edgesketch_v1_ReadingBatch_tags_tag) &&
         pb_encode_varint(s, string_field_size(key) + string_field_size(value)) &&
         write_string_field(s, edgesketch_v1_Tag_key_tag, key) &&
         write_string_field(s, edgesketch_v1_Tag_value_tag, value);
}

static int write_group(pb_ostream_t* s, const es_batch* b, const es_batch_group* g,
                       const group_layout* layout) {
  const char* name = es_metric_name((es_metric)g->metric);
  int64_t base = b->ts_ms[g->first];
  uint16_t i;
  if (!pb_encode_tag(s, PB_WT_STRING, edgesketch_v1_ReadingBatch_samples_tag) ||
      !pb_encode_varint(s, layout->size) ||
      !write_string_field(s, edgesketch_v1_Samples_metric_tag, name)) {
    return 0;
  }
  if (base != 0 && (!pb_encode_tag(s, PB_WT_VARINT, edgesketch_v1_Samples_base_ms_tag) ||
                    !pb_encode_svarint(s, base))) {
    return 0;
  }
  if (!pb_encode_tag(s, PB_WT_STRING, edgesketch_v1_Samples_ts_delta_ms_tag) ||
      !pb_encode_varint(s, layout->delta_bytes) ||
      !pb_write(s, layout->deltas, layout->delta_bytes)) {
    return 0;
  }
  if (es_metric_is_categorical((es_metric)g->metric)) {
    char label[ES_NAME_MAX];
    for (i = 0; i < g->count; ++i) {
      es_format_event_label(b->codes[g->first + i], label, sizeof label);
      if (!pb_encode_tag(s, PB_WT_STRING, edgesketch_v1_Samples_labels_tag) ||
          !pb_encode_string(s, (const pb_byte_t*)label, strlen(label))) {
        return 0;
      }
    }
    return 1;
  }
  if (!pb_encode_tag(s, PB_WT_STRING, edgesketch_v1_Samples_values_tag) ||
      !pb_encode_varint(s, (uint64_t)g->count * 8u)) {
    return 0;
  }
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* Packed doubles are little-endian IEEE 754: on a little-endian target the column itself. */
  return pb_write(s, (const pb_byte_t*)&b->values[g->first], (size_t)g->count * 8u) ? 1 : 0;
#else
  {
    uint8_t chunk[CHUNK * 8];
    for (i = 0; i < g->count;) {
      uint16_t end = (uint16_t)(i + CHUNK < g->count ? i + CHUNK : g->count);
      uint8_t* p = chunk;
      for (; i < end; ++i) {
        uint64_t bits;
        int k;
        memcpy(&bits, &b->values[g->first + i], 8);
        for (k = 0; k < 8; ++k) *p++ = (uint8_t)(bits >> (8 * k));
      }
      if (!pb_write(s, chunk, (size_t)(p - chunk))) return 0;
    }
    return 1;
  }
#endif
}

es_encode_status es_encode_batch(const es_batch* batch, uint8_t* buf, size_t cap, size_t* out_len) {
  delta_scratch scratch;
  group_layout layouts[ES_METRIC_COUNT];
  size_t size = batch_size(batch, &scratch, layouts);
  pb_ostream_t s;
  uint8_t g;
  if (size == 0) return ES_ENCODE_INVALID_BATCH;
  *out_len = size;
  if (size > cap) return ES_ENCODE_BUFFER_TOO_SMALL;
  s = pb_ostream_from_buffer(buf, cap);
  if (!write_string_field(&s, edgesketch_v1_ReadingBatch_device_id_tag, batch->device_id) ||
      !write_tag(&s, "site", batch->site) || !write_tag(&s, "line", batch->line)) {
    return ES_ENCODE_BUFFER_TOO_SMALL;
  }
  for (g = 0; g < batch->group_count; ++g) {
    if (!write_group(&s, batch, &batch->groups[g], &layouts[g])) return ES_ENCODE_BUFFER_TOO_SMALL;
  }
  if (batch->batch_seq != 0 &&
      (!pb_encode_tag(&s, PB_WT_VARINT, edgesketch_v1_ReadingBatch_batch_seq_tag) ||
       !pb_encode_varint(&s, batch->batch_seq))) {
    return ES_ENCODE_BUFFER_TOO_SMALL;
  }
  return s.bytes_written == size ? ES_ENCODE_OK : ES_ENCODE_INVALID_BATCH;
}

static void copy_string(char* dst, size_t cap, const char* src) {
  size_t len = strlen(src);
  if (len >= cap) len = cap - 1;
  memcpy(dst, src, len);
  dst[len] = '\0';
}

es_encode_status es_encode_batch_reference(const es_batch* batch,
                                           edgesketch_v1_ReadingBatch* scratch, uint8_t* buf,
                                           size_t cap, size_t* out_len) {
  edgesketch_v1_ReadingBatch* m = scratch;
  delta_scratch deltas;
  group_layout layouts[ES_METRIC_COUNT];
  pb_ostream_t s;
  uint8_t g;
  size_t needed = batch_size(batch, &deltas, layouts);
  if (needed == 0) return ES_ENCODE_INVALID_BATCH;
  *out_len = needed;
  /* Only the fields pb_encode() reads are set: the arrays past each count stay untouched. */
  copy_string(m->device_id, sizeof m->device_id, batch->device_id);
  m->tags_count = 2;
  copy_string(m->tags[0].key, sizeof m->tags[0].key, "site");
  copy_string(m->tags[0].value, sizeof m->tags[0].value, batch->site);
  copy_string(m->tags[1].key, sizeof m->tags[1].key, "line");
  copy_string(m->tags[1].value, sizeof m->tags[1].value, batch->line);
  m->samples_count = batch->group_count;
  for (g = 0; g < batch->group_count; ++g) {
    const es_batch_group* grp = &batch->groups[g];
    edgesketch_v1_Samples* out = &m->samples[g];
    int64_t prev = batch->ts_ms[grp->first];
    uint16_t i;
    copy_string(out->metric, sizeof out->metric, es_metric_name((es_metric)grp->metric));
    out->base_ms = prev;
    out->ts_delta_ms_count = grp->count;
    out->values_count = 0;
    out->labels_count = 0;
    for (i = 0; i < grp->count; ++i) {
      int64_t ts = batch->ts_ms[grp->first + i];
      out->ts_delta_ms[i] = (int32_t)(ts - prev);
      prev = ts;
      if (es_metric_is_categorical((es_metric)grp->metric)) {
        es_format_event_label(batch->codes[grp->first + i], out->labels[i], sizeof out->labels[i]);
        out->labels_count++;
      } else {
        out->values[i] = batch->values[grp->first + i];
        out->values_count++;
      }
    }
  }
  m->readings_count = 0;
  m->batch_seq = batch->batch_seq;
  if (needed > cap) return ES_ENCODE_BUFFER_TOO_SMALL;
  s = pb_ostream_from_buffer(buf, cap);
  if (!pb_encode(&s, edgesketch_v1_ReadingBatch_fields, m)) return ES_ENCODE_BUFFER_TOO_SMALL;
  *out_len = s.bytes_written;
  return ES_ENCODE_OK;
}
