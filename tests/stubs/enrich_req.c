/*
 * The enrichment step's fixture (enrich_req.h): a one-org config, its resources, a worker for
 * sluice_enrichment_begin, requests, and both trees' step compared. The test's thread only.
 */
#include "tests/stubs/enrich_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/time.h"
#include "json/jv_json.h"
#include "json/write.h"

int sluice_enrich_fixture_init(sluice_enrich_fixture_t *f, const char *org_enrichment, const char *org_extra,
                               const char *geo_database)
{
    memset(f, 0, sizeof(*f));
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server: {http: {listen: \"127.0.0.1:0\"}}\n"
             "kafka: {brokers: \"127.0.0.1:9092\"}\n"
             "enrichment: {ua_regexes: %s%s%s}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]\n"
             "    enrichment: %s\n"
             "%s",
             SLUICE_UA_REGEXES_DEFAULT, geo_database != NULL ? ", geo_database: " : "",
             geo_database != NULL ? geo_database : "", org_enrichment, org_extra != NULL ? org_extra : "");
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    f->cfg = sluice_config_load_string("enrich.yaml", yaml, strlen(yaml), SLUICE_CONFIG_NO_ENV, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s\n", d.msgs[i]);
    sluice_config_diag_dispose(&d);
    if (f->cfg == NULL)
        return -1;
    setenv("ENCRYPTION_KEY", "0909090909090909090909090909090909090909090909090909090909090909", 1);
    sluice_err_t err = {{0}};
    f->secrets = sluice_secrets_load(f->cfg, sluice_now_ms(), &err);
    f->gw = calloc(1, sizeof(*f->gw));
    f->w = calloc(1, sizeof(*f->w));
    f->rt.enrich = sluice_enrichment_create(f->cfg, 1, NULL, &err);
    if (f->secrets == NULL || f->gw == NULL || f->w == NULL || f->rt.enrich == NULL) {
        fprintf(stderr, "enrich fixture: %s\n", err.msg);
        return -1;
    }
    f->gw->secrets = f->secrets;
    f->w->gw = f->gw;
    f->rt.cfg = f->cfg;
    f->src.org = &f->cfg->orgs[0];
    return 0;
}

void sluice_enrich_fixture_dispose(sluice_enrich_fixture_t *f)
{
    sluice_enrichment_destroy(f->rt.enrich);
    sluice_secrets_free(f->secrets);
    sluice_config_free(f->cfg);
    free(f->gw);
    free(f->w);
    memset(f, 0, sizeof(*f));
}

int sluice_enrich_fixture_cookie(const sluice_enrich_fixture_t *f, const sluice_session_t *s, char *out, size_t cap)
{
    return sluice_session_sign(sluice_secrets_session(f->secrets), "acme", s, out, cap);
}

void sluice_enrich_fixture_req(h2o_req_t *req, const char *const *headers, size_t n)
{
    memset(req, 0, sizeof(*req));
    h2o_mem_init_pool(&req->pool);
    req->authority = h2o_iovec_init(H2O_STRLIT("shop.acme.example"));
    for (size_t i = 0; i + 1 < n; i += 2)
        h2o_add_header_by_str(&req->pool, &req->headers, headers[i], strlen(headers[i]), 1, NULL, headers[i + 1],
                              strlen(headers[i + 1]));
}

/* The worker's counters the step moves (a user-agent parse is a hit or a miss by who came first). */
static void counters(const sluice_worker_t *w, uint64_t out[6])
{
    out[0] = w->metrics.ua_cache_hits + w->metrics.ua_cache_misses;
    out[1] = w->metrics.bots[SLUICE_BOTS_FLAG];
    out[2] = w->metrics.bots[SLUICE_BOTS_DROP];
    out[3] = w->metrics.geo[0];
    out[4] = w->metrics.geo[1];
    out[5] = w->metrics.sessions_started;
}

/* One tree's step on its own request; moved[] gets the counters' changes. */
static void run(sluice_enrich_fixture_t *f, const sluice_event_enrich_t *en, const char *const *headers, size_t n,
                json_t *jc, sluice_jv_t *vc, sluice_json_arena_t *a, sluice_enrich_outcome_t *o, uint64_t moved[6])
{
    h2o_req_t req;
    sluice_enrichment_req_t r;
    sluice_reply_t reply;
    uint64_t before[6];
    memset(&reply, 0, sizeof(reply));
    sluice_enrich_fixture_req(&req, headers, n);
    /* The gateway's storage for r holds an earlier request's bytes, or anything: begin must not
     * leave one of them read as this request's (a location, hints, a session). */
    memset(&r, 0xa5, sizeof(r));
    sluice_enrichment_begin(&r, &req, f->w, &f->rt, &f->src, en);
    counters(f->w, before);
    o->rc = jc != NULL ? sluice_enrichment_event(&r, jc, &reply) : sluice_enrichment_event_jv(&r, vc, &reply, a);
    counters(f->w, moved);
    for (size_t i = 0; i < 6; i++)
        moved[i] -= before[i];
    o->cookie_count = reply.cookie_count;
    for (size_t i = 0; i < reply.cookie_count; i++)
        snprintf(o->cookies[i], sizeof(o->cookies[i]), "%.*s", (int)reply.cookies[i].len, reply.cookies[i].base);
    h2o_mem_clear_pool(&req.pool);
}

/* 1 when cookies a and b are the same but for their values, of one length. */
static int same_but_value(const char *a, const char *b)
{
    const char *ea = strchr(a, '='), *eb = strchr(b, '=');
    if (ea == NULL || eb == NULL || ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0)
        return 0;
    size_t va = strcspn(ea, ";"), vb = strcspn(eb, ";");
    return va == vb && strcmp(ea + va, eb + vb) == 0;
}

int sluice_enrich_fixture_both(sluice_enrich_fixture_t *f, const sluice_event_enrich_t *en, const char *const *headers,
                               size_t n, const json_t *j, sluice_jsonnum_t *nums, const sluice_jv_t *v,
                               sluice_json_arena_t *a, sluice_enrich_outcome_t *oj, sluice_enrich_outcome_t *ov)
{
    memset(oj, 0, sizeof(*oj));
    memset(ov, 0, sizeof(*ov));
    json_t *jc = sluice_jsonnum_copy(nums, j);
    sluice_jv_t *vc = sluice_jv_copy(a, v);
    if (jc == NULL || vc == NULL) {
        json_decref(jc);
        return -1;
    }
    uint64_t mj[6], mv[6];
    run(f, en, headers, n, jc, NULL, a, oj, mj);
    run(f, en, headers, n, NULL, vc, a, ov, mv);
    int same = oj->rc == ov->rc && oj->cookie_count == ov->cookie_count && memcmp(mj, mv, sizeof(mj)) == 0;
    /* A session the step started has a random id, in the event and in the cookie's value. */
    int started = mj[5] == 1 && mv[5] == 1;
    for (size_t i = 0; same && i < oj->cookie_count; i++)
        same =
            strcmp(oj->cookies[i], ov->cookies[i]) == 0 || (started && same_but_value(oj->cookies[i], ov->cookies[i]));
    const char *idj =
        json_string_value(json_object_get(json_object_get(json_object_get(jc, "context"), "session"), "id"));
    sluice_jv_t *sv = sluice_jv_object_get(sluice_jv_object_get(vc, "context"), "session");
    size_t idv_len;
    const char *idv = sluice_jv_string_value(sluice_jv_object_get(sv, "id"), &idv_len);
    if (started && idj != NULL && idv != NULL && idv_len == strlen(idj))
        same &= sluice_jv_object_set(a, sv, "id", sluice_jv_string(a, idj, idv_len)) == 0;
    oj->bytes = sluice_json_encode(jc, nums, &oj->len);
    ov->bytes = sluice_jv_encode(vc, &ov->len);
    sluice_jsonnum_t *bnums = sluice_jsonnum_new();
    json_t *b = bnums != NULL ? sluice_jv_to_json(vc, bnums) : NULL;
    size_t lb = 0;
    char *wb = b != NULL ? sluice_json_encode(b, bnums, &lb) : NULL;
    same &= oj->bytes != NULL && ov->bytes != NULL && wb != NULL && oj->len == ov->len && lb == oj->len &&
            memcmp(oj->bytes, ov->bytes, oj->len) == 0 && memcmp(wb, oj->bytes, lb) == 0;
    free(wb);
    json_decref(b);
    sluice_jsonnum_free(bnums);
    json_decref(jc);
    return same ? 0 : -1;
}

void sluice_enrich_outcome_dispose(sluice_enrich_outcome_t *o)
{
    free(o->bytes);
    o->bytes = NULL;
}
