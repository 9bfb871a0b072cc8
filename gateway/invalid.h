/*
 * The record of a refused event for kafka.invalid_topic (docs/architecture.md): what
 * gateway/ingest.c produces for each event a request refused, built here from the event as it
 * was kept (add_rejection) and its error. The event goes through the forget check, the data layer
 * (no extra variants) and the PII guard as an accepted one does; the value the error names and the
 * members validation vouches for but did not reach are withheld. sluice_invalid_record_jv is the
 * request path's (arena values, issue 17 step 2); sluice_invalid_record is its jansson twin from
 * the same rules (gateway/invalid_rules.h), which the fuzz target compares it with.
 */
#ifndef SLUICE_GATEWAY_INVALID_H
#define SLUICE_GATEWAY_INVALID_H

#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "crypto/pseudonym.h"
#include "gateway/datalayer.h"
#include "gateway/forgotten.h"
#include "gateway/piiguard.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

/* The request's side of a record: borrowed, for the time of the call. */
typedef struct sluice_invalid_env {
    const sluice_org_t *org;
    const char *source;             /* the source's id */
    const char *received_at;        /* the request's time, as sluice_time_format writes it */
    sluice_forgotten_t *forgotten;  /* the forget check's list, or NULL (nothing is suppressed) */
    unsigned thread;                /* the loop thread's index, for the forget check's counters */
    const uint8_t *forget_key;      /* the org's pseudonym key, SLUICE_PSEUDONYM_LEN bytes */
    const sluice_masker_t *masker;  /* the thread's masker (sluice_datalayer_apply), or NULL */
    const sluice_piiguard_t *guard; /* the org's PII guard, or NULL */
    sluice_piiguard_thread_t *pii;  /* the thread's guard state */
} sluice_invalid_env_t;

/* The record {"v":1,"org","source","receivedAt","error","event","privacy"[,"withheld"]} of a
 * refused event ev (any value or NULL; edited in place: withheld members removed, the data layer
 * and the guard applied) with its error ({index, code, message[, path]}, shared by the record). The
 * event is null in the record when nothing of it can be kept (not an object, the data layer or
 * the guard failed). nums: the event's numbers as sent (the record is written with it). Returns 1
 * with *rec a new reference; 0 with *rec NULL when no record is made (the event's person is
 * forgotten, counted as suppressed; or the consent policy drops it); -1 with *rec NULL when
 * memory ran out (the caller fails the request as for a record Kafka refused). Loop thread
 * env->thread. */
int sluice_invalid_record(const sluice_invalid_env_t *env, json_t *ev, json_t *error, sluice_jsonnum_t *nums,
                          json_t **rec);

/* sluice_invalid_record for an event and error held as arena values in a (json/jv.h): the same
 * rules, returns and record bytes; *rec is made in a, with copies of ev and error (either may sit
 * in a list). Same thread as the arena. */
int sluice_invalid_record_jv(const sluice_invalid_env_t *env, sluice_jv_t *ev, sluice_jv_t *error,
                             sluice_json_arena_t *a, sluice_jv_t **rec);

#endif
