/* redact: masks fields of a JSON event before it leaves for one sink.
 *
 * config: {"fields": ["card", "ssn"], "mask": "***"}  (defaults: ["card"] and "***")
 * Every string value whose key is one of `fields`, at any depth, becomes `mask`. A body that
 * is not a JSON object passes unchanged. Built for wasm32-wasi (see CMakeLists.txt). */
#define SLUICE_TRANSFORM_IMPLEMENT
#include "sluice_transform.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 16
#define MAX_FIELD 64

static char fields[MAX_FIELDS][MAX_FIELD];
static uint32_t field_len[MAX_FIELDS];
static int field_count = 0;
static char mask[MAX_FIELD] = "***";
static uint32_t mask_len = 3;

/* A JSON string at s[i] (s[i] == '"'): returns the index after its closing quote. */
static uint32_t skip_string(const uint8_t* s, uint32_t n, uint32_t i) {
  for (++i; i < n; ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return n;
}

/* Reads the config's "fields" array and "mask" string with the same tiny scanner. */
int32_t sluice_init(const uint8_t* config, uint32_t len) {
  field_count = 0;
  for (uint32_t i = 0; i < len; ++i) {
    if (config[i] != '"') continue;
    uint32_t end = skip_string(config, len, i);
    uint32_t key_len = end - i - 2;
    const uint8_t* key = config + i + 1;
    i = end;
    while (i < len && (config[i] == ' ' || config[i] == ':')) ++i;
    if (key_len == 6 && memcmp(key, "fields", 6) == 0 && i < len && config[i] == '[') {
      while (i < len && config[i] != ']') {
        if (config[i] == '"') {
          uint32_t e = skip_string(config, len, i);
          uint32_t l = e - i - 2;
          if (field_count == MAX_FIELDS || l >= MAX_FIELD) {
            static const char why[] = "fields: at most 16, each under 64 bytes";
            sluice_fail(why, sizeof why - 1);
            return 1;
          }
          memcpy(fields[field_count], config + i + 1, l);
          field_len[field_count++] = l;
          i = e;
        } else {
          ++i;
        }
      }
    } else if (key_len == 4 && memcmp(key, "mask", 4) == 0 && i < len && config[i] == '"') {
      uint32_t e = skip_string(config, len, i);
      uint32_t l = e - i - 2;
      if (l >= MAX_FIELD) {
        static const char why[] = "mask: under 64 bytes";
        sluice_fail(why, sizeof why - 1);
        return 1;
      }
      memcpy(mask, config + i + 1, l);
      mask_len = l;
      i = e - 1;
    }
  }
  if (field_count == 0) {
    memcpy(fields[0], "card", 4);
    field_len[0] = 4;
    field_count = 1;
  }
  return 0;
}

static int is_field(const uint8_t* key, uint32_t len) {
  for (int f = 0; f < field_count; ++f) {
    if (field_len[f] == len && memcmp(fields[f], key, len) == 0) return 1;
  }
  return 0;
}

static uint8_t* out = NULL;
static uint32_t out_cap = 0;

int32_t sluice_transform(const uint8_t* event, uint32_t len) {
  sluice_event e = sluice_event_view(event, len);
  const uint8_t* s = e.value.data;
  uint32_t n = e.value.len;
  if (n == SLUICE_NULL_LEN || n == 0 || s[0] != '{') return SLUICE_PASS;
  /* The masked body is at most the body plus one mask per string value. */
  uint32_t need = n + (n / 2 + 1) * mask_len;
  if (need > out_cap) {
    free(out);
    out = malloc(need);
    out_cap = out ? need : 0;
    if (!out) {
      static const char why[] = "out of memory";
      sluice_fail(why, sizeof why - 1);
      return SLUICE_FAIL;
    }
  }
  uint32_t o = 0, i = 0;
  int masked = 0;
  while (i < n) {
    if (s[i] != '"') {
      out[o++] = s[i++];
      continue;
    }
    /* A string: a key when a ':' follows it. */
    uint32_t end = skip_string(s, n, i);
    memcpy(out + o, s + i, end - i);
    o += end - i;
    uint32_t j = end;
    while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) ++j;
    int key_match = j < n && s[j] == ':' && is_field(s + i + 1, end - i - 2);
    i = end;
    if (!key_match) continue;
    /* Copy up to the value; mask it if it is a string. */
    while (i < n && s[i] != '"' && s[i] != ',' && s[i] != '}') out[o++] = s[i++];
    if (i < n && s[i] == '"') {
      i = skip_string(s, n, i);
      out[o++] = '"';
      memcpy(out + o, mask, mask_len);
      o += mask_len;
      out[o++] = '"';
      masked = 1;
    }
  }
  if (!masked) return SLUICE_PASS;
  sluice_set_body(out, o);
  static const char name[] = "X-Redacted";
  static const char yes[] = "true";
  sluice_set_header(name, sizeof name - 1, yes, sizeof yes - 1);
  return SLUICE_PASS;
}
