/*
 * Ad click ids across pages, against a real Redis: a visitor lands from an ad with ?ttclid=…,
 * ?gclid=… or ?fbclid=… and buys pages later, where the page URL carries no click id (sluice.js
 * and Segment's analytics.js alike send context.page.url of the page they are on). The purchase
 * must reach TikTok with its ttclid, Google Ads with its gclid, Meta with fbc
 * "fb.1.<ms of the click>.<fbclid>" (the click's time, not the purchase's); only with the consent
 * the vendor's integrations need, only for a vendor the org sends to, and only within the
 * vendor's window. Before, only the landing page's own events carried them.
 *
 * The identity layer runs on an h2o loop of the test itself, as in identity_redis.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "identity/identity.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/write.h"
#include "tests/harness/harness.h"
#include "tests/harness/redis.h"

#define PREFIX "sluice:clk:"
#define SHOP   "https://shop.acme.test"
#define DAY_MS (86400LL * 1000)

static sluice_th_redis_t R;
static h2o_loop_t *loop;
static sluice_identity_secrets_t secrets;
static char org_id[] = "acme", sid[] = "_sid", host[] = "127.0.0.1", prefix[] = PREFIX, url[] = "redis://set";
static char n_tiktok[] = "tiktok", n_gads[] = "gads", n_meta[] = "meta", v_tiktok[] = "tiktok", v_gads[] = "google_ads",
            v_meta[] = "meta", marketing[] = "marketing";
static sluice_integration_t integrations[3];
static sluice_org_t org;
static sluice_config_t cfg;
static sluice_identity_thread_t *T;

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int spin(int (*cond)(void *), void *arg, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (!cond(arg)) {
        if (now_ms() > end)
            return 0;
        h2o_evloop_run(loop, 10);
    }
    return 1;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static int connected(void *arg)
{
    return sluice_redis_connected(((sluice_identity_thread_t *)arg)->redis);
}

static int setup(void **state)
{
    (void)state;
    sluice_err_t err;
    if (sluice_json_arena_install() != 0) /* jv_run_as_jansson's arenas, before any jansson value */
        fail_msg("no arenas");
    if (sluice_th_redis_start(&R, 0, &err) != 0)
        fail_msg("%s", err.msg);
    org.id = org_id;
    org.identity.cookie_name = sid;
    org.identity.cookie_max_age_days = 400;
    org.identity.link_ttl_days = 400;
    /* TikTok and Google Ads only with marketing consent; Meta without a category of its own. */
    integrations[0] =
        (sluice_integration_t){.name = n_tiktok, .vendor_name = v_tiktok, .enabled = 1, .consent = marketing};
    integrations[1] = (sluice_integration_t){.name = n_gads, .vendor_name = v_gads, .enabled = 1, .consent = marketing};
    integrations[2] = (sluice_integration_t){.name = n_meta, .vendor_name = v_meta, .enabled = 1};
    org.integrations = integrations;
    org.integration_count = 3;
    cfg.orgs = &org;
    cfg.org_count = 1;
    cfg.redis.url = url;
    cfg.redis.host = host;
    cfg.redis.port = (uint16_t)R.port;
    cfg.redis.timeout_ms = 1000;
    cfg.redis.key_prefix = prefix;
    loop = h2o_evloop_create();
    T = sluice_identity_thread_create(&cfg, loop, &secrets, &err);
    assert_non_null(T);
    assert_true(spin(connected, T, 5000));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_identity_thread_destroy(T);
    h2o_evloop_destroy(loop);
    sluice_th_teardown();
    return 0;
}

static int job_done;

static void on_done(sluice_identity_job_t *job)
{
    (void)job;
    job_done = 1;
}

static int is_done(void *arg)
{
    (void)arg;
    return job_done;
}

/* One request from a browser (no cookie; the ids are the bodies', as analytics.js sends them)
 * at at_ms; returns its events after identity. */
