/*
 * Differential libFuzzer target for what identity's asynchronous part writes (issue 17 step 2):
 * sluice_identity_complete, the step sluice_identity_run takes once Redis answered, on a job
 * whose events are jansson values against the same job on jv values (identity/run_rules.h, once
 * per tree). Each event the input holds (the body, each object of its batch; parsed both ways by
 * tests/fuzz/both_trees.c) becomes a request of two events, a copy of it twice (so that the
 * second sees what the first wrote: an identify's userId, a replaced id). The job's state stands
 * for Redis's answers and is filled from the input alike on both sides: a hash of the input
 * chooses the org's consent policy, categories and vendor cookies, browser or server, whether the
 * token was redeemed, how the visitor's id is proven, the cookies read, an fbclid, a hashed or
 * dropped userId; the body's top-level "_known" object (id -> {"userId", "anonymousId",
 * "click:<name>": strings}) is what the lookups found, and "_dfid" the token's id. Then the two
 * requests' events must write the same bytes three ways (tests/fuzz/jv_same.h), and the job the
 * same anonymous id, proof, replaced id, vendor cookies, Set-Cookie values and lookups' answers
 * (job->known, which an identify adds to). The thread has no Redis: links are not sent and kept
 * click ids not restored (keep_clicks needs Redis); tests/integration/identity_clicks.c runs the
 * whole of sluice_identity_run on both trees against a real one.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "both_trees.h"
#include "identity/identity.h"
#include "identity_orgs.h"
#include "jv_same.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/fuzz/identity_orgs.h's acme and plain, both sending to Meta, Google Ads and GA4 and
 * setting Meta's and GA4's cookies. */
static char meta[] = "meta", ga4[] = "ga4", google_ads[] = "google_ads", analytics[] = "analytics", ads[] = "ads";
static char *vendors[] = {meta, ga4};
static char *required[] = {analytics};
static char *cookie_consent[] = {ads};
static sluice_integration_t integrations[3];
static sluice_org_t orgs[2];
static sluice_config_t cfg;
static sluice_identity_secrets_t secrets;
static sluice_identity_thread_t *thr;

/* What the input says beside its events. */
static uint32_t flags;
static json_t *known_in; /* "_known", strings only, or NULL */
static char dfid[SLUICE_ID_MAX + 1];

static void setup_once(void)
{
    if (thr != NULL)
        return;
    thr = sluice_fuzz_identity_setup(orgs, &cfg, &secrets);
    integrations[0] = (sluice_integration_t){.vendor_name = meta, .enabled = 1, .consent = ads};
    integrations[1] = (sluice_integration_t){.vendor_name = google_ads, .enabled = 1};
    integrations[2] = (sluice_integration_t){.vendor_name = ga4, .enabled = 1, .consent = analytics};
    for (int i = 0; i < 2; i++) {
        orgs[i].identity.vendor_cookies = vendors;
        orgs[i].identity.vendor_cookie_count = 2;
        orgs[i].integrations = integrations;
        orgs[i].integration_count = 3;
    }
}

/* The data layer's user form: ids starting "drop" are removed, "hash" ones hashed (a fixed text
 * here: only that both trees link the same form matters). */
static int user_form(const sluice_org_t *org, const char *uid, char out[65])
{
    (void)org;
    if (strncmp(uid, "drop", 4) == 0)
        return -1;
    if (strncmp(uid, "hash", 4) != 0)
        return 0;
    memcpy(out, "hashed-user", sizeof("hashed-user"));
    return 1;
}

static int id_forgotten(const sluice_identity_job_t *job, const char *id)
{
    (void)job;
    return strncmp(id, "forgot", 6) == 0;
}

static int click_covered(const sluice_org_t *org, const char *name)
{
    (void)org;
    return strcmp(name, "ttclid") == 0;
}

/* bits [lo, lo + n) of flags */
static unsigned bits(unsigned lo, unsigned n)
{
    return (flags >> lo) & ((1u << n) - 1);
}

