/* route: sends each event only to the sinks its "type" field names in the config.
 *
 * config: {"routes": {"order": ["billing", "search"], "refund": ["billing"]},
 *          "default": ["audit"]}
 * An event whose "type" (a top-level string field) has a route goes to those sinks only; any
 * other goes to "default" (every sink when there is none). Names must be sinks of the
 * config: an unknown one fails the event. The config is kept as text and scanned per event,
 * which is plenty for a handful of routes. */
#define SLUICE_TRANSFORM_IMPLEMENT
#include "sluice_transform.h"

#include <stdlib.h>
#include <string.h>

static uint8_t* config_copy = NULL;
static uint32_t config_len = 0;

int32_t sluice_init(const uint8_t* config, uint32_t len) {
  config_copy = malloc(len ? len : 1);
  if (!config_copy) return 1;
  memcpy(config_copy, config, len);
  config_len = len;
  return 0;
}

/* Finds "key" followed by ':' in s[from, to); returns the index after the ':' or 0. */
static uint32_t find_key(const uint8_t* s, uint32_t from, uint32_t to, const uint8_t* key,
                         uint32_t key_len) {
  for (uint32_t i = from; i + key_len + 2 < to; ++i) {
    if (s[i] == '"' && memcmp(s + i + 1, key, key_len) == 0 && s[i + 1 + key_len] == '"') {
      uint32_t j = i + key_len + 2;
      while (j < to && s[j] == ' ') ++j;
      if (j < to && s[j] == ':') return j + 1;
    }
  }
  return 0;
}

/* Routes to every string of the JSON array at s[i]; returns how many. */
static int route_array(const uint8_t* s, uint32_t i, uint32_t to) {
  while (i < to && s[i] == ' ') ++i;
  if (i >= to || s[i] != '[') return 0;
  int n = 0;
  for (++i; i < to && s[i] != ']'; ++i) {
    if (s[i] != '"') continue;
    uint32_t e = i + 1;
    while (e < to && s[e] != '"') ++e;
    sluice_route((const char*)s + i + 1, e - i - 1);
    ++n;
    i = e;
  }
  return n;
}

int32_t sluice_transform(const uint8_t* event, uint32_t len) {
  sluice_event e = sluice_event_view(event, len);
  if (e.value.len == SLUICE_NULL_LEN) return SLUICE_PASS;
  const uint8_t* v = e.value.data;
  uint32_t at = find_key(v, 0, e.value.len, (const uint8_t*)"type", 4);
  if (at) {
    while (at < e.value.len && v[at] == ' ') ++at;
    if (at < e.value.len && v[at] == '"') {
      uint32_t end = at + 1;
      while (end < e.value.len && v[end] != '"') ++end;
      uint32_t routes = find_key(config_copy, 0, config_len, (const uint8_t*)"routes", 6);
      uint32_t r = routes ? find_key(config_copy, routes, config_len, v + at + 1, end - at - 1) : 0;
      if (r && route_array(config_copy, r, config_len) > 0) return SLUICE_PASS;
    }
  }
  uint32_t d = find_key(config_copy, 0, config_len, (const uint8_t*)"default", 7);
  if (d) route_array(config_copy, d, config_len);
  return SLUICE_PASS;
}