static json_t *request(const char *body, int64_t at_ms)
{
    json_error_t je;
    json_t *root = json_loads(body, 0, &je);
    if (root == NULL)
        fail_msg("%s: %s", body, je.text);
    sluice_identity_job_t job;
    memset(&job, 0, sizeof(job));
    job.cfg = &cfg;
    job.org = &org;
    job.done = on_done;
    sluice_identity_input_t in = {.browser = 1,
                                  .now_ms = at_ms,
                                  .origin = h2o_iovec_init(H2O_STRLIT(SHOP)),
                                  .cookie_id = h2o_iovec_init(NULL, 0),
                                  .host = h2o_iovec_init(H2O_STRLIT("127.0.0.1"))};
    sluice_identity_begin(T, &job, &in, root);
    json_t *events = json_array();
    json_t *list = json_object_get(root, "batch");
    size_t i;
    json_t *ev;
    if (json_is_array(list)) {
        json_array_foreach(list, i, ev) {
            assert_int_equal(sluice_identity_assign(&job, ev), 0);
            json_array_append(events, ev);
        }
    } else {
        assert_int_equal(sluice_identity_assign(&job, root), 0);
        json_array_append(events, root);
    }
    json_decref(root);
    job.events = events;
    job_done = 0;
    assert_int_equal(sluice_identity_run(T, &job), 0);
    assert_true(spin(is_done, NULL, 5000));
    sluice_identity_job_dispose(&job);
    spin(never, NULL, 150); /* the fire-and-forget writes reach Redis */
    return events;
}

static const char *ev_path(const json_t *events, size_t i, const char *a, const char *b)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(json_array_get(events, i), "context"), a), b));
}

/* Asserts context.a.b of event i is want (a missing value fails as such, not as a crash). */
static void expect(const json_t *events, size_t i, const char *a, const char *b, const char *want)
{
    const char *got = ev_path(events, i, a, b);
    if (got == NULL)
        fail_msg("event %zu has no context.%s.%s (wanted %s)", i, a, b, want);
    assert_string_equal(got, want);
}

#define LANDING(anon, query, consent)                                                                                  \
    "{\"type\":\"page\",\"anonymousId\":\"" anon "\",\"context\":{\"page\":{\"url\":\"" SHOP "/shoes?" query           \
    "\"},\"consent\":{\"categories\":" consent "}}}"
#define PURCHASE(anon, consent)                                                                                        \
    "{\"type\":\"track\",\"event\":\"Order Completed\",\"anonymousId\":\"" anon                                        \
    "\",\"context\":{\"page\":{\"url\":\"" SHOP "/checkout/done\"},\"consent\":{\"categories\":" consent "}}}"

/* Landing with three vendors' click ids, three pages later a purchase: every click id is on it,
 * Meta's as fbc with the landing's millisecond. */
static void purchase_pages_after_the_click(void **state)
{
    (void)state;
    int64_t t0 = now_ms();
    json_t *evs =
        request(LANDING("v-buyer", "ttclid=E.C.P.tt1&gclid=Cj0KCQ-g1&fbclid=IwAR-fb1", "[\"marketing\"]"), t0);
    expect(evs, 0, "clickIds", "ttclid", "E.C.P.tt1");
    json_decref(evs);
    evs = request("{\"batch\":[" PURCHASE("v-buyer", "[\"marketing\"]") "," PURCHASE("v-other", "[\"marketing\"]") "]}",
                  t0 + 3 * 60000);
    expect(evs, 0, "clickIds", "ttclid", "E.C.P.tt1");
    expect(evs, 0, "clickIds", "gclid", "Cj0KCQ-g1");
    expect(evs, 0, "clickIds", "fbclid", "IwAR-fb1");
    char fbc[128];
    snprintf(fbc, sizeof(fbc), "fb.1.%lld.IwAR-fb1", (long long)t0);
    expect(evs, 0, "vendorIds", "fbc", fbc);
    /* another visitor gets nothing of it */
    assert_null(json_object_get(json_object_get(json_array_get(evs, 1), "context"), "clickIds"));
    json_decref(evs);
    /* A reload of the landing page keeps the click's first time; a new click replaces it. */
    evs = request(LANDING("v-buyer", "fbclid=IwAR-fb1", "[\"marketing\"]"), t0 + 5 * 60000);
    json_decref(evs);
    evs = request(PURCHASE("v-buyer", "[\"marketing\"]"), t0 + 6 * 60000);
    expect(evs, 0, "vendorIds", "fbc", fbc);
    json_decref(evs);
    evs = request(LANDING("v-buyer", "gbraid=GB-2", "[\"marketing\"]"), t0 + 7 * 60000);
    json_decref(evs);
    evs = request(PURCHASE("v-buyer", "[\"marketing\"]"), t0 + 8 * 60000);
    /* Google Ads takes one id per conversion: the latest click's */
    expect(evs, 0, "clickIds", "gbraid", "GB-2");
    assert_null(ev_path(evs, 0, "clickIds", "gclid"));
    json_decref(evs);
}

