/* identity: passes every event unchanged (tests and the benchmark's baseline). */
#define SLUICE_TRANSFORM_IMPLEMENT
#include "sluice_transform.h"

int32_t sluice_transform(const uint8_t* event, uint32_t len) {
  (void)event;
  (void)len;
  return SLUICE_PASS;
}
