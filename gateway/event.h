/*
 * Parsing and validating Segment-compatible events (data flow steps 4 and 5).
 *
 * Bodies are parsed with jansson and then checked against the configured limits (nesting
 * depth, string length, event size, events per batch). Each event is validated against the
 * event spec of DESIGN.md and enriched with what the server knows (messageId, receivedAt,
 * context.ip, context.userAgent). Errors carry a stable code, a message and the JSON path
 * of the offending member; messages never quote event values.
 *
 * The parse, validation, enrichment and the size also exist for an event held as arena values
 * (json/jv.h, issue 17), with the same rules, errors and sizes: the *_jv functions, which the
 * request path runs (the jansson ones serve other callers and the fuzz targets' comparisons).
 *
 * Pure functions; any thread. JSON values are owned by the caller.
 */
#ifndef SLUICE_GATEWAY_EVENT_H
#define SLUICE_GATEWAY_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"
#include "json/parse.h"

#include "config/config.h"

typedef struct sluice_event_error {
    int status;       /* HTTP status this error maps to (400, 413) */
    const char *code; /* stable: "invalid_json", "invalid_event", "payload_too_large" */
    char message[192];
    char path[160]; /* JSON path of the problem ("properties", "batch[3].timestamp"), or "" */
} sluice_event_error_t;

/* Writes the error; returns -1. */
int sluice_event_error_set(sluice_event_error_t *e, int status, const char *code, const char *path, const char *fmt,
                           ...) __attribute__((format(printf, 5, 6)));

/* Parses buf as a JSON object (json/parse.h: duplicate keys refused) with lim->max_depth
 * (nesting of objects and arrays, the body itself being level 1, and each event of a batch
 * counted as if sent alone) and lim->max_string_bytes enforced while parsing. nums (may be NULL)
 * receives the numbers' texts, for the envelope to give them back as sent. faults (may be NULL)
 * receives the batch's events that hold a string or key over max_string_bytes (json/parse.h),
 * which the caller refuses one by one; without it such a body is refused whole. Returns a new
 * reference (caller decrefs) or NULL with e set (400 invalid_json, with the path of the member
 * that broke a limit). */
json_t *sluice_event_parse(const char *buf, size_t len, const sluice_limits_t *lim, sluice_jsonnum_t *nums,
                           sluice_json_item_faults_t *faults, sluice_event_error_t *e);

/* sluice_event_parse into arena values (json/jv.h, issue 17): the same acceptance and the same
 * errors (status, code, path, message, position) for the same bytes, and the same faults. The
 * tree lives in a (NULL when refused: what was built stays in a until it is freed); its strings
 * may point into buf, which must outlive it. Numbers keep their text, so no numbers' table is
 * needed. */
sluice_jv_t *sluice_event_parse_jv(const char *buf, size_t len, const sluice_limits_t *lim, sluice_json_arena_t *a,
                                   sluice_json_item_faults_t *faults, sluice_event_error_t *e);

/* Event types of the spec. */
typedef enum sluice_event_type {
    SLUICE_EVENT_TRACK = 0,
    SLUICE_EVENT_PAGE,
    SLUICE_EVENT_SCREEN,
    SLUICE_EVENT_IDENTIFY,
    SLUICE_EVENT_GROUP,
    SLUICE_EVENT_ALIAS,
    SLUICE_EVENT_TYPE_COUNT,
} sluice_event_type_t;

const char *sluice_event_type_name(sluice_event_type_t t);
/* -1 when unknown. */
int sluice_event_type_parse(const char *s);
/* The same for a jv string (not NUL-terminated; -1 for any other value). Any thread. */
int sluice_event_type_parse_jv(const sluice_jv_t *t);

/* Validates one event object in place. forced_type >= 0 is the type the route implies (it
 * overrides the body's `type`); -1 means the body must carry `type`. path_prefix ("" or
 * "batch[3]") prefixes error paths. source_len is the length of a JSON text that held all of
 * the event, every number of which will be written as that text spelled it (the numbers' table,
 * json/numbers.h), or 0; when twice it is within the limit, re-encoding is skipped. A batch's
 * shared members copied into an event are not in that text: such an event is validated with 0.
 * nums (may be NULL) gives the numbers' texts for measuring the event when it is walked.
 * Numbers given for id fields are turned into strings. Returns the event type, or -1 with e set. */