/* In the landing page's own batch (the tag sends the page and an add-to-cart together). */
static void later_event_of_the_same_batch(void **state)
{
    (void)state;
    json_t *evs = request("{\"batch\":[" LANDING("v-batch", "ttclid=TT-B",
                                                 "[\"marketing\"]") "," PURCHASE("v-batch", "[\"marketing\"]") "]}",
                          now_ms());
    expect(evs, 1, "clickIds", "ttclid", "TT-B");
    json_decref(evs);
}

/* Consent: without the category TikTok's and Google's integrations need, their click ids are
 * neither kept nor added, and a consent given later does not bring back a click landed without
 * it; Meta's (no category of its own) is. */
static void without_consent_nothing_kept(void **state)
{
    (void)state;
    int64_t t0 = now_ms();
    json_t *evs = request(LANDING("v-noconsent", "ttclid=TT-N&gclid=G-N&fbclid=FB-N", "[\"analytics\"]"), t0);
    json_decref(evs);
    redisContext *c = redisConnect("127.0.0.1", R.port);
    redisReply *r = redisCommand(c, "HMGET " PREFIX "id:acme:v-noconsent click:ttclid click:gclid click:fbclid");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_NIL);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL);
    assert_int_equal(r->element[2]->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(c);
    evs = request(PURCHASE("v-noconsent", "[\"analytics\"]"), t0 + 60000);
    assert_null(ev_path(evs, 0, "clickIds", "ttclid"));
    expect(evs, 0, "clickIds", "fbclid", "FB-N");
    json_decref(evs);
    evs = request(PURCHASE("v-noconsent", "[\"analytics\",\"marketing\"]"), t0 + 120000);
    assert_null(ev_path(evs, 0, "clickIds", "ttclid"));
    assert_null(ev_path(evs, 0, "clickIds", "gclid"));
    json_decref(evs);
    /* Kept with consent, not added to an event without it; the consent withdrawn removes it, as
     * it expires the vendor cookies: given again, it does not bring the click back. */
    evs = request(LANDING("v-withdrawn", "ttclid=TT-W", "[\"marketing\"]"), t0);
    json_decref(evs);
    evs = request(PURCHASE("v-withdrawn", "[]"), t0 + 60000);
    assert_null(ev_path(evs, 0, "clickIds", "ttclid"));
    json_decref(evs);
    c = redisConnect("127.0.0.1", R.port);
    r = redisCommand(c, "HGET " PREFIX "id:acme:v-withdrawn click:ttclid");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "");
    freeReplyObject(r);
    redisFree(c);
    evs = request(PURCHASE("v-withdrawn", "[\"marketing\"]"), t0 + 120000);
    assert_null(ev_path(evs, 0, "clickIds", "ttclid"));
    json_decref(evs);
}

