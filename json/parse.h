/*
 * The JSON parser for request bodies (the gateway) and Kafka envelopes (the delivery worker). It builds ordinary
 * jansson values, accepts exactly what jansson's json_loadb(JSON_REJECT_DUPLICATES) accepts (RFC 8259 text, valid
 * UTF-8, no raw control characters, no \u0000, integers that fit in 64 bits, finite reals, no
 * duplicate keys) but for one thing: an escaped lone surrogate (`"\ud83d"`, which jansson
 * refuses) is read as U+FFFD, as browsers and Go do. It enforces the configured depth and string-length
 * limits while parsing, so an oversized document is refused before it is built.
 *
 * Why not json_loadb: jansson reads through a per-character stream abstraction, and parsing
 * was over half of the per-event instructions (docs/performance.md). This parser scans runs of
 * plain characters at once. tests/fuzz/json.c checks it against jansson byte for byte.
 *
 * Pure; any thread. The returned value is owned by the caller (json_decref).
 */
#ifndef SLUICE_JSON_PARSE_H
#define SLUICE_JSON_PARSE_H

#include <stddef.h>

#include <jansson.h>

#include "json/numbers.h"

typedef enum sluice_json_fail {
    SLUICE_JSON_SYNTAX = 1, /* not JSON (message says what and where) */
    SLUICE_JSON_DEPTH = 2,  /* nested deeper than max_depth */
    SLUICE_JSON_STRING = 3, /* a string or key longer than max_string bytes */
    SLUICE_JSON_BATCH = 4,  /* the top-level "batch" array holds more than max_batch items */
} sluice_json_fail_t;

typedef struct sluice_json_error {
    sluice_json_fail_t kind;
    char message[128];     /* e.g. "invalid escape" (never quotes the input) */
    char path[160];        /* where a limit was broken, e.g. "properties.list[1]" */
    unsigned line, column; /* 1-based position of a syntax error */
} sluice_json_error_t;

/* A string or key over max_string inside one event of the top-level "batch" array. An SDK's
 * batch holds many visitors' events, and SDKs drop a batch answered 400: one event with a long
 * stack trace or page URL cost all of them. Handed to sluice_json_parse_batch, the parser reads
 * such a string as null (a key's member is left out), records the first fault of each such event
 * here, and goes on; the caller refuses those events alone. Beyond SLUICE_JSON_ITEM_FAULTS_MAX
 * faulty events the body is refused as before. */
#define SLUICE_JSON_ITEM_FAULTS_MAX 16
typedef struct sluice_json_item_fault {
    size_t index;      /* in "batch" */
    char message[128]; /* "string longer than 8192 bytes" */
    char path[160];    /* "batch[3].properties.stack" */
} sluice_json_item_fault_t;

typedef struct sluice_json_item_faults {
    size_t count; /* the caller sets 0; entries in the order of their index */
    sluice_json_item_fault_t item[SLUICE_JSON_ITEM_FAULTS_MAX];
} sluice_json_item_faults_t;

/* Parses buf[0..len) as one JSON value (any type) surrounded by optional whitespace.
 * max_depth counts nesting levels (a top-level object is depth 1; an event of the top-level
 * "batch", when max_batch is set, counts from 1 as if sent alone); max_string bounds every
 * string and key in bytes after unescaping; max_batch (0: none) bounds the items of the member
 * "batch" of a top-level object, refused when one more begins.
 *
 * nums (may be NULL) receives the text of every number (json/numbers.h), so that the writer
 * gives each back as sent; with it, an integer beyond 64 bits and a number beyond a double
 * (1e400, -2.5E+999: its value +-DBL_MAX) are accepted too (as reals whose text is kept) where
 * jansson, and this parser without nums, refuse them.
 *
 * Returns a new reference, or NULL with err set (and nums cleared). */
json_t *sluice_json_parse(const char *buf, size_t len, size_t max_depth, size_t max_string, size_t max_batch,
                          sluice_jsonnum_t *nums, sluice_json_error_t *err);

/* sluice_json_parse, with over-long strings inside the events of "batch" recorded in faults (may
 * be NULL: refused as by sluice_json_parse) instead of refusing the body. */
json_t *sluice_json_parse_batch(const char *buf, size_t len, size_t max_depth, size_t max_string, size_t max_batch,
                                sluice_jsonnum_t *nums, sluice_json_item_faults_t *faults, sluice_json_error_t *err);

#endif
