/* heavy: a CPU-bound computation per event, for the benchmark (bench/throughput_bench).
 *
 * config: {"size": 48}  (matrix side, default 48: ~110k multiply-adds per event)
 * Seeds a size x size matrix from the event's bytes, squares it, and adds the trace to the
 * event as the header X-Score. The body passes unchanged. */
#define SLUICE_TRANSFORM_IMPLEMENT
#include "sluice_transform.h"

#include <stdio.h>
#include <stdlib.h>

static uint32_t size = 48;
static double* a = NULL;
static double* b = NULL;

int32_t sluice_init(const uint8_t* config, uint32_t len) {
  for (uint32_t i = 0; i + 6 < len; ++i) {
    if (config[i] == '"' && config[i + 1] == 's' && config[i + 2] == 'i' && config[i + 3] == 'z' &&
        config[i + 4] == 'e' && config[i + 5] == '"') {
      uint32_t j = i + 6, v = 0;
      while (j < len && (config[j] == ':' || config[j] == ' ')) ++j;
      while (j < len && config[j] >= '0' && config[j] <= '9') v = v * 10 + (config[j++] - '0');
      if (v < 2 || v > 512) {
        static const char why[] = "size: between 2 and 512";
        sluice_fail(why, sizeof why - 1);
        return 1;
      }
      size = v;
    }
  }
  a = malloc(sizeof(double) * size * size);
  b = malloc(sizeof(double) * size * size);
  return a && b ? 0 : 1;
}

int32_t sluice_transform(const uint8_t* event, uint32_t len) {
  sluice_event e = sluice_event_view(event, len);
  uint32_t n = e.value.len == SLUICE_NULL_LEN ? 0 : e.value.len;
  uint32_t seed = 2166136261u;
  for (uint32_t i = 0; i < size * size; ++i) {
    seed = (seed ^ (n ? e.value.data[i % n] : 0)) * 16777619u;
    a[i] = (double)(seed % 1000) / 1000.0;
  }
  for (uint32_t r = 0; r < size; ++r) {
    for (uint32_t c = 0; c < size; ++c) {
      double sum = 0;
      for (uint32_t k = 0; k < size; ++k) sum += a[r * size + k] * a[k * size + c];
      b[r * size + c] = sum;
    }
  }
  double trace = 0;
  for (uint32_t i = 0; i < size; ++i) trace += b[i * size + i];
  char score[32];
  int l = snprintf(score, sizeof score, "%.6f", trace);
  static const char name[] = "X-Score";
  sluice_set_header(name, sizeof name - 1, score, (uint32_t)l);
  return SLUICE_PASS;
}