/* Each vendor's window: TikTok's click 29 days old is no longer added, Google's still is. */
static void windows(void **state)
{
    (void)state;
    int64_t t0 = now_ms() - 29 * DAY_MS;
    json_t *evs = request(LANDING("v-old", "ttclid=TT-OLD&gclid=G-OLD", "[\"marketing\"]"), t0);
    json_decref(evs);
    evs = request(PURCHASE("v-old", "[\"marketing\"]"), now_ms());
    assert_null(ev_path(evs, 0, "clickIds", "ttclid"));
    expect(evs, 0, "clickIds", "gclid", "G-OLD");
    json_decref(evs);
    evs = request(PURCHASE("v-old", "[\"marketing\"]"), t0 + 91 * DAY_MS);
    assert_null(ev_path(evs, 0, "clickIds", "gclid"));
    json_decref(evs);
    /* Past their windows the clicks are no longer in Redis either: the link hash lives 400 days. */
    redisContext *c = redisConnect("127.0.0.1", R.port);
    redisReply *r = redisCommand(c, "HMGET " PREFIX "id:acme:v-old click:ttclid click:gclid");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(r->element[i]->type, REDIS_REPLY_STRING);
        assert_string_equal(r->element[i]->str, "");
    }
    freeReplyObject(r);
    redisFree(c);
}

/* A vendor the org does not send to: its click id is not kept (nothing would use it). */
static void no_integration_nothing_kept(void **state)
{
    (void)state;
    json_t *evs = request(LANDING("v-pin", "epik=EP-1&msclkid=MS-1", "[\"marketing\"]"), now_ms());
    json_decref(evs);
    redisContext *c = redisConnect("127.0.0.1", R.port);
    redisReply *r = redisCommand(c, "EXISTS " PREFIX "id:acme:v-pin");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(sluice_identity_redis_errors(T), 0);
}

/* ------------------------------------------------------------------ the same run on jv values (issue 17) */

/* An org that exchanges tokens with checkout (signed cookies) and sets Meta's cookies, run by two
 * threads of their own whose key prefixes differ, so that each sees the same Redis history: one
 * runs every request on jansson values, the other on jv values. */
static char xorg_id[] = "xacme", shop_host[] = "shop.acme.test", pay_host[] = "checkout.example-pay.com",
            jprefix[] = "sluice:clkj:", vprefix[] = "sluice:clkv:";
static char *xdomains[] = {shop_host, pay_host};
static char *xvendors[] = {v_meta};

/* One browser request of xorg from origin with the signed cookie of visitor (or none) and token
 * (or none), run on Tj with jansson values and on Tv with jv values; every event's bytes, the
 * Set-Cookie values, the visitor's id and the token's outcome must be the same. Returns the events
 * (jansson's) and the outcome in *outcome. */
