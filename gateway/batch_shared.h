/*
 * A batch's shared members: Segment's and RudderStack's batches carry context and integrations
 * (and sentAt) at the top level, and each event of the batch inherits what it lacks of them. The
 * members are looked up and measured once per batch, each event's copies are counted against the
 * event's limit and the batch's budget before anything is copied (docs/security.md), and then
 * copied. For arena values (json/jv.h, issue 17: the *_jv functions, gateway/ingest.c's) and, with
 * the same rules, for jansson values. Pure; the thread that
 * holds the request.
 */
#ifndef SLUICE_GATEWAY_BATCH_SHARED_H
#define SLUICE_GATEWAY_BATCH_SHARED_H

#include <stddef.h>

#include <jansson.h>

#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

/* The batch's own members that its events inherit (caller storage: _of fills it, _dispose frees
 * what it holds). */
typedef struct sluice_batch_shared {
    json_t *top[2];    /* context, integrations (objects), or NULL */
    size_t whole[2];   /* `"context":{...}` encoded, for an event without its own */
    size_t *member[2]; /* `"key":value` of each member of top[k] encoded, in iteration order */
    size_t budget;     /* bytes the copies may still add to the batch's events (max_body_bytes in all) */
    json_t *sent;      /* sentAt (a string), or NULL */
} sluice_batch_shared_t;

/* The same for a batch held as arena values. */
typedef struct sluice_batch_shared_jv {
    sluice_jv_t *top[2];
    size_t whole[2];
    size_t *member[2]; /* malloc'd as for jansson: _dispose_jv frees them */
    size_t budget;
    sluice_jv_t *sent;
} sluice_batch_shared_jv_t;

/* Why an event cannot inherit the batch's context and integrations (sluice_batch_shared_check). */
enum { SLUICE_BATCH_SHARED_FITS = 0, SLUICE_BATCH_SHARED_EVENT_TOO_BIG, SLUICE_BATCH_SHARED_BATCH_TOO_BIG };

/* Fills sh from the batch's body root (its members stay root's: sh holds no reference), with
 * budget the bytes the copies may add to all its events. nums (may be NULL) holds the numbers'
 * texts. 0, or -1 when memory runs out (sh then holds nothing to dispose). */
int sluice_batch_shared_of(sluice_batch_shared_t *sh, json_t *root, const sluice_jsonnum_t *nums, size_t budget);
int sluice_batch_shared_of_jv(sluice_batch_shared_jv_t *sh, sluice_jv_t *root, size_t budget);

/* Whether ev can take what it would inherit: SLUICE_BATCH_SHARED_FITS (and the budget spent),
 * or why not, counted with sluice_event_encoded_size's count against max_bytes and what is left
 * of the budget, before anything is copied; counting stops as soon as either is passed. */
int sluice_batch_shared_check(json_t *ev, sluice_batch_shared_t *sh, const sluice_jsonnum_t *nums, size_t max_bytes);
int sluice_batch_shared_check_jv(sluice_jv_t *ev, sluice_batch_shared_jv_t *sh, size_t max_bytes);

/* Copies into ev what it lacks of the batch's context and integrations (numbers keep the text
 * they were sent as: nums, may be NULL; on jv, copies made in a) and sets sentAt when it has
 * none. 1 when something of context or integrations was copied, else 0. */
int sluice_batch_shared_merge(json_t *ev, const sluice_batch_shared_t *sh, sluice_jsonnum_t *nums);
int sluice_batch_shared_merge_jv(sluice_jv_t *ev, const sluice_batch_shared_jv_t *sh, sluice_json_arena_t *a);

/* Frees what _of allocated; sh zeroed (or filled by _of) first. Disposing again frees nothing. */
void sluice_batch_shared_dispose(sluice_batch_shared_t *sh);
void sluice_batch_shared_dispose_jv(sluice_batch_shared_jv_t *sh);

#endif
