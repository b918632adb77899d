/*
 * A small C API over simdjson (C++) that decodes one guardian event (contract v1) into a plain
 * C struct, so the rest of Guardian Fleet stays pure Swift. JSON-level checks (syntax, field
 * types, duplicate fields) happen here; the contract's rules (required fields, enums, ranges,
 * formats) are checked in Swift (GuardianEvents.EventDecoder).
 */
#ifndef GUARDIAN_JSON_H
#define GUARDIAN_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A string inside the decoder's buffers: `ptr == NULL` means absent or JSON null. */
typedef struct {
    const char *ptr;
    size_t len;
} gj_str;

/* Bits of gj_event.present: the field was present and not null. */
enum {
    GJ_HAS_V = 1u << 0,
    GJ_HAS_SEQ = 1u << 1,
    GJ_HAS_TS = 1u << 2,
    GJ_HAS_QTY = 1u << 3,
    GJ_HAS_PRICE = 1u << 4,
    GJ_HAS_POSITION = 1u << 5,
    GJ_HAS_EXPOSURE = 1u << 6,
    GJ_HAS_REALIZED_PNL = 1u << 7,
    GJ_HAS_UNREALIZED_PNL = 1u << 8,
    GJ_HAS_LATENCY_US = 1u << 9,
};

/* Result codes of gj_decode. */
enum {
    GJ_OK = 0,
    GJ_MALFORMED = 1,   /* not JSON, or not one JSON object */
    GJ_BAD_FIELD = 2,   /* a field has the wrong type, is duplicated or out of range */
    GJ_INVALID = 3,     /* a well-typed value that can never be stored (U+0000 in a string) */
};

typedef struct {
    int64_t v, seq, ts, latency_us;
    double qty, price, position, exposure, realized_pnl, unrealized_pnl;
    uint32_t present;
    gj_str event_id, symbol, kind, decision, reason, side;
    /* Minified JSON object: `attrs` merged with unknown top-level fields; NULL when both are absent. */
    gj_str attrs;
    /* Why gj_decode failed (NUL-terminated). */
    char error[192];
} gj_event;

typedef struct gj_decoder gj_decoder;

/* A decoder reuses its buffers across calls; one per thread. NULL on allocation failure. */
gj_decoder *gj_decoder_new(void);
void gj_decoder_free(gj_decoder *decoder);

/* Decodes `len` bytes at `json` into `out`. Strings in `out` stay valid until the next call. */
int gj_decode(gj_decoder *decoder, const uint8_t *json, size_t len, gj_event *out);

#ifdef __cplusplus
}
#endif

#endif