static json_t *request_both(sluice_identity_thread_t *tj, sluice_identity_thread_t *tv, const sluice_org_t *xorg,
                            const char *origin, const char *visitor, const char *token, const char *body, int64_t at_ms,
                            int *outcome)
{
    char cookie[256] = "";
    if (visitor != NULL)
        assert_true(sluice_cookie_sign(tj->keys->cookies, xorg->id, visitor, cookie, sizeof(cookie)) > 0);
    sluice_identity_input_t in = {.browser = 1,
                                  .now_ms = at_ms,
                                  .origin = h2o_iovec_init(origin, strlen(origin)),
                                  .cookie_id =
                                      visitor ? h2o_iovec_init(cookie, strlen(cookie)) : h2o_iovec_init(NULL, 0),
                                  .fbp = h2o_iovec_init(H2O_STRLIT("fb.1.1796612000000.1234567890")),
                                  .token = token ? h2o_iovec_init(token, strlen(token)) : h2o_iovec_init(NULL, 0),
                                  .host = h2o_iovec_init(H2O_STRLIT("127.0.0.1"))};
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t err;
    json_error_t je;
    json_t *root = json_loads(body, 0, &je);
    sluice_jv_t *vroot = sluice_jv_parse(a, body, strlen(body), 16, 4096, 16, NULL, &err);
    assert_non_null(root);
    assert_non_null(vroot);
    sluice_identity_job_t jj, jv;
    memset(&jj, 0, sizeof(jj));
    memset(&jv, 0, sizeof(jv));
    jj.cfg = jv.cfg = &cfg;
    jj.org = jv.org = xorg;
    jj.done = jv.done = on_done;
    sluice_identity_begin(tj, &jj, &in, root);
    sluice_identity_begin_jv(tv, &jv, &in, vroot);
    json_t *list = json_object_get(root, "batch");
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    jj.events = json_array();
    jv.events_jv = sluice_jv_array(a);
    jv.arena = a;
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_is_array(list) ? json_array_get(list, i) : root;
        sluice_jv_t *v = json_is_array(list) ? sluice_jv_array_get(sluice_jv_object_get(vroot, "batch"), i) : vroot;
        assert_int_equal(sluice_identity_assign(&jj, ev), 0);
        assert_int_equal(sluice_identity_assign_jv(&jv, a, v), 0);
        json_array_append(jj.events, ev);
        assert_int_equal(sluice_jv_array_append(a, jv.events_jv, sluice_jv_copy(a, v)), 0);
    }
    json_decref(root);
    job_done = 0;
    assert_int_equal(sluice_identity_run(tj, &jj), 0);
    assert_true(spin(is_done, NULL, 5000));
    job_done = 0;
    assert_int_equal(sluice_identity_run(tv, &jv), 0);
    assert_true(spin(is_done, NULL, 5000));
    spin(never, NULL, 150); /* the fire-and-forget writes reach Redis */
    char *wj = sluice_json_encode(jj.events, NULL, NULL), *wv = sluice_jv_encode(jv.events_jv, NULL);
    assert_non_null(wj);
    assert_non_null(wv);
    assert_string_equal(wj, wv);
    assert_string_equal(jj.anonymous_id, jv.anonymous_id);
    assert_int_equal(jj.token_outcome, jv.token_outcome);
    assert_int_equal(jj.cookie_count, jv.cookie_count);
    for (size_t i = 0; i < jj.cookie_count; i++)
        assert_string_equal(jj.cookies[i], jv.cookies[i]);
    assert_memory_equal(jj.duplicate, jv.duplicate, n);
    *outcome = jj.token_outcome;
    free(wj);
    free(wv);
    sluice_identity_job_dispose(&jj);
    sluice_identity_job_dispose(&jv);
    sluice_json_arena_free(a);
    return jj.events;
}

/* The whole of sluice_identity_run against Redis on both trees, request after request: a token
 * redeemed on checkout (its id adopted, linkedFrom the id the cookie proved, the replaced id
 * linked), the click ids of that landing kept; an identify under the adopted id; a purchase whose
 * id a cookie proves stamped with the userId, its clicks restored and Meta's fbc; the same with
 * marketing withheld (Google's click neither added nor kept any longer, Meta's still). */
