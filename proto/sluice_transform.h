/* sluice transform ABI, version 1: what a WebAssembly transform module exports and imports.
 * The contract in prose (and what is guaranteed about state, limits and reloads) is in
 * proto/transform.md. This header is for C and C++ guests built with clang for wasm32, e.g.
 *   clang-16 --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -o t.wasm t.c
 * A module implements sluice_transform() (and optionally sluice_init()) and includes this
 * header in exactly one file with SLUICE_TRANSFORM_IMPLEMENT defined, which supplies the
 * ABI version and allocator exports. */
#ifndef SLUICE_TRANSFORM_H
#define SLUICE_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_ABI_VERSION 1

/* What sluice_transform() returns. */
#define SLUICE_PASS 0 /* deliver: the body and headers as set (or unchanged) */
#define SLUICE_DROP 1 /* deliver to nobody (the pipeline transform) or not to this sink (a
                         sink's transform); the event still counts as done and is committed */
#define SLUICE_FAIL 2 /* the event goes to the dead-letter topic, reason from sluice_fail() */

/* The event as sluice lays it out in the module's memory (all integers little-endian; every
 * _off is a byte offset from the start of the buffer). Read it through sluice_event_view(). */
#define SLUICE_NULL_LEN 0xFFFFFFFFu /* a null key or a null header value */

typedef struct {
  const uint8_t* data;
  uint32_t len; /* SLUICE_NULL_LEN: null */
} sluice_bytes;

typedef struct {
  sluice_bytes name;
  sluice_bytes value;
} sluice_header;

typedef struct {
  int64_t offset;
  int64_t timestamp_ms; /* -1: the record has none */
  int32_t partition;
  sluice_bytes topic;
  sluice_bytes key;   /* len SLUICE_NULL_LEN: a null key */
  sluice_bytes value; /* the body (after the pipeline transform, for a sink's transform) */
  sluice_bytes sink;  /* the sink's name for a sink's transform; empty for the pipeline's */
  uint32_t header_count;
  const uint8_t* headers_raw; /* header_count entries; read them with sluice_event_header() */
  const uint8_t* base;
} sluice_event;

/* Fixed part of the layout, 64 bytes:
 *   0 i64 offset       8 i64 timestamp_ms  16 i32 partition     20 u32 header_count
 *  24 u32 topic_off   28 u32 topic_len     32 u32 key_off       36 u32 key_len
 *  40 u32 value_off   44 u32 value_len     48 u32 headers_off   52 u32 sink_off
 *  56 u32 sink_len    60 u32 reserved (0)
 * headers_off: header_count entries of 16 bytes: u32 name_off, u32 name_len, u32 value_off,
 * u32 value_len. */
#define SLUICE_EVENT_FIXED 64u
#define SLUICE_HEADER_ENTRY 16u

static inline uint32_t sluice_u32_(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline int64_t sluice_i64_(const uint8_t* p) {
  return (int64_t)((uint64_t)sluice_u32_(p) | (uint64_t)sluice_u32_(p + 4) << 32);
}
static inline sluice_bytes sluice_bytes_at_(const uint8_t* base, const uint8_t* field) {
  sluice_bytes b;
  b.len = sluice_u32_(field + 4);
  b.data = b.len == SLUICE_NULL_LEN ? NULL : base + sluice_u32_(field);
  return b;
}

/* The event in `buf` (what sluice_transform() was given). sluice writes it and checks its
 * bounds; the view points into it and is valid until sluice_transform() returns. */
static inline sluice_event sluice_event_view(const uint8_t* buf, uint32_t len) {
  sluice_event e;
  (void)len;
  e.offset = sluice_i64_(buf);
  e.timestamp_ms = sluice_i64_(buf + 8);
  e.partition = (int32_t)sluice_u32_(buf + 16);
  e.header_count = sluice_u32_(buf + 20);
  e.topic = sluice_bytes_at_(buf, buf + 24);
  e.key = sluice_bytes_at_(buf, buf + 32);
  e.value = sluice_bytes_at_(buf, buf + 40);
  e.headers_raw = buf + sluice_u32_(buf + 48);
  e.sink = sluice_bytes_at_(buf, buf + 52);
  e.base = buf;
  return e;
}

static inline sluice_header sluice_event_header(const sluice_event* e, uint32_t i) {
  sluice_header h;
  const uint8_t* entry = e->headers_raw + (size_t)i * SLUICE_HEADER_ENTRY;
  h.name = sluice_bytes_at_(e->base, entry);
  h.value = sluice_bytes_at_(e->base, entry + 8);
  return h;
}

#if defined(__wasm__)
/* What the host offers (import module "sluice"). Each copies what it is given at once: the
 * guest may reuse its buffers after the call. */
#define SLUICE_IMPORT(name) __attribute__((import_module("sluice"), import_name(name)))
/* Replaces the body every sink (or, from a sink's transform, this sink) receives. */
SLUICE_IMPORT("set_body") void sluice_set_body(const void* data, uint32_t len);
/* Sets an HTTP header on the requests; a later call with the same name replaces it. */
SLUICE_IMPORT("set_header")
void sluice_set_header(const char* name, uint32_t name_len, const char* value, uint32_t value_len);
/* Pipeline transform only: send the event only to this sink (call once per sink). The other
 * sinks treat the event as done. An unknown name fails the event. */
SLUICE_IMPORT("route") void sluice_route(const char* sink, uint32_t len);
/* Why the event (or sluice_init()) fails: sent to the dead-letter topic as sluice.error. */
SLUICE_IMPORT("fail") void sluice_fail(const char* reason, uint32_t len);

/* What the module exports. sluice_transform() and sluice_init() are the module's own. */
#define SLUICE_EXPORT(name) __attribute__((export_name(name)))
SLUICE_EXPORT("sluice_transform") int32_t sluice_transform(const uint8_t* event, uint32_t len);
/* Optional: called once per instance, before its first event, with the transform's
 * `config` (as JSON text). Return 0, or non-zero (after sluice_fail()) to refuse it. */
SLUICE_EXPORT("sluice_init") int32_t sluice_init(const uint8_t* config, uint32_t len);

#endif /* __wasm__: the layout helpers above also build natively, for tests */

#if defined(__wasm__) && defined(SLUICE_TRANSFORM_IMPLEMENT)
#include <stdlib.h>
SLUICE_EXPORT("sluice_abi_version") uint32_t sluice_abi_version(void) { return SLUICE_ABI_VERSION; }
/* sluice asks for a buffer for the event, keeps it for the following events while it is big
 * enough, and gives it back with sluice_free() when it needs a bigger one. */
SLUICE_EXPORT("sluice_alloc") void* sluice_alloc(uint32_t size) { return malloc(size); }
SLUICE_EXPORT("sluice_free") void sluice_free(void* p) { free(p); }
#endif

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_TRANSFORM_H */
