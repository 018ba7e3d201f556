/* faulty: misbehaves on purpose, by the event's content, for the tests.
 *   a body containing "trap"   traps (__builtin_trap: wasm unreachable)
 *   a body containing "spin"   loops for ever (stopped by limits.time_ms or limits.fuel)
 *   a body containing "refuse" fails with a reason
 *   a body containing "drop"   is dropped
 *   anything else              gets its body wrapped: {"wrapped":<body>}, header X-Faulty: ok */
#define SLUICE_TRANSFORM_IMPLEMENT
#include "sluice_transform.h"

#include <stdlib.h>
#include <string.h>

static int contains(const uint8_t* s, uint32_t n, const char* what) {
  uint32_t w = (uint32_t)strlen(what);
  for (uint32_t i = 0; i + w <= n; ++i) {
    if (memcmp(s + i, what, w) == 0) return 1;
  }
  return 0;
}

volatile int spin_forever = 1;

int32_t sluice_transform(const uint8_t* event, uint32_t len) {
  sluice_event e = sluice_event_view(event, len);
  const uint8_t* v = e.value.data;
  uint32_t n = e.value.len == SLUICE_NULL_LEN ? 0 : e.value.len;
  if (contains(v, n, "trap")) __builtin_trap();
  if (contains(v, n, "spin")) {
    while (spin_forever) {
    }
  }
  if (contains(v, n, "refuse")) {
    static const char why[] = "refused by faulty";
    sluice_fail(why, sizeof why - 1);
    return SLUICE_FAIL;
  }
  if (contains(v, n, "drop")) return SLUICE_DROP;
  static const char head[] = "{\"wrapped\":";
  uint8_t* out = malloc(sizeof head - 1 + n + 1);
  if (!out) return SLUICE_FAIL;
  memcpy(out, head, sizeof head - 1);
  memcpy(out + sizeof head - 1, v, n);
  out[sizeof head - 1 + n] = '}';
  sluice_set_body(out, (uint32_t)(sizeof head - 1 + n + 1));
  free(out);
  static const char name[] = "X-Faulty";
  static const char ok[] = "ok";
  sluice_set_header(name, sizeof name - 1, ok, sizeof ok - 1);
  return SLUICE_PASS;
}