static void jv_run_as_jansson(void **state)
{
    (void)state;
    static const uint8_t key[32] = {7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1,
                                    7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1};
    sluice_err_t err;
    sluice_keyring_t *root = sluice_keyring_create();
    assert_int_equal(sluice_keyring_add(root, 1, key, 1, &err), 0);
    sluice_identity_secrets_t xsecrets = {.tokens = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err),
                                          .cookies = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_COOKIE, &err)};
    assert_non_null(xsecrets.tokens);
    assert_non_null(xsecrets.cookies);
    sluice_org_t xorg = org;
    xorg.id = xorg_id;
    xorg.identity.xd_domains = xdomains;
    xorg.identity.xd_domain_count = 2;
    xorg.identity.xd_token_ttl_s = 60;
    xorg.identity.xd_clock_skew_s = 5;
    xorg.identity.vendor_cookies = xvendors;
    xorg.identity.vendor_cookie_count = 1;
    xorg.identity.dedup_enabled = 1;
    xorg.identity.dedup_window_s = 600;
    sluice_config_t cj = cfg, cv = cfg;
    cj.redis.key_prefix = jprefix;
    cv.redis.key_prefix = vprefix;
    sluice_identity_thread_t *tj = sluice_identity_thread_create(&cj, loop, &xsecrets, &err);
    sluice_identity_thread_t *tv = sluice_identity_thread_create(&cv, loop, &xsecrets, &err);
    assert_non_null(tj);
    assert_non_null(tv);
    assert_true(spin(connected, tj, 5000));
    assert_true(spin(connected, tv, 5000));

    int64_t t0 = now_ms();
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    assert_true(sluice_token_seal(xsecrets.tokens, xorg_id, pay_host, "v-from-shop", t0 / 1000, 60, tok, sizeof(tok),
                                  &err) > 0);
    int outcome;
    json_t *evs = request_both(tj, tv, &xorg, "https://checkout.example-pay.com", "v-pay", tok,
                               "{\"type\":\"page\",\"anonymousId\":\"v-pay\",\"messageId\":\"m-1\",\"context\":{"
                               "\"page\":{\"url\":\"https://checkout.example-pay.com/?gclid=G-X&fbclid=FB-X\"},"
                               "\"consent\":{\"categories\":[\"marketing\"]}}}",
                               t0, &outcome);
    assert_int_equal(outcome, SLUICE_TOKEN_REDEEMED);
    assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 0), "anonymousId")), "v-from-shop");
    expect(evs, 0, "identity", "linkedFrom", "v-pay");
    json_decref(evs);

    evs = request_both(tj, tv, &xorg, "https://checkout.example-pay.com", "v-from-shop", NULL,
                       "{\"type\":\"identify\",\"userId\":\"u-x\",\"messageId\":\"m-2\",\"context\":{\"consent\":{"
                       "\"categories\":[\"marketing\"]}}}",
                       t0 + 1000, &outcome);
    json_decref(evs);

    const char *purchase = "{\"batch\":[{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"m-1\","
                           "\"context\":{\"consent\":{\"categories\":[\"marketing\"]}}},{\"type\":\"track\","
                           "\"anonymousId\":\"v-pay\",\"context\":{\"consent\":{\"categories\":[\"marketing\"]}}}]}";
    evs = request_both(tj, tv, &xorg, "https://checkout.example-pay.com", "v-from-shop", NULL, purchase, t0 + 60000,
                       &outcome);
    expect(evs, 0, "identity", "userId", "u-x");
    expect(evs, 0, "clickIds", "gclid", "G-X");
    expect(evs, 0, "vendorIds", "fbp", "fb.1.1796612000000.1234567890");
    json_decref(evs);

    evs =
        request_both(tj, tv, &xorg, "https://checkout.example-pay.com", "v-from-shop", NULL,
                     "{\"type\":\"track\",\"event\":\"Order Completed\",\"context\":{\"consent\":{\"categories\":[]}}}",
                     t0 + 120000, &outcome);
    assert_null(ev_path(evs, 0, "clickIds", "gclid"));
    expect(evs, 0, "clickIds", "fbclid", "FB-X");
    json_decref(evs);

    assert_int_equal(sluice_identity_redis_errors(tj), 0);
    assert_int_equal(sluice_identity_redis_errors(tv), 0);
    sluice_identity_thread_destroy(tj);
    sluice_identity_thread_destroy(tv);
    sluice_keyring_free(root);
    sluice_keyring_free((sluice_keyring_t *)xsecrets.tokens);
    sluice_keyring_free((sluice_keyring_t *)xsecrets.cookies);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(purchase_pages_after_the_click), cmocka_unit_test(later_event_of_the_same_batch),
        cmocka_unit_test(without_consent_nothing_kept),   cmocka_unit_test(windows),
        cmocka_unit_test(no_integration_nothing_kept),    cmocka_unit_test(jv_run_as_jansson),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
