/*
 * Differential libFuzzer target for identity's synchronous part on arena values (issue 17 step 2,
 * part three): the body is parsed both ways (sluice_event_parse, sluice_event_parse_jv), and for
 * four jobs set up as tests/unit/identity sets them up (a server source; a browser of an org
 * without cross domains, with a cookie; a browser of an org that signs its cookie, without one;
 * the same with a token in the query string), step 1 takes the body's `_dft`
 * (sluice_identity_begin, _begin_jv) and step 2 runs on each object of the batch, or on the
 * body, in order (sluice_identity_assign, _assign_jv). Every return code and every job field the
 * two steps fill (token state, text and length, landing time, fbclid, anonymous id, minted, proof)
 * must be the same after each event, and the body then written as the same bytes three ways
 * (json/write.c, sluice_jv_encode, and the jv tree bridged to jansson by sluice_jv_to_json). A
 * minted id is random: where both sides minted one for an event without an anonymousId, the jv
 * side is given the jansson side's before comparing. sluice_identity_scrub and _scrub_jv run on
 * copies of the body and of each item, and must write the same bytes too. No Redis: step 3 is not
 * reached.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/event.h"
#include "identity/identity.h"
#include "identity_orgs.h"
#include "jv_same.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/jv_json.h"
#include "json/numbers.h"
#include "json/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sluice_limits_t limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 4096,
    .max_batch_events = 8,
    .max_depth = 16,
    .max_string_bytes = 2048,
    .max_wire_bytes = 65536,
};

static sluice_org_t orgs[2];
static sluice_config_t cfg;
static sluice_identity_secrets_t secrets;
static sluice_identity_thread_t *thr;

static void setup_once(void)
{
    if (thr == NULL)
        thr = sluice_fuzz_identity_setup(orgs, &cfg, &secrets);
}

#define same_bytes(j, nums, v) ((void)jv_same_bytes((j), (nums), (v)))

/* The scrub of a refused event, on copies. */
static void scrub_both(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    json_t *jc = sluice_jsonnum_copy(nums, j);
    sluice_jv_t *vc = sluice_jv_copy(a, v);
    if (jc == NULL || vc == NULL)
        abort();
    sluice_identity_scrub(jc);
    sluice_identity_scrub_jv(vc, a);
    same_bytes(jc, nums, vc);
    json_decref(jc);
}

/* 1 when s is an id sluice_id_mint could have made. */
static int minted(const char *s, size_t len)
{
    return s != NULL && len == SLUICE_ID_MINT_LEN && sluice_id_valid(s, len);
}

/* Every field step 1 and step 2 fill must be the same; a random id minted on both sides for the
 * same event is made the same (the jansson side's) first. */
static void same_job(sluice_json_arena_t *a, sluice_identity_job_t *jj, sluice_identity_job_t *jv, json_t *ej,
                     sluice_jv_t *ev, int had_anon)
{
    if (ej != NULL) {
        const char *sj = json_string_value(json_object_get(ej, "anonymousId"));
        size_t lv;
        const char *sv = sluice_jv_string_value(sluice_jv_object_get(ev, "anonymousId"), &lv);
        if ((sj == NULL) != (sv == NULL))
            abort();
        if (sj != NULL && (strlen(sj) != lv || memcmp(sj, sv, lv) != 0)) {
            if (had_anon || !minted(sj, strlen(sj)) || !minted(sv, lv))
                abort();
            if (sluice_jv_object_set(a, ev, "anonymousId", sluice_jv_string(a, sj, strlen(sj))) != 0)
                abort();
        }
    }
    if (strcmp(jj->anonymous_id, jv->anonymous_id) != 0) {
        if (!jj->visitor_minted || !jv->visitor_minted || !minted(jj->anonymous_id, strlen(jj->anonymous_id)) ||
            !minted(jv->anonymous_id, strlen(jv->anonymous_id)))
            abort();
        memcpy(jv->anonymous_id, jj->anonymous_id, sizeof(jv->anonymous_id));
    }
    if (jj->token_outcome != jv->token_outcome || jj->token_state != jv->token_state ||
        jj->token_len != jv->token_len || memcmp(jj->token, jv->token, sizeof(jj->token)) != 0 ||
        jj->landed_ms != jv->landed_ms || (jj->vendor == NULL) != (jv->vendor == NULL) ||
        (jj->vendor != NULL && strcmp(jj->vendor->fbclid, jv->vendor->fbclid) != 0) ||
        jj->visitor_minted != jv->visitor_minted || jj->proof != jv->proof || jj->signs != jv->signs ||
        jj->browser != jv->browser)
        abort();
}

/* One job of each kind over fresh parses of the body. */
static void run_job(const char *buf, size_t size, int kind)
{
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    if (a == NULL || nums == NULL)
        abort();
    sluice_event_error_t e;
    json_t *root = sluice_event_parse(buf, size, &limits, nums, NULL, &e);
    sluice_jv_t *vroot = sluice_event_parse_jv(buf, size, &limits, a, NULL, &e);
    if ((root == NULL) != (vroot == NULL)) /* fuzz.jv_event compares the parses themselves */
        abort();
    if (root == NULL)
        goto out;
    if (kind == 0) { /* the scrub of the body as sent and of each item of its batch, on copies */
        scrub_both(a, nums, root, vroot);
        for (size_t i = 0; i < json_array_size(json_object_get(root, "batch")); i++)
            scrub_both(a, nums, json_array_get(json_object_get(root, "batch"), i),
                       sluice_jv_array_get(sluice_jv_object_get(vroot, "batch"), i));
    }
    sluice_identity_input_t in = {.browser = kind != 0, .now_ms = 1700000000123LL};
    if (kind == 1)
        in.cookie_id = h2o_iovec_init(H2O_STRLIT("c0ffee00c0ffee00c0ffee00c0ffee00"));
    if (kind == 3)
        in.token = h2o_iovec_init(H2O_STRLIT("query-token"));
    in.origin = h2o_iovec_init(H2O_STRLIT("https://shop.acme.test"));
    sluice_identity_job_t jj, jv;
    memset(&jj, 0, sizeof(jj));
    memset(&jv, 0, sizeof(jv));
    jj.cfg = jv.cfg = &cfg;
    jj.org = jv.org = &orgs[kind >= 2 ? 0 : 1];
    sluice_identity_begin(thr, &jj, &in, root);
    sluice_identity_begin_jv(thr, &jv, &in, vroot);
    same_job(a, &jj, &jv, NULL, NULL, 0);
    json_t *batch = json_object_get(root, "batch");
    sluice_jv_t *vbatch = sluice_jv_object_get(vroot, "batch");
    size_t n = json_is_array(batch) ? json_array_size(batch) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *ej = json_is_array(batch) ? json_array_get(batch, i) : root;
        sluice_jv_t *ev = json_is_array(batch) ? sluice_jv_array_get(vbatch, i) : vroot;
        if (json_is_object(ej) != sluice_jv_is_object(ev))
            abort();
        if (!json_is_object(ej)) /* step 2 runs on validated events only */
            continue;
        int had_anon = json_is_string(json_object_get(ej, "anonymousId"));
        if (sluice_identity_assign(&jj, ej) != sluice_identity_assign_jv(&jv, a, ev))
            abort();
        same_job(a, &jj, &jv, ej, ev, had_anon);
    }
    same_bytes(root, nums, vroot);
    sluice_identity_job_dispose(&jj);
    sluice_identity_job_dispose(&jv);
out:
    json_decref(root);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    for (int kind = 0; kind < 4; kind++)
        run_job((const char *)data, size, kind);
    return 0;
}