/* The job's state after step 2 and Redis's answers, the same on both sides. */
static void fill(sluice_identity_job_t *job, const char *event_anon)
{
    static const int proofs[] = {SLUICE_IDENTITY_PROOF_NONE, SLUICE_IDENTITY_PROOF_COOKIE,
                                 SLUICE_IDENTITY_PROOF_CLAIMED, SLUICE_IDENTITY_PROOF_MINTED};
    memset(job, 0, sizeof(*job));
    job->cfg = &cfg;
    job->org = &orgs[bits(0, 1)];
    job->t = thr;
    job->browser = bits(1, 1) == 0;
    job->now_ms = 1796612400000LL;
    job->signs = job->browser && job->org == &orgs[0];
    job->token_outcome = bits(2, 1) ? SLUICE_TOKEN_REDEEMED : -1;
    memcpy(job->claims.dfid, dfid, sizeof(dfid));
    job->proof = job->signs ? proofs[bits(3, 2)] : SLUICE_IDENTITY_PROOF_NONE;
    /* the cookie's id, or the event's own (the body's id became the cookie's); never none, which
     * visitor_cookie fills with a random id */
    const char *anon = bits(5, 1) && event_anon != NULL && event_anon[0] != '\0' && strlen(event_anon) <= SLUICE_ID_MAX
                           ? event_anon
                           : "c0ffee00c0ffee00c0ffee00c0ffee00";
    memcpy(job->anonymous_id, anon, strlen(anon) + 1);
    job->visitor_minted = bits(6, 1);
    job->had_sid = job->browser && bits(7, 1);
    job->had_fbp = job->had_fbc = job->had_ga = job->browser && bits(8, 1);
    /* vendor ids the browser had: a minted _fbp or _ga is random, so both are always read (the
     * block sluice_identity_begin would have made; freed by sluice_identity_job_dispose) */
    sluice_identity_vendor_ids_t *vd = job->vendor = calloc(1, sizeof(*job->vendor));
    if (vd == NULL)
        abort();
    memcpy(vd->fbp, "fb.1.1796612000000.1234567890", sizeof("fb.1.1796612000000.1234567890"));
    memcpy(vd->ga, "GA1.1.1234567890.1796612000", sizeof("GA1.1.1234567890.1796612000"));
    if (bits(9, 1))
        memcpy(vd->fbc, "fb.1.1796612000000.OLDCLICK", sizeof("fb.1.1796612000000.OLDCLICK"));
    if (bits(10, 1))
        memcpy(vd->fbclid, "NEWCLICK", sizeof("NEWCLICK"));
    if (bits(11, 1)) {
        memcpy(vd->ga_stream[0], "ga_ABC123", sizeof("ga_ABC123"));
        memcpy(vd->ga_session[0], "GS1.1.1796612000.1.0.1796612000.0", sizeof("GS1.1.1796612000.1.0.1796612000.0"));
        vd->ga_stream_count = 1;
    }
    job->clicks_covered = -1;
    job->known = known_in != NULL ? json_deep_copy(known_in) : NULL;
    job->user_form = bits(12, 1) ? user_form : NULL;
    job->id_forgotten = id_forgotten;
    job->click_covered = click_covered;
    /* the org's consent */
    sluice_org_t *o = &orgs[bits(0, 1)];
    o->consent.policy = bits(13, 2) % 3;
    o->consent.required = required;
    o->consent.required_count = bits(15, 1);
    o->identity.cookie_consent_set = bits(16, 1);
    o->identity.cookie_consent = cookie_consent;
    o->identity.cookie_consent_count = bits(17, 1);
}

static void same_jobs(const sluice_identity_job_t *jj, const sluice_identity_job_t *jv)
{
    if (strcmp(jj->anonymous_id, jv->anonymous_id) != 0 || strcmp(jj->replaced, jv->replaced) != 0 ||
        jj->proof != jv->proof || jj->visitor_minted != jv->visitor_minted ||
        strcmp(jj->vendor->fbp, jv->vendor->fbp) != 0 || strcmp(jj->vendor->fbc, jv->vendor->fbc) != 0 ||
        strcmp(jj->vendor->ga, jv->vendor->ga) != 0 || jj->cookie_count != jv->cookie_count ||
        jj->clicks_covered != jv->clicks_covered)
        abort();
    for (size_t i = 0; i < jj->cookie_count; i++)
        if (strcmp(jj->cookies[i], jv->cookies[i]) != 0)
            abort();
    if ((jj->known == NULL) != (jv->known == NULL) || (jj->known != NULL && !json_equal(jj->known, jv->known)))
        abort();
}

static void run_both(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    sluice_identity_job_t jj, jv;
    const char *event_anon = json_string_value(json_object_get(j, "anonymousId"));
    fill(&jj, event_anon);
    fill(&jv, event_anon);
    jj.events = json_array();
    jv.events_jv = sluice_jv_array(a);
    jv.arena = a;
    for (int i = 0; i < 2; i++)
        if (jj.events == NULL || jv.events_jv == NULL ||
            json_array_append_new(jj.events, sluice_jsonnum_copy(nums, j)) != 0 ||
            sluice_jv_array_append(a, jv.events_jv, sluice_jv_copy(a, v)) != 0)
            abort();
    uint64_t errors = sluice_identity_redis_errors(thr);
    sluice_identity_complete(thr, &jj);
    sluice_identity_complete(thr, &jv);
    same_jobs(&jj, &jv);
    (void)jv_same_bytes(jj.events, nums, jv.events_jv);
    if (sluice_identity_redis_errors(thr) != errors)
        abort();
    json_decref(jj.events);
    sluice_identity_job_dispose(&jj);
    sluice_identity_job_dispose(&jv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    uint32_t h = 2166136261u; /* FNV-1a of the input */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
    /* Redis answers strings only (json_stringn of each field found) */
    json_t *k = json_object_get(root, "_known");
    known_in = json_is_object(k) ? json_object() : NULL;
    const char *id, *field;
    json_t *entry, *value;
    json_object_foreach(k, id, entry) {
        json_t *kept = json_object();
        json_object_foreach(entry, field, value) {
            if (json_is_string(value))
                json_object_set(kept, field, value);
        }
        json_object_set_new(known_in, id, kept);
    }
    const char *d = json_string_value(json_object_get(root, "_dfid"));
    if (d == NULL || !sluice_id_valid(d, strlen(d)))
        d = "d00dd00dd00dd00dd00dd00dd00dd00d";
    memcpy(dfid, d, strlen(d) + 1);
    /* four states per input: a seed of the corpus reaches more than one of them */
    for (uint32_t round = 0; round < 4; round++) {
        flags = h ^ (round * 0x9e3779b9u);
        sluice_fuzz_each_event(data, size, &sluice_fuzz_event_limits, run_both);
    }
    json_decref(root);
    json_decref(known_in);
    known_in = NULL;
    return 0;
}