int sluice_event_validate(json_t *ev, int forced_type, const sluice_limits_t *lim, const char *path_prefix,
                          size_t source_len, const sluice_jsonnum_t *nums, sluice_event_error_t *e);

/* sluice_event_validate for an event held as arena values (json/jv.h, issue 17): the same rules,
 * and the same statuses, codes, paths and messages for the same event (gateway/event_rules.h
 * holds them once for both). a is the arena ev lives in: what validation changes (a number given
 * for an id turned into a string of its digits as sent, the route's type, empty ids removed) is
 * made there. Numbers are their text, so no numbers' table is needed. Returns the event type, or
 * -1 with e set. */
int sluice_event_validate_jv(sluice_jv_t *ev, int forced_type, const sluice_limits_t *lim, const char *path_prefix,
                             size_t source_len, sluice_json_arena_t *a, sluice_event_error_t *e);

typedef struct sluice_event_enrich {
    int64_t received_ms;
    const char *client_ip;  /* textual address */
    const char *user_agent; /* may be NULL */
    int trust_client_ip;    /* server sources pass the end user's context.ip, or none */
    int library_user_agent; /* user_agent is an HTTP library's (okhttp/4.9.2): see sluice_event_app_agent */
} sluice_event_enrich_t;

/* 1 when ev comes from an app: it has a context.app object, which Segment's and RudderStack's
 * mobile SDKs (Android, iOS, React Native, Flutter) send and analytics.js and sluice.js do not. */
int sluice_event_from_app(const json_t *ev);

/* 1 when the request's User-Agent is no agent of the person behind ev: an HTTP library's
 * (en->library_user_agent) on an app's event. React Native's fetch on Android is OkHttp and says
 * so; the SDK's context names no agent: the app's HTTP stack then made every event a bot
 * (docs/enrichment.md). Such an event keeps the agent it carries, or none. */
int sluice_event_app_agent(const json_t *ev, const sluice_event_enrich_t *en);

/* Fills messageId (UUIDv4) when absent, receivedAt, context.ip and context.userAgent (not from
 * an app's HTTP library, sluice_event_app_agent).
 * Returns 0, or -1 when no random bytes were available for the messageId. */
int sluice_event_enrich(json_t *ev, const sluice_event_enrich_t *en);

/* sluice_event_from_app, sluice_event_app_agent and sluice_event_enrich for an event held as arena
 * values (json/jv.h, issue 17): the same rules (gateway/enrich_rules.h holds them once for both),
 * so the same members set, changed and removed, in the same order, and the same bytes written for
 * the same event, but for the messageId made for an event without one (random). a is the arena ev
 * lives in: what enrichment sets is made there (a time taken from another member is a copy of
 * it). Returns 0, or -1 when no random bytes were available for the messageId. */
int sluice_event_from_app_jv(const sluice_jv_t *ev);
int sluice_event_app_agent_jv(const sluice_jv_t *ev, const sluice_event_enrich_t *en);
int sluice_event_enrich_jv(sluice_jv_t *ev, const sluice_event_enrich_t *en, sluice_json_arena_t *a);

/* Size of ev encoded as compact JSON with nums (json/write.h), computed without encoding it:
 * exact, except that 0 counts as "-0" and a number with a fraction that nums has no text for
 * counts as its longest formatted form (26 bytes; nums NULL: every such number), so it is an
 * upper bound. */
size_t sluice_event_encoded_size(const json_t *ev, const sluice_jsonnum_t *nums);

/* sluice_event_encoded_size of the same event held as arena values: the same count (a number as
 * its text, but "0" as 2, as the jansson count has it), so an upper bound of sluice_jv_write's
 * bytes by one byte per number 0. */
size_t sluice_event_encoded_size_jv(const sluice_jv_t *ev);

/* The same for one object member, `"key":value` (without a separating comma). */
size_t sluice_event_member_size(const char *key, size_t key_len, const json_t *v, const sluice_jsonnum_t *nums);

/* sluice_event_member_size of a member whose value is an arena value (its count: the same). */
size_t sluice_event_member_size_jv(const char *key, size_t key_len, const sluice_jv_t *v);

#endif
