/*
 * What gateway/enrichment.c's event step needs around an event, for tests without a server
 * (tests/unit/gateway/enrichment.c, tests/fuzz/jv_enrichment.c): a config of one org loaded from
 * YAML, its enrichment resources and session keys, a worker, runtime and source for
 * sluice_enrichment_begin, and h2o requests with the headers the step reads (client hints,
 * Cookie, Origin). Runs both trees' step on one event and compares what a user sees: the answer,
 * the reply's Set-Cookie headers and the event's bytes.
 *
 * One thread (the test's); it stands for worker 0's loop thread.
 */
#ifndef SLUICE_TESTS_STUBS_ENRICH_REQ_H
#define SLUICE_TESTS_STUBS_ENRICH_REQ_H

#include <h2o.h>
#include <jansson.h>

#include "config/config.h"
#include "gateway/enrichment.h"
#include "gateway/event.h"
#include "gateway/runtime.h"
#include "gateway/secrets.h"
#include "gateway/server.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

typedef struct sluice_enrich_fixture {
    sluice_config_t *cfg;
    sluice_secrets_t *secrets;
    sluice_gateway_t *gw;
    sluice_worker_t *w;
    sluice_runtime_t rt;
    sluice_source_rt_t src;
} sluice_enrich_fixture_t;

/* Loads a config whose only org (id acme, source web) has org_enrichment as its `enrichment:`
 * map and org_extra (or NULL) as more of its keys; the top-level enrichment reads uap-core's
 * regexes and, when geo_database is not NULL, that database. ENCRYPTION_KEY is set for the
 * session keys. Returns 0, or -1 with the config's messages on stderr. */
int sluice_enrich_fixture_init(sluice_enrich_fixture_t *f, const char *org_enrichment, const char *org_extra,
                               const char *geo_database);
void sluice_enrich_fixture_dispose(sluice_enrich_fixture_t *f);

/* A session cookie's value for org acme under the fixture's keys (for a request's Cookie). */
int sluice_enrich_fixture_cookie(const sluice_enrich_fixture_t *f, const sluice_session_t *s, char *out, size_t cap);

/* A request: its pool, authority shop.acme.example and headers[0..n) as name, value pairs
 * (names lower case). Clear with h2o_mem_clear_pool(&req->pool). */
void sluice_enrich_fixture_req(h2o_req_t *req, const char *const *headers, size_t n);

/* What one tree's step did. */
typedef struct sluice_enrich_outcome {
    int rc;
    size_t cookie_count;
    char cookies[SLUICE_REPLY_MAX_COOKIES][512];
    char *bytes; /* the event as written afterwards (malloc'd), NULL when it could not be */
    size_t len;
} sluice_enrich_outcome_t;

/* Runs sluice_enrichment_event on a copy of j and sluice_enrichment_event_jv on a copy of v (the
 * same event parsed both ways), each on its own request with headers[0..n) and its own
 * sluice_enrichment_req_t, and fills oj and ov (bytes: json/write.c's for jansson,
 * sluice_jv_encode's for jv). A session the step started has a random id: the jv event gets the
 * jansson one's and the cookies' values are compared apart (same length). Returns 0 when the two
 * agree (also with the bridge sluice_jv_to_json's bytes), else -1. Free the bytes with
 * sluice_enrich_outcome_dispose. */
int sluice_enrich_fixture_both(sluice_enrich_fixture_t *f, const sluice_event_enrich_t *en, const char *const *headers,
                               size_t n, const json_t *j, sluice_jsonnum_t *nums, const sluice_jv_t *v,
                               sluice_json_arena_t *a, sluice_enrich_outcome_t *oj, sluice_enrich_outcome_t *ov);
void sluice_enrich_outcome_dispose(sluice_enrich_outcome_t *o);

#endif
