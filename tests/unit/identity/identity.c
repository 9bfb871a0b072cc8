/* Tests for identity/identity.c without Redis (the integration tests add a real one): which
 * anonymous id an event is given (body, cookie, new), the Set-Cookie values of a request (signed
 * for an org with cross domains, and only as consent allows, expired on refusal), the token taken
 * from every place it may travel and removed from all of them, token refusals decided before
 * Redis, tokens issued only for the id a signed cookie proves, client-sent context.identity
 * dropped, vendor cookies and click ids. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "identity/identity.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"

#define NOW_MS   1700000000123LL
#define SHOP     "https://shop.acme.test"
#define CHECKOUT "https://checkout.example-pay.com"

static char org_id[] = "acme", other_id[] = "globex", plain_id[] = "plain", sid[] = "_sid", meta[] = "meta",
            ga4[] = "ga4", analytics[] = "analytics", ads[] = "ads", meta_name[] = "meta-capi";
static char *required[] = {analytics};
static sluice_integration_t integrations[1];
static char shop[] = "shop.acme.test", checkout[] = "checkout.example-pay.com", globex_host[] = "globex.test";
static char acme_domain[] = "acme.test";
static char *domains[] = {shop, checkout};
static char *globex_domains[] = {globex_host};
static char *vendors[] = {meta, ga4};

static sluice_org_t orgs[3]; /* acme and globex exchange tokens (signed cookies); plain does not */
static sluice_org_t *cur_org;
static sluice_config_t cfg;
static sluice_keyring_t *keys, *token_keys, *cookie_keys; /* the root ring and what the gateway derives */
static sluice_identity_secrets_t secrets;
static sluice_identity_thread_t *thr, *thr_nokeys;
static int done_calls;

static const uint8_t key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
                                3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8};

static void init_org(sluice_org_t *o, char *id, char **xd, size_t xd_count)
{
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->identity.cookie_name = sid;
    o->identity.cookie_max_age_days = 400;
    o->identity.xd_domains = xd;
    o->identity.xd_domain_count = xd_count;
    o->identity.xd_token_ttl_s = 60;
    o->identity.xd_clock_skew_s = 5;
    o->identity.link_ttl_days = 400;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(sluice_json_arena_install(), 0); /* the jv tests' arenas */
    init_org(&orgs[0], org_id, domains, 2);
    init_org(&orgs[1], other_id, globex_domains, 1);
    init_org(&orgs[2], plain_id, NULL, 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.orgs = orgs;
    cfg.org_count = 3;
    sluice_err_t err;
    keys = sluice_keyring_create();
    assert_int_equal(sluice_keyring_add(keys, 1, key, 1, &err), 0);
    token_keys = sluice_keyring_derive(keys, SLUICE_KEY_PURPOSE_XD_TOKEN, &err);
    cookie_keys = sluice_keyring_derive(keys, SLUICE_KEY_PURPOSE_XD_COOKIE, &err);
    secrets = (sluice_identity_secrets_t){.tokens = token_keys, .cookies = cookie_keys};
    thr = sluice_identity_thread_create(&cfg, NULL, &secrets, &err);
    thr_nokeys = sluice_identity_thread_create(&cfg, NULL, NULL, &err);
    assert_non_null(thr);
    assert_non_null(thr_nokeys);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_identity_thread_destroy(thr);
    sluice_identity_thread_destroy(thr_nokeys);
    sluice_keyring_free(keys);
    sluice_keyring_free(token_keys);
    sluice_keyring_free(cookie_keys);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        orgs[i].identity.vendor_cookies = NULL;
        orgs[i].identity.vendor_cookie_count = 0;
        orgs[i].identity.cookie_domain = NULL;
        orgs[i].identity.cookie_consent_set = 0;
        orgs[i].identity.cookie_consent_count = 0;
        orgs[i].consent.required = NULL;
        orgs[i].consent.required_count = 0;
        orgs[i].integrations = NULL;
        orgs[i].integration_count = 0;
    }
    cur_org = &orgs[0];
    return 0;
}

static void on_done(sluice_identity_job_t *job)
{
    (void)job;
    done_calls++;
}

static h2o_iovec_t iov(const char *s)
{
    return s != NULL ? h2o_iovec_init(s, strlen(s)) : h2o_iovec_init(NULL, 0);
}

/* A browser request from origin with the given cookie. */
static sluice_identity_input_t browser(const char *origin, const char *cookie)
{
    sluice_identity_input_t in = {
        .browser = 1, .now_ms = NOW_MS, .origin = iov(origin), .cookie_id = iov(cookie), .host = iov("127.0.0.1:8443")};
    return in;
}

/* Runs the three steps over body (one event, or {"batch":[...]}) on t; returns the events. */
static json_t *run_on(sluice_identity_thread_t *t, sluice_identity_job_t *job, const sluice_identity_input_t *in,
                      const char *body)
{
    json_error_t je;
    json_t *root = json_loads(body, 0, &je);
    assert_non_null(root);
    memset(job, 0, sizeof(*job));
    job->cfg = &cfg;
    job->org = cur_org;
    job->done = on_done;
    json_t *events = json_array();
    sluice_identity_begin(t, job, in, root);
    json_t *list = json_object_get(root, "batch");
    if (json_is_array(list)) {
        size_t i;
        json_t *ev;
        json_array_foreach(list, i, ev) {
            assert_int_equal(sluice_identity_assign(job, ev), 0);
            json_array_append(events, ev);
        }
    } else {
        assert_int_equal(sluice_identity_assign(job, root), 0);
        json_array_append(events, root);
    }
    json_decref(root);
    job->events = events;
    done_calls = 0;
    assert_int_equal(sluice_identity_run(t, job), 0);
    assert_int_equal(done_calls, 1); /* without Redis, synchronously */
    return events;
}

static json_t *run(sluice_identity_job_t *job, const sluice_identity_input_t *in, const char *body)
{
    return run_on(thr, job, in, body);
}

static void done_with(sluice_identity_job_t *job, json_t *events)
{
    sluice_identity_job_dispose(job);
    json_decref(events);
}

static const char *anon_of(json_t *events, size_t i)
{
    return json_string_value(json_object_get(json_array_get(events, i), "anonymousId"));
}

static int matches(const char *pattern, const char *s)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int ok = s != NULL && regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    if (!ok)
        print_error("'%s' does not match %s\n", s ? s : "(null)", pattern);
    return ok;
}

static char *seal_for(const char *org, const char *host, const char *dfid, int64_t now_s)
{
    static char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err;
    assert_true(sluice_token_seal(token_keys, org, host, dfid, now_s, 60, tok, sizeof(tok), &err) > 0);
    return tok;
}

/* A cookie value signed by the gateway's xd-cookie key for id (static buffer). */
static const char *signed_cookie(const char *org, const char *id)
{
    static char v[SLUICE_ID_MAX + SLUICE_COOKIE_SIG_LEN + 1];
    assert_true(sluice_cookie_sign(cookie_keys, org, id, v, sizeof(v)) > 0);
    return v;
}

static const char *vendor_id(json_t *ev, const char *name)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "vendorIds"), name));
}

static const char *cookie_named(const sluice_identity_job_t *job, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < job->cookie_count; i++)
        if (strncmp(job->cookies[i], name, nl) == 0 && job->cookies[i][nl] == '=')
            return job->cookies[i];
    return NULL;
}

/* ------------------------------------------------------------------ anonymous id */

static void new_visitor_gets_a_cookie(void **state)
{
    (void)state;
    cur_org = &orgs[2];
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, NULL);
    json_t *evs = run(&job, &in, "{\"type\":\"track\",\"event\":\"x\"}");
    const char *id = anon_of(evs, 0);
    assert_true(matches("^[0-9a-f]{32}$", id));
    assert_string_equal(job.anonymous_id, id);
    assert_int_equal(job.cookie_count, 1);
    char want[320];
    snprintf(want, sizeof(want), "_sid=%s; Max-Age=34560000; Path=/; Secure; HttpOnly; SameSite=Lax", id);
    assert_string_equal(job.cookies[0], want);
    assert_int_equal(job.token_outcome, -1);
    assert_null(json_object_get(json_object_get(json_array_get(evs, 0), "context"), "identity"));
    done_with(&job, evs);

    /* Where cookies are signed: <id>.<signature>, which proves the id on the next request. */
    cur_org = &orgs[0];
    evs = run(&job, &in, "{\"type\":\"track\",\"event\":\"x\"}");
    id = anon_of(evs, 0);
    assert_true(matches("^[0-9a-f]{32}$", id));
    assert_string_equal(job.anonymous_id, id);
    assert_int_equal(job.proof, SLUICE_IDENTITY_PROOF_MINTED);
    snprintf(want, sizeof(want), "_sid=%s; Max-Age=34560000; Path=/; Secure; HttpOnly; SameSite=Lax",
             signed_cookie(org_id, id));
    assert_string_equal(job.cookies[0], want);
    done_with(&job, evs);
}

/* A signed cookie proves its id: used, refreshed, and the events without an id of their own get it. */
static void signed_cookie_proves_its_id(void **state)
{
    (void)state;
    sluice_identity_job_t job;
    char value[256], want[320];
    snprintf(value, sizeof(value), "%s", signed_cookie(org_id, "c0ffee00c0ffee00c0ffee00c0ffee00"));
    sluice_identity_input_t in = browser(SHOP, value);
    json_t *evs = run(&job, &in, "{\"batch\":[{\"type\":\"page\"},{\"type\":\"page\",\"anonymousId\":\"tag-id\"}]}");
    assert_int_equal(job.proof, SLUICE_IDENTITY_PROOF_COOKIE);
    assert_string_equal(anon_of(evs, 0), "c0ffee00c0ffee00c0ffee00c0ffee00");
    assert_string_equal(anon_of(evs, 1), "tag-id");
    assert_string_equal(job.anonymous_id, "c0ffee00c0ffee00c0ffee00c0ffee00");
    snprintf(want, sizeof(want), "_sid=%s; Max-Age=34560000; Path=/; Secure; HttpOnly; SameSite=Lax", value);
    assert_string_equal(job.cookies[0], want);
    done_with(&job, evs);

    /* Forged: a victim's id with a made-up or another org's signature, or no signature at all.
     * The events may still carry the id (as any body may), but nothing is proven: without Redis
     * to claim it, no cookie is set and the job names no id. */
    static const char *const forged[] = {"victim-id.AQAAAAAAAAAAAAAAAAAAAAA", "victim-id"};
    for (size_t i = 0; i < 2; i++) {
        in = browser(SHOP, forged[i]);
        evs = run(&job, &in, "{\"type\":\"page\"}");
        assert_int_not_equal(job.proof, SLUICE_IDENTITY_PROOF_COOKIE);
        assert_string_equal(anon_of(evs, 0), "victim-id"); /* what the request said, for its own events */
        assert_string_equal(job.anonymous_id, "");
        assert_null(cookie_named(&job, "_sid"));
        done_with(&job, evs);
    }
    snprintf(value, sizeof(value), "%s", signed_cookie(other_id, "victim-id"));
    in = browser(SHOP, value);
    evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_int_equal(job.proof, SLUICE_IDENTITY_PROOF_NONE);
    assert_string_equal(job.anonymous_id, "");
    done_with(&job, evs);
}

static void cookie_is_used_and_refreshed(void **state)
{
    (void)state;
    cur_org = &orgs[2];
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "c0ffee00c0ffee00c0ffee00c0ffee00");
    json_t *evs = run(&job, &in, "{\"batch\":[{\"type\":\"track\",\"event\":\"a\"},{\"type\":\"page\"}]}");
    assert_string_equal(anon_of(evs, 0), "c0ffee00c0ffee00c0ffee00c0ffee00");
    assert_string_equal(anon_of(evs, 1), "c0ffee00c0ffee00c0ffee00c0ffee00");
    assert_int_equal(job.cookie_count, 1);
    assert_string_equal(job.cookies[0], "_sid=c0ffee00c0ffee00c0ffee00c0ffee00; Max-Age=34560000; Path=/; Secure; "
                                        "HttpOnly; SameSite=Lax");
    done_with(&job, evs);

    /* The org's cookie_domain, when the request came to a host inside it. */
    cur_org->identity.cookie_domain = acme_domain;
    in.host = iov("data.shop.acme.test");
    evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_string_equal(job.cookies[0], "_sid=c0ffee00c0ffee00c0ffee00c0ffee00; Max-Age=34560000; Domain=acme.test; "
                                        "Path=/; Secure; HttpOnly; SameSite=Lax");
    done_with(&job, evs);
    in.host = iov("data.example-pay.com");
    evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_null(strstr(job.cookies[0], "Domain="));
    done_with(&job, evs);

    /* A cookie that is not an id we would set is ignored (and replaced). */
    in = browser(SHOP, "bad value;");
    evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_true(matches("^[0-9a-f]{32}$", anon_of(evs, 0)));
    done_with(&job, evs);
    orgs[2].identity.cookie_domain = NULL;
}

static void body_id_wins(void **state)
{
    (void)state;
    cur_org = &orgs[2];
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "cookieid");
    json_t *evs = run(&job, &in, "{\"type\":\"page\",\"anonymousId\":\"bodyid\"}");
    assert_string_equal(anon_of(evs, 0), "bodyid");
    assert_true(matches("^_sid=cookieid; ", job.cookies[0]));
    done_with(&job, evs);

    /* No cookie: the body's id becomes the cookie, and other events of the batch get it. */
    in = browser(SHOP, NULL);
    evs = run(&job, &in, "{\"batch\":[{\"type\":\"page\",\"anonymousId\":\"bodyid\"},{\"type\":\"page\"}]}");
    assert_string_equal(anon_of(evs, 0), "bodyid");
    assert_string_equal(anon_of(evs, 1), "bodyid");
    assert_true(matches("^_sid=bodyid; ", job.cookies[0]));
    done_with(&job, evs);

    /* A body id that cannot be a cookie stays on its event; the cookie gets a new id. */
    evs = run(&job, &in, "{\"type\":\"page\",\"anonymousId\":\"anon:42\"}");
    assert_string_equal(anon_of(evs, 0), "anon:42");
    assert_true(matches("^_sid=[0-9a-f]{32}; ", job.cookies[0]));
    done_with(&job, evs);

    /* Where cookies are signed a body id is only a candidate: it must be claimed in Redis first
     * (none here), so it is neither signed into a cookie nor named as the visitor's id. */
    cur_org = &orgs[0];
    evs = run(&job, &in, "{\"type\":\"page\",\"anonymousId\":\"bodyid\"}");
    assert_string_equal(anon_of(evs, 0), "bodyid");
    assert_string_equal(job.anonymous_id, "");
    assert_int_equal(job.cookie_count, 0);
    done_with(&job, evs);
}

static void server_events(void **state)
{
    (void)state;
    sluice_identity_job_t job;
    sluice_identity_input_t in = {.browser = 0, .now_ms = NOW_MS};
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"batch\":[{\"type\":\"track\",\"event\":\"a\",\"userId\":\"u1\",\"_dft\":\"%s\"},"
             "{\"type\":\"track\",\"event\":\"b\"}]}",
             seal_for(org_id, checkout, "abc", NOW_MS / 1000));
    json_t *evs = run(&job, &in, body);
    assert_null(json_object_get(json_array_get(evs, 0), "anonymousId")); /* userId is enough */
    assert_null(json_object_get(json_array_get(evs, 0), "_dft"));        /* stripped, not redeemed */
    assert_true(matches("^[0-9a-f]{32}$", anon_of(evs, 1)));
    assert_int_equal(job.cookie_count, 0);
    assert_int_equal(job.token_outcome, -1);
    done_with(&job, evs);
}

/* The click ids of a page event a server library sent: analytics-node and RudderStack's node SDK
 * put a page call's URL in properties.url and send no context.page, so an ad click's gclid or
 * fbclid there was lost to Google Ads, Meta's fbc and TikTok. A track event's properties.url is
 * what the event is about (a shared link with someone else's click id): never the visitor's
 * click. context.page.url, when it has a URL, stays the page. */
static const char *click_of(json_t *events, size_t i, const char *name)
{
    json_t *ids = json_object_get(json_object_get(json_array_get(events, i), "context"), "clickIds");
    return json_string_value(json_object_get(ids, name));
}

static void page_properties_click_ids(void **state)
{
    (void)state;
    sluice_identity_job_t job;
    sluice_identity_input_t in = {.browser = 0, .now_ms = NOW_MS};
    json_t *evs =
        run(&job, &in,
            "{\"batch\":["
            "{\"type\":\"page\",\"userId\":\"u1\",\"properties\":{\"url\":"
            "\"https://shop.acme.test/landing?gclid=G1&fbclid=F1&ttclid=T1\"}},"
            "{\"type\":\"track\",\"event\":\"Link Shared\",\"userId\":\"u2\",\"properties\":{\"url\":"
            "\"https://shop.acme.test/p?gclid=SOMEONE_ELSES\"}},"
            "{\"type\":\"page\",\"userId\":\"u3\",\"context\":{\"page\":{\"url\":\"\"}},"
            "\"properties\":{\"url\":\"https://shop.acme.test/?msclkid=M3\"}},"
            "{\"type\":\"page\",\"userId\":\"u4\",\"context\":{\"page\":{\"url\":"
            "\"https://shop.acme.test/?gclid=CTX\"}},\"properties\":{\"url\":\"https://shop.acme.test/?gclid=PROPS\"}},"
            "{\"type\":\"page\",\"userId\":\"u5\",\"properties\":{\"url\":"
            "\"https://shop.acme.test/?next=%2Fcart%3Fgclid%3DENCODED\"}}"
            "]}");
    assert_non_null(click_of(evs, 0, "gclid"));
    assert_string_equal(click_of(evs, 0, "gclid"), "G1");
    assert_string_equal(click_of(evs, 0, "fbclid"), "F1");
    assert_string_equal(click_of(evs, 0, "ttclid"), "T1");
    assert_null(json_object_get(json_object_get(json_array_get(evs, 1), "context"), "clickIds"));
    assert_non_null(click_of(evs, 2, "msclkid"));
    assert_string_equal(click_of(evs, 2, "msclkid"), "M3");
    assert_string_equal(click_of(evs, 3, "gclid"), "CTX");
    assert_null(json_object_get(json_object_get(json_array_get(evs, 4), "context"), "clickIds"));
    assert_int_equal(job.cookie_count, 0); /* a server's request sets no _fbc */
    done_with(&job, evs);
}

/* ------------------------------------------------------------------ tokens */

static void token_never_survives(void **state)
{
    (void)state;
    const char *tok = seal_for(org_id, checkout, "visitor-from-shop", NOW_MS / 1000);
    char saved[SLUICE_TOKEN_TEXT_MAX + 1];
    snprintf(saved, sizeof(saved), "%s", tok);
    static const char *const places[][2] = {
        {"{\"type\":\"page\",\"_dft\":\"", "\"}"},
        {"{\"type\":\"page\",\"context\":{\"crossDomainToken\":\"", "\"}}"},
        {"{\"type\":\"page\",\"context\":{\"page\":{\"url\":\"https://checkout.example-pay.com/?a=1&_dft=",
         "&gclid=G\"}}}"},
        {"{\"batch\":[{\"type\":\"page\"}],\"_dft\":\"", "\"}"},
    };
    for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
        char body[2048];
        snprintf(body, sizeof(body), "%s%s%s", places[i][0], saved, places[i][1]);
        sluice_identity_job_t job;
        sluice_identity_input_t in = browser(CHECKOUT, "localid");
        json_t *evs = run(&job, &in, body);
        /* Found, opened, and then refused only because there is no Redis to redeem it once. */
        assert_int_equal(job.token_outcome, SLUICE_TOKEN_REDIS_UNAVAILABLE);
        assert_string_equal(anon_of(evs, 0), "localid");
        char *text = json_dumps(evs, JSON_COMPACT);
        assert_null(strstr(text, saved));
        assert_null(strstr(text, "_dft"));
        assert_null(strstr(text, "crossDomainToken"));
        free(text);
        /* and the copy inside the job is wiped */
        assert_null(memmem(&job, sizeof(job), saved, strlen(saved)));
        done_with(&job, evs);
    }
    /* From the query string (input.token). */
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(CHECKOUT, "localid");
    in.token = iov(saved);
    json_t *evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_int_equal(job.token_outcome, SLUICE_TOKEN_REDIS_UNAVAILABLE);
    done_with(&job, evs);
}

static void urls_are_scrubbed(void **state)
{
    (void)state;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(CHECKOUT, "localid");
    json_t *evs = run(&job, &in,
                      "{\"type\":\"page\",\"context\":{\"page\":{\"url\":\"https://c.test/p?_dft=T1&gclid=G&x=1#h\","
                      "\"search\":\"?_dft=T1&x=1\",\"referrer\":\"https://shop.acme.test/?_dft=T0\"}},"
                      "\"properties\":{\"url\":\"https://c.test/p?_dft=T1\",\"search\":\"?_dft=T1\","
                      "\"referrer\":\"https://c.test/?q=1&_dft=T2\"}}");
    json_t *ev = json_array_get(evs, 0);
    json_t *page = json_object_get(json_object_get(ev, "context"), "page");
    json_t *props = json_object_get(ev, "properties");
    assert_string_equal(json_string_value(json_object_get(page, "url")), "https://c.test/p?gclid=G&x=1#h");
    assert_string_equal(json_string_value(json_object_get(page, "search")), "?x=1");
    assert_string_equal(json_string_value(json_object_get(page, "referrer")), "https://shop.acme.test/");
    assert_string_equal(json_string_value(json_object_get(props, "url")), "https://c.test/p");
    assert_string_equal(json_string_value(json_object_get(props, "search")), "");
    assert_string_equal(json_string_value(json_object_get(props, "referrer")), "https://c.test/?q=1");
    /* the click id of the page URL was captured */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(ev, "context"), "clickIds"), "gclid")), "G");
    /* "T1" is no token */
    assert_int_equal(job.token_outcome, SLUICE_TOKEN_MALFORMED);
    done_with(&job, evs);
}

/* An event refused before identity saw it (it goes to sluice.invalid as sent) keeps no token. */
static void refused_event_is_scrubbed(void **state)
{
    (void)state;
    json_error_t je;
    json_t *ev =
        json_loads("{\"type\":\"page\",\"_dft\":\"T0\",\"context\":{\"crossDomainToken\":\"T1\",\"page\":{"
                   "\"url\":\"https://c.test/p?_dft=T2&x=1\",\"search\":\"?_dft=T2\",\"referrer\":"
                   "\"https://shop.acme.test/?_dft=T3\"}},\"properties\":{\"url\":\"https://c.test/?_dft=T2\"}}",
                   0, &je);
    assert_non_null(ev);
    sluice_identity_scrub(ev);
    sluice_identity_scrub(NULL);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"context\":{\"page\":{\"referrer\":\"https://shop.acme.test/\",\"search\":\"\","
                              "\"url\":\"https://c.test/p?x=1\"}},\"properties\":{\"url\":\"https://c.test/\"},"
                              "\"type\":\"page\"}");
    free(text);
    json_decref(ev);
}

static int outcome_of(sluice_identity_thread_t *t, const char *origin, const char *token)
{
    char body[1200];
    snprintf(body, sizeof(body), "{\"type\":\"page\",\"_dft\":\"%s\"}", token);
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(origin, "localid");
    json_t *evs = run_on(t, &job, &in, body);
    int rc = job.token_outcome;
    assert_string_equal(anon_of(evs, 0), "localid"); /* never adopted without Redis */
    done_with(&job, evs);
    return rc;
}

static void refusals_before_redis(void **state)
{
    (void)state;
    int64_t now = NOW_MS / 1000;
    assert_int_equal(outcome_of(thr, CHECKOUT, seal_for(org_id, checkout, "v", now)), SLUICE_TOKEN_REDIS_UNAVAILABLE);
    assert_int_equal(outcome_of(thr, CHECKOUT, "!!!not-base64url!!!"), SLUICE_TOKEN_MALFORMED);
    assert_int_equal(outcome_of(thr, CHECKOUT, "QUJD"), SLUICE_TOKEN_MALFORMED);
    /* issued for checkout, presented on shop */
    assert_int_equal(outcome_of(thr, SHOP, seal_for(org_id, checkout, "v", now)), SLUICE_TOKEN_WRONG_AUDIENCE);
    /* presented with no usable origin */
    assert_int_equal(outcome_of(thr, NULL, seal_for(org_id, checkout, "v", now)), SLUICE_TOKEN_WRONG_AUDIENCE);
    assert_int_equal(outcome_of(thr, "null", seal_for(org_id, checkout, "v", now)), SLUICE_TOKEN_WRONG_AUDIENCE);
    /* from an origin that is not one of the org's domains */
    assert_int_equal(outcome_of(thr, "https://evil.test", seal_for(org_id, checkout, "v", now)),
                     SLUICE_TOKEN_WRONG_AUDIENCE);
    /* another org's token */
    assert_int_equal(outcome_of(thr, CHECKOUT, seal_for(other_id, globex_host, "v", now)), SLUICE_TOKEN_WRONG_ORG);
    /* sealed for a host nobody configured */
    assert_int_equal(outcome_of(thr, CHECKOUT, seal_for(org_id, "elsewhere.test", "v", now)), SLUICE_TOKEN_BAD_TAG);
    /* expired: issued 66 s ago with a 60 s TTL and 5 s skew */
    assert_int_equal(outcome_of(thr, CHECKOUT, seal_for(org_id, checkout, "v", now - 66)), SLUICE_TOKEN_EXPIRED);
    assert_int_equal(outcome_of(thr, CHECKOUT, seal_for(org_id, checkout, "v", now - 65)),
                     SLUICE_TOKEN_REDIS_UNAVAILABLE);
    /* a gateway without keys */
    assert_int_equal(outcome_of(thr_nokeys, CHECKOUT, seal_for(org_id, checkout, "v", now)), SLUICE_TOKEN_UNKNOWN_KID);
    /* far too long to be a token */
    char huge[SLUICE_TOKEN_TEXT_MAX + 40];
    memset(huge, 'A', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(outcome_of(thr, CHECKOUT, huge), SLUICE_TOKEN_MALFORMED);
    /* not a string */
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(CHECKOUT, "localid");
    json_t *evs = run(&job, &in, "{\"type\":\"page\",\"_dft\":42}");
    assert_int_equal(job.token_outcome, SLUICE_TOKEN_MALFORMED);
    assert_null(json_object_get(json_array_get(evs, 0), "_dft"));
    done_with(&job, evs);
}

static void client_identity_is_dropped(void **state)
{
    (void)state;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "localid");
    json_t *evs =
        run(&job, &in, "{\"type\":\"page\",\"context\":{\"identity\":{\"userId\":\"forged\",\"linkedFrom\":\"x\"}}}");
    assert_null(json_object_get(json_object_get(json_array_get(evs, 0), "context"), "identity"));
    done_with(&job, evs);
}

/* ------------------------------------------------------------------ vendor ids */

static void vendor_cookies_minted(void **state)
{
    (void)state;
    cur_org = &orgs[2]; /* the unsigned cookie "localid" is the visitor's here */
    cur_org->identity.vendor_cookies = vendors;
    cur_org->identity.vendor_cookie_count = 2;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "localid");
    json_t *evs = run(&job, &in,
                      "{\"batch\":[{\"type\":\"page\"},{\"type\":\"page\",\"context\":{\"page\":{\"url\":"
                      "\"https://shop.acme.test/?fbclid=IwAR_click-1&gclid=g1\"}}}]}");
    assert_int_equal(job.cookie_count, 4);
    assert_true(matches("^_fbp=fb\\.1\\.1700000000123\\.[1-9][0-9]{9}; Max-Age=7776000; Path=/; Secure; SameSite=Lax$",
                        cookie_named(&job, "_fbp")));
    assert_true(matches("^_fbc=fb\\.1\\.1700000000123\\.IwAR_click-1; Max-Age=7776000; Path=/; Secure; SameSite=Lax$",
                        cookie_named(&job, "_fbc")));
    assert_true(matches("^_ga=GA1\\.1\\.[0-9]{1,10}\\.1700000000; Max-Age=63072000; Path=/; Secure; SameSite=Lax$",
                        cookie_named(&job, "_ga")));
    /* Every event of the request carries the same ids as the cookies (also the first, whose own
     * URL had no fbclid). */
    for (size_t i = 0; i < 2; i++) {
        json_t *ev = json_array_get(evs, i);
        char want[160];
        snprintf(want, sizeof(want), "_fbp=%s;", vendor_id(ev, "fbp"));
        assert_true(strncmp(cookie_named(&job, "_fbp"), want, strlen(want)) == 0);
        assert_string_equal(vendor_id(ev, "fbc"), "fb.1.1700000000123.IwAR_click-1");
        snprintf(want, sizeof(want), "_ga=%s;", vendor_id(ev, "ga"));
        assert_true(strncmp(cookie_named(&job, "_ga"), want, strlen(want)) == 0);
    }
    json_t *clicks = json_object_get(json_object_get(json_array_get(evs, 1), "context"), "clickIds");
    assert_string_equal(json_string_value(json_object_get(clicks, "fbclid")), "IwAR_click-1");
    assert_string_equal(json_string_value(json_object_get(clicks, "gclid")), "g1");
    done_with(&job, evs);
}

/* A vendor cookie not in the vendor's format ("%20": a script's encodeURIComponent(" "), a value
 * of another tool) is no id: Meta's and Google's own tags replace it, and the gateway passed it on
 * to Meta and GA4 as the browser's id and set nothing. Replaced the same way here. */
static void malformed_vendor_cookies_replaced(void **state)
{
    (void)state;
    cur_org = &orgs[2];
    cur_org->identity.vendor_cookies = vendors;
    cur_org->identity.vendor_cookie_count = 2;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "localid");
    in.fbp = iov("%20");
    in.fbc = iov("fb.1.x.CLICK");
    in.ga = iov("GA1.1.123");
    json_t *evs = run(&job, &in, "{\"type\":\"page\"}");
    json_t *ev = json_array_get(evs, 0);
    assert_true(matches("^fb\\.1\\.1700000000123\\.[1-9][0-9]{9}$", vendor_id(ev, "fbp")));
    assert_null(vendor_id(ev, "fbc"));
    assert_true(matches("^GA1\\.1\\.[0-9]{1,10}\\.1700000000$", vendor_id(ev, "ga")));
    assert_non_null(cookie_named(&job, "_fbp"));
    assert_non_null(cookie_named(&job, "_ga"));
    assert_null(cookie_named(&job, "_fbc"));
    done_with(&job, evs);
    cur_org->identity.vendor_cookie_count = 0;
}

static void vendor_cookies_read_not_replaced(void **state)
{
    (void)state;
    cur_org = &orgs[2]; /* the unsigned cookie "localid" is the visitor's here */
    cur_org->identity.vendor_cookies = vendors;
    cur_org->identity.vendor_cookie_count = 2;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "localid");
    in.fbp = iov("fb.1.1600000000000.1111111111");
    in.fbc = iov("fb.1.1600000000000.OLDCLICK");
    in.ga = iov("GA1.2.123.1600000000");
    json_t *evs = run(
        &job, &in, "{\"type\":\"page\",\"context\":{\"page\":{\"url\":\"https://shop.acme.test/?fbclid=OLDCLICK\"}}}");
    assert_int_equal(job.cookie_count, 1); /* only the anonymous id is refreshed */
    json_t *ev = json_array_get(evs, 0);
    assert_string_equal(vendor_id(ev, "fbp"), "fb.1.1600000000000.1111111111");
    assert_string_equal(vendor_id(ev, "fbc"), "fb.1.1600000000000.OLDCLICK");
    assert_string_equal(vendor_id(ev, "ga"), "GA1.2.123.1600000000");
    done_with(&job, evs);

    /* A new click replaces _fbc (Meta's rule); the others stay. */
    evs = run(&job, &in,
              "{\"type\":\"page\",\"context\":{\"page\":{\"url\":\"https://shop.acme.test/?fbclid=NEWCLICK\"}}}");
    assert_int_equal(job.cookie_count, 2);
    assert_true(matches("^_fbc=fb\\.1\\.1700000000123\\.NEWCLICK; ", cookie_named(&job, "_fbc")));
    assert_string_equal(vendor_id(json_array_get(evs, 0), "fbc"), "fb.1.1700000000123.NEWCLICK");
    done_with(&job, evs);

    /* Only the vendors the org lists. */
    cur_org->identity.vendor_cookie_count = 1; /* meta */
    evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_null(vendor_id(json_array_get(evs, 0), "ga"));
    assert_non_null(vendor_id(json_array_get(evs, 0), "fbp"));
    done_with(&job, evs);
    cur_org->identity.vendor_cookie_count = 0;
    evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_null(json_object_get(json_object_get(json_array_get(evs, 0), "context"), "vendorIds"));
    done_with(&job, evs);
}

/* A browser sends every cookie of the name whose domain and path match, the longer path first: an
 * empty copy (a script that "cleared" the cookie by writing it empty on a subpath or on the host
 * alone) before the visitor's real one is none. The id was then "", and the visitor got a new one,
 * cutting its history in two. */
static void empty_cookie_copy_is_none(void **state)
{
    (void)state;
    const h2o_iovec_t plain[] = {iov(""), iov("localid"), iov("later")};
    assert_int_equal(sluice_identity_cookie_pick(thr, &orgs[2], plain, 3), 1);
    const h2o_iovec_t both[] = {iov("first"), iov("second")};
    assert_int_equal(sluice_identity_cookie_pick(thr, &orgs[2], both, 2), 0);
    /* Signed: the one that verifies, else (none does) the first that is not empty. */
    char proof[SLUICE_ID_MAX + SLUICE_COOKIE_SIG_LEN + 1];
    snprintf(proof, sizeof(proof), "%s", signed_cookie("acme", "abc123"));
    const h2o_iovec_t sig[] = {iov(""), iov("unsigned1"), iov(proof)};
    assert_int_equal(sluice_identity_cookie_pick(thr, &orgs[0], sig, 3), 2);
    assert_int_equal(sluice_identity_cookie_pick(thr, &orgs[0], sig, 2), 1);

    cur_org = &orgs[2];
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, NULL);
    in.cookie_id = plain[sluice_identity_cookie_pick(thr, cur_org, plain, 3)];
    json_t *evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_string_equal(anon_of(evs, 0), "localid");
    done_with(&job, evs);
}

/* The browser's cookies for sluice_identity_input_t.cookie: gtag's of two streams. */
static h2o_iovec_t gtag_cookies(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "_ga_ABC123") == 0)
        return iov("GS2.1.s1700000000$o3$g1$t1700000100$j0$l0$h0");
    if (strcmp(name, "_ga_OTHER9") == 0)
        return iov("GS2.1.s1600000000$o9");
    return iov(NULL);
}

/* gtag's session cookie _ga_<container> of each GA4 stream of the org reaches the events as
 * context.vendorIds.ga_<container>, as sent, with the consent _ga needs (here also the GA4
 * integration's own category, ads): GA4's integration then puts the events in gtag's session.
 * Another property's cookie on the site is never read; a refusal passes none on and, the
 * cookie being gtag's, deletes nothing of it. */
static void gtag_session_cookie_with_ga_consent(void **state)
{
    (void)state;
    char err[256];
    static const char yaml[] = "{name: ga4, vendor: ga4, measurement_id: G-ABC123}";
    sluice_yaml_doc_t *doc = sluice_yaml_load_string("t.yaml", yaml, strlen(yaml), err, sizeof(err));
    assert_non_null(doc);
    orgs[0].consent.required = required; /* analytics */
    orgs[0].consent.required_count = 1;
    orgs[0].identity.vendor_cookies = vendors;
    orgs[0].identity.vendor_cookie_count = 2;
    integrations[0] =
        (sluice_integration_t){.name = ga4, .vendor_name = ga4, .enabled = 1, .consent = ads, .node = doc->root};
    orgs[0].integrations = integrations;
    orgs[0].integration_count = 1;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, NULL);
    in.ga = iov("GA1.1.918273645.1700000000");
    in.cookie = gtag_cookies;

    json_t *evs =
        run(&job, &in, "{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\",\"ads\"]}}}");
    json_t *ev = json_array_get(evs, 0);
    assert_string_equal(vendor_id(ev, "ga"), "GA1.1.918273645.1700000000");
    assert_non_null(vendor_id(ev, "ga_ABC123"));
    assert_string_equal(vendor_id(ev, "ga_ABC123"), "GS2.1.s1700000000$o3$g1$t1700000100$j0$l0$h0");
    assert_null(vendor_id(ev, "ga_OTHER9"));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(ev, "context"), "vendorIds"), k, v) {
        (void)v;
        assert_true(strncmp(k, "ga_", 3) != 0 || strcmp(k, "ga_ABC123") == 0); /* _fbp's "fbp" too */
    }
    done_with(&job, evs);

    /* Without the GA4 integration's category: neither _ga nor gtag's session goes on, and only
     * _ga (which the gateway may have set) is expired. */
    evs = run(&job, &in, "{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}}");
    ev = json_array_get(evs, 0);
    assert_null(vendor_id(ev, "ga"));
    assert_null(vendor_id(ev, "ga_ABC123"));
    assert_string_equal(cookie_named(&job, "_ga"), "_ga=; Max-Age=0; Path=/; Secure; SameSite=Lax");
    assert_null(cookie_named(&job, "_ga_ABC123"));
    done_with(&job, evs);

    /* A server request (no browser) reads no cookie. */
    in.browser = 0;
    evs = run(&job, &in, "{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\",\"ads\"]}}}");
    assert_null(vendor_id(json_array_get(evs, 0), "ga_ABC123"));
    done_with(&job, evs);
    integrations[0].node = NULL;
    sluice_yaml_doc_free(doc);
}

/* ------------------------------------------------------------------ issuing */

static void issue(void **state)
{
    (void)state;
    char tok[SLUICE_TOKEN_TEXT_MAX + 1], set[SLUICE_IDENTITY_COOKIE_LEN], value[256];
    sluice_err_t err = {{0}};
    sluice_token_claims_t c;
    /* The id the signed cookie proves, whatever the caller would like. */
    snprintf(value, sizeof(value), "%s", signed_cookie(org_id, "abc"));
    sluice_identity_issue_input_t in = {shop, checkout, iov(value), iov("127.0.0.1"), NOW_MS, NULL};
    assert_int_equal(sluice_identity_issue(thr, &orgs[0], &in, tok, sizeof(tok), set, sizeof(set), NULL, &err), 0);
    assert_int_equal(sluice_token_open(token_keys, org_id, checkout, tok, strlen(tok), NOW_MS / 1000, 5, &c), 0);
    assert_string_equal(c.dfid, "abc");
    assert_int_equal(c.exp, NOW_MS / 1000 + 60);
    assert_string_equal(set, ""); /* the cookie is already there */
    /* sealed under the derived token key, not the root key */
    assert_int_equal(sluice_token_open(keys, org_id, checkout, tok, strlen(tok), NOW_MS / 1000, 5, &c),
                     SLUICE_TOKEN_BAD_TAG);

    /* A cookie naming a victim's id without the gateway's signature proves nothing: the token
     * carries a new id, which becomes this caller's cookie. */
    static const char *const foreign[] = {"victim-id", "victim-id.AQAAAAAAAAAAAAAAAAAAAAA", NULL};
    for (size_t i = 0; i < 3; i++) {
        in.cookie = iov(foreign[i]);
        assert_int_equal(sluice_identity_issue(thr, &orgs[0], &in, tok, sizeof(tok), set, sizeof(set), NULL, &err), 0);
        assert_int_equal(sluice_token_open(token_keys, org_id, checkout, tok, strlen(tok), NOW_MS / 1000, 5, &c), 0);
        assert_true(matches("^[0-9a-f]{32}$", c.dfid));
        char want[320];
        snprintf(want, sizeof(want), "_sid=%s; Max-Age=34560000; Path=/; Secure; HttpOnly; SameSite=Lax",
                 signed_cookie(org_id, c.dfid));
        assert_string_equal(set, want);
    }
    /* An org whose cookie needs consent: the request carries none, so no cookie. */
    orgs[0].consent.required = required;
    orgs[0].consent.required_count = 1;
    assert_int_equal(sluice_identity_issue(thr, &orgs[0], &in, tok, sizeof(tok), set, sizeof(set), NULL, &err), 0);
    assert_string_equal(set, "");

    in.cookie = iov(value);
    in.origin_host = NULL;
    assert_int_equal(sluice_identity_issue(thr, &orgs[0], &in, tok, sizeof(tok), set, sizeof(set), NULL, &err),
                     SLUICE_IDENTITY_EDOMAIN);
    in.origin_host = "evil.test";
    assert_int_equal(sluice_identity_issue(thr, &orgs[0], &in, tok, sizeof(tok), set, sizeof(set), NULL, &err),
                     SLUICE_IDENTITY_EDOMAIN);
    in.origin_host = shop;
    in.to_host = "evil.test";
    assert_int_equal(sluice_identity_issue(thr, &orgs[0], &in, tok, sizeof(tok), set, sizeof(set), NULL, &err),
                     SLUICE_IDENTITY_EDOMAIN);
    in.to_host = checkout;
    assert_int_equal(sluice_identity_issue(thr_nokeys, &orgs[0], &in, tok, sizeof(tok), set, sizeof(set), NULL, &err),
                     SLUICE_IDENTITY_ENOKEY);
    assert_true(sluice_identity_xd_domain(&orgs[0], "Shop.Acme.Test"));
    assert_false(sluice_identity_xd_domain(&orgs[0], "acme.test"));
    assert_false(sluice_identity_xd_domain(&orgs[0], NULL));
}

/* ------------------------------------------------------------------ consent before cookies */

static void cookies_wait_for_consent(void **state)
{
    (void)state;
    orgs[0].consent.required = required; /* analytics */
    orgs[0].consent.required_count = 1;
    orgs[0].identity.vendor_cookies = vendors;
    orgs[0].identity.vendor_cookie_count = 2;
    integrations[0] = (sluice_integration_t){.name = meta_name, .vendor_name = meta, .enabled = 1, .consent = ads};
    orgs[0].integrations = integrations;
    orgs[0].integration_count = 1;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, NULL);

    /* No consent: no cookie at all, no vendor ids minted; the event keeps an id of its own. */
    json_t *evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_int_equal(job.cookie_count, 0);
    assert_true(matches("^[0-9a-f]{32}$", anon_of(evs, 0)));
    assert_null(json_object_get(json_object_get(json_array_get(evs, 0), "context"), "vendorIds"));
    done_with(&job, evs);

    /* analytics: the anonymous id and _ga (no integration of GA4 asks for more); _fbp also needs
     * the Meta integration's category (ads). */
    evs = run(&job, &in, "{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}}");
    assert_non_null(cookie_named(&job, "_sid"));
    assert_non_null(cookie_named(&job, "_ga"));
    assert_null(cookie_named(&job, "_fbp"));
    assert_null(vendor_id(json_array_get(evs, 0), "fbp"));
    assert_non_null(vendor_id(json_array_get(evs, 0), "ga"));
    done_with(&job, evs);
    evs = run(&job, &in, "{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\",\"ads\"]}}}");
    assert_non_null(cookie_named(&job, "_sid"));
    assert_non_null(cookie_named(&job, "_fbp"));
    assert_non_null(cookie_named(&job, "_ga"));
    done_with(&job, evs);

    /* One event of the batch without the category is enough to hold the cookie back. */
    evs = run(&job, &in,
              "{\"batch\":[{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}},"
              "{\"type\":\"page\"}]}");
    assert_null(cookie_named(&job, "_sid"));
    done_with(&job, evs);

    /* A refusal (consent without the category) expires what the browser sent; vendor ids are not
     * passed on either. */
    char value[256];
    snprintf(value, sizeof(value), "%s", signed_cookie(org_id, "c0ffee00c0ffee00c0ffee00c0ffee00"));
    in = browser(SHOP, value);
    in.fbp = iov("fb.1.1600000000000.1111111111");
    in.ga = iov("GA1.2.123.1600000000");
    evs = run(&job, &in, "{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[]}}}");
    assert_string_equal(cookie_named(&job, "_sid"), "_sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax");
    assert_string_equal(cookie_named(&job, "_fbp"), "_fbp=; Max-Age=0; Path=/; Secure; SameSite=Lax");
    assert_string_equal(cookie_named(&job, "_ga"), "_ga=; Max-Age=0; Path=/; Secure; SameSite=Lax");
    assert_null(json_object_get(json_object_get(json_array_get(evs, 0), "context"), "vendorIds"));
    assert_string_equal(anon_of(evs, 0), "c0ffee00c0ffee00c0ffee00c0ffee00");
    done_with(&job, evs);
    /* analytics but not ads: only the Meta cookie goes */
    evs = run(&job, &in, "{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}}");
    assert_true(matches("^_sid=c0ffee00", cookie_named(&job, "_sid")));
    assert_string_equal(cookie_named(&job, "_fbp"), "_fbp=; Max-Age=0; Path=/; Secure; SameSite=Lax");
    assert_null(cookie_named(&job, "_ga")); /* kept, and not re-set */
    assert_string_equal(vendor_id(json_array_get(evs, 0), "ga"), "GA1.2.123.1600000000");
    done_with(&job, evs);

    /* identity.cookie_consent overrides the org's required categories (here: none needed). */
    orgs[0].identity.cookie_consent_set = 1;
    orgs[0].identity.cookie_consent_count = 0;
    in = browser(SHOP, NULL);
    evs = run(&job, &in, "{\"type\":\"page\"}");
    assert_non_null(cookie_named(&job, "_sid"));
    assert_null(cookie_named(&job, "_fbp"));
    done_with(&job, evs);

    /* A request without events says nothing (xd/redeem without consent): neither set nor expired;
     * with the request's own consent it decides as events do. */
    orgs[0].identity.cookie_consent_set = 0;
    json_t *none = json_pack("[]"), *yes = json_pack("[s]", "analytics");
    in = browser(SHOP, value);
    evs = run(&job, &in, "{\"batch\":[]}");
    assert_int_equal(job.cookie_count, 0);
    done_with(&job, evs);
    in.consent = none;
    evs = run(&job, &in, "{\"batch\":[]}");
    assert_string_equal(cookie_named(&job, "_sid"), "_sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax");
    done_with(&job, evs);
    in.consent = yes;
    evs = run(&job, &in, "{\"batch\":[]}");
    assert_true(matches("^_sid=c0ffee00", cookie_named(&job, "_sid")));
    done_with(&job, evs);
    json_decref(none);
    json_decref(yes);
}

/* ------------------------------------------------------------------ the same on jv values (issue 17) */

/* Steps 1 and 2 over body (one event, or {"batch":[...]}) on both trees: jj over root (jansson,
 * numbers in nums), jv over vroot (in a), both jobs of cur_org; with jevents and vevents not
 * NULL, every event is also appended to them (the jv one a copy: a jv value sits in one place). */
static void begin_assign_both(const sluice_identity_input_t *in, const char *body, sluice_json_arena_t *a,
                              sluice_jsonnum_t *nums, json_t **root, sluice_jv_t **vroot, sluice_identity_job_t *jj,
                              sluice_identity_job_t *jv, json_t *jevents, sluice_jv_t *vevents)
{
    sluice_json_error_t err;
    *root = sluice_json_parse(body, strlen(body), 16, 4096, 16, nums, &err);
    *vroot = sluice_jv_parse(a, body, strlen(body), 16, 4096, 16, NULL, &err);
    assert_non_null(*root);
    assert_non_null(*vroot);
    memset(jj, 0, sizeof(*jj));
    memset(jv, 0, sizeof(*jv));
    jj->cfg = jv->cfg = &cfg;
    jj->org = jv->org = cur_org;
    jj->done = jv->done = on_done;
    sluice_identity_begin(thr, jj, in, *root);
    sluice_identity_begin_jv(thr, jv, in, *vroot);
    json_t *list = json_object_get(*root, "batch");
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_is_array(list) ? json_array_get(list, i) : *root;
        sluice_jv_t *v = json_is_array(list) ? sluice_jv_array_get(sluice_jv_object_get(*vroot, "batch"), i) : *vroot;
        assert_int_equal(sluice_identity_assign(jj, ev), 0);
        assert_int_equal(sluice_identity_assign_jv(jv, a, v), 0);
        if (jevents != NULL) {
            json_array_append(jevents, ev);
            assert_int_equal(sluice_jv_array_append(a, vevents, sluice_jv_copy(a, v)), 0);
        }
    }
}

/* Steps 1 and 2 over body on both trees (json/parse.c's jansson values and json/jv.h's, as the
 * gateway parses a body either way) for a job of cur_org; every field they fill and the body's
 * bytes must be the same. Returns the jv side's bytes (malloc'd) and its job in *out. */
static char *assign_both(const sluice_identity_input_t *in, const char *body, sluice_identity_job_t *out)
{
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *root;
    sluice_jv_t *vroot;
    sluice_identity_job_t jj, *jv = out;
    begin_assign_both(in, body, a, nums, &root, &vroot, &jj, jv, NULL, NULL);
    assert_int_equal(jj.token_state, jv->token_state);
    assert_int_equal(jj.token_len, jv->token_len);
    assert_memory_equal(jj.token, jv->token, sizeof(jj.token));
    assert_int_equal(jj.landed_ms, jv->landed_ms);
    assert_int_equal(jj.vendor == NULL, jv->vendor == NULL);
    if (jj.vendor != NULL)
        assert_string_equal(jj.vendor->fbclid, jv->vendor->fbclid);
    assert_string_equal(jj.anonymous_id, jv->anonymous_id);
    assert_int_equal(jj.proof, jv->proof);
    assert_int_equal(jj.visitor_minted, jv->visitor_minted);
    char *wj = sluice_json_encode(root, nums, NULL), *wv = sluice_jv_encode(vroot, NULL);
    assert_non_null(wj);
    assert_non_null(wv);
    assert_string_equal(wj, wv);
    free(wj);
    sluice_identity_job_dispose(&jj);
    json_decref(root);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return wv;
}

/* What a browser's page event gives up on both trees: the token (from the body, the context or the
 * page URL, the first found), the click ids of the page URL merged into context.clickIds, the
 * fbclid for _fbc, the landing time; the URLs without `_dft` and passwords; no client identity. */
static void jv_assign_as_jansson(void **state)
{
    (void)state;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "localid");
    char *text = assign_both(
        &in,
        "{\"type\":\"page\",\"anonymousId\":\"a1\",\"timestamp\":\"2026-12-07T03:00:00.000Z\",\"context\":{"
        "\"library\":{\"name\":\"sluice.js\"},\"identity\":{\"userId\":\"forged\"},\"clickIds\":{\"gclid\":\"old\","
        "\"ttclid\":\"keep\"},\"crossDomainToken\":\"TOK\",\"page\":{\"url\":\"https://u:pw@shop.acme.test/"
        "?gclid=G&_dft=URLTOK&fbclid=F%20B\",\"referrer\":\"https://checkout.example-pay.com/?_dft=R\"}}}",
        &job);
    assert_string_equal(text, "{\"type\":\"page\",\"anonymousId\":\"a1\",\"timestamp\":\"2026-12-07T03:00:00.000Z\","
                              "\"context\":{\"library\":{\"name\":\"sluice.js\"},\"clickIds\":{\"gclid\":\"G\","
                              "\"ttclid\":\"keep\",\"fbclid\":\"F B\"},\"page\":{\"url\":\"https://shop.acme.test/"
                              "?gclid=G&fbclid=F%20B\",\"referrer\":\"https://checkout.example-pay.com/\"}}}");
    assert_int_equal(job.token_state, 1);
    assert_string_equal(job.token, "TOK");
    assert_non_null(job.vendor);
    assert_string_equal(job.vendor->fbclid, "F B");
    assert_int_equal(job.landed_ms, 1796612400000LL);
    assert_string_equal(job.anonymous_id, "localid"); /* the cookie's, not the body's */
    free(text);
    sluice_identity_job_dispose(&job);

    /* A sluice.js token from a page no cross domain referred to is taken out and wiped. */
    text = assign_both(&in,
                       "{\"type\":\"page\",\"context\":{\"library\":{\"name\":\"sluice.js\"},\"page\":{\"url\":"
                       "\"https://shop.acme.test/?_dft=FOREIGN\",\"referrer\":\"https://evil.test/\"}}}",
                       &job);
    assert_int_equal(job.token_state, 3);
    assert_null(strstr(text, "FOREIGN"));
    assert_null(memmem(&job, sizeof(job), "FOREIGN", 7));
    free(text);
    sluice_identity_job_dispose(&job);
}

/* Which anonymous id each event gets on both trees: the body's (which a browser without a cookie
 * keeps as its id), a new one for a browser without either, none for a server's event with a
 * userId, a new one for a server's event without. Minted ids differ between the runs, so those
 * cases are checked on a body that names one where the other tree would mint it. */
static void jv_anonymous_id_as_jansson(void **state)
{
    (void)state;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, NULL);
    cur_org = &orgs[2];
    char *text =
        assign_both(&in, "{\"batch\":[{\"type\":\"track\",\"anonymousId\":\"bodyid\"},{\"type\":\"track\"}]}", &job);
    assert_string_equal(text, "{\"batch\":[{\"type\":\"track\",\"anonymousId\":\"bodyid\"},{\"type\":\"track\","
                              "\"anonymousId\":\"bodyid\"}]}");
    assert_string_equal(job.anonymous_id, "bodyid");
    assert_int_equal(job.visitor_minted, 0);
    free(text);
    sluice_identity_job_dispose(&job);

    sluice_identity_input_t server = {.browser = 0, .now_ms = NOW_MS};
    text = assign_both(&server, "{\"type\":\"track\",\"userId\":\"u1\"}", &job);
    assert_string_equal(text, "{\"type\":\"track\",\"userId\":\"u1\"}");
    free(text);
    sluice_identity_job_dispose(&job);

    /* A new id on the jv tree alone. */
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t err;
    const char *body = "{\"type\":\"track\"}";
    sluice_jv_t *v = sluice_jv_parse(a, body, strlen(body), 16, 4096, 16, NULL, &err);
    memset(&job, 0, sizeof(job));
    job.cfg = &cfg;
    job.org = cur_org;
    sluice_identity_begin_jv(thr, &job, &in, v);
    assert_int_equal(sluice_identity_assign_jv(&job, a, v), 0);
    assert_int_equal(job.visitor_minted, 1);
    assert_true(matches("^[0-9a-f]{32}$", job.anonymous_id));
    size_t len;
    const char *id = sluice_jv_string_value(sluice_jv_object_get(v, "anonymousId"), &len);
    assert_int_equal(len, strlen(job.anonymous_id));
    assert_memory_equal(id, job.anonymous_id, len);
    sluice_identity_job_dispose(&job);
    sluice_json_arena_free(a);
}

/* Scrubs body parsed on each tree and asserts both give want. */
static void scrub_both(const char *body, const char *want)
{
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_json_error_t err;
    sluice_jv_t *v = sluice_jv_parse(a, body, strlen(body), 16, 4096, 16, NULL, &err);
    json_t *j = sluice_json_parse(body, strlen(body), 16, 4096, 16, NULL, &err);
    assert_non_null(v);
    assert_non_null(j);
    sluice_identity_scrub_jv(v, a);
    sluice_identity_scrub_jv(NULL, a);
    sluice_identity_scrub(j);
    char *wv = sluice_jv_encode(v, NULL), *wj = sluice_json_encode(j, NULL, NULL);
    assert_string_equal(wv, want);
    assert_string_equal(wj, wv);
    free(wv);
    free(wj);
    json_decref(j);
    sluice_json_arena_free(a);
}

/* A refused event is scrubbed alike on both trees (refused_event_is_scrubbed's event). */
static void jv_scrub_as_jansson(void **state)
{
    (void)state;
    scrub_both("{\"type\":\"page\",\"_dft\":\"T0\",\"context\":{\"crossDomainToken\":\"T1\",\"page\":{"
               "\"url\":\"https://c.test/p?_dft=T2&x=1\",\"search\":\"?_dft=T2\",\"tab_url\":"
               "\"https://a:b@c.test/\"}},\"properties\":{\"url\":\"https://c.test/?_dft=T2\"}}",
               "{\"type\":\"page\",\"context\":{\"page\":{\"url\":\"https://c.test/p?x=1\",\"search\":"
               "\"\",\"tab_url\":\"https://c.test/\"}},\"properties\":{\"url\":\"https://c.test/\"}}");
}

/* The scrub on both trees past the short URLs above: a URL longer than the scrub's stack copy
 * (1,024 bytes) with a token and user information, only the five URL members of a page (not
 * "urlx", not a title holding "?_dft="), initial_referrer, and members after the ones scrubbed
 * kept in their places. */
static void jv_scrub_long_urls_as_jansson(void **state)
{
    (void)state;
    char path[1501];
    memset(path, 'p', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    char body[2400], want[2400];
    snprintf(body, sizeof(body),
             "{\"context\":{\"page\":{\"title\":\"a?_dft=T0\",\"url\":\"https://u:pw@c.test/%s?_dft=T1&x=1\","
             "\"urlx\":\"https://c.test/?_dft=T2\",\"initial_referrer\":\"https://c.test/?_dft=T3\",\"path\":\"/\"}},"
             "\"properties\":{\"a\":1,\"tab_url\":\"https://c.test/?x=1&_dft=T4\",\"search\":\"?a=1\"}}",
             path);
    snprintf(want, sizeof(want),
             "{\"context\":{\"page\":{\"title\":\"a?_dft=T0\",\"url\":\"https://c.test/%s?x=1\",\"urlx\":"
             "\"https://c.test/?_dft=T2\",\"initial_referrer\":\"https://c.test/\",\"path\":\"/\"}},\"properties\":{"
             "\"a\":1,\"tab_url\":\"https://c.test/?x=1\",\"search\":\"?a=1\"}}",
             path);
    scrub_both(body, want);
}

/* Steps 1 to 3 on both trees: body parsed both ways, steps 1 and 2 on each, then run (no Redis:
 * done synchronously) on job->events and on job->events_jv. The events' bytes, the Set-Cookie
 * values and the visitor's id must be the same; returns the jv side's bytes (malloc'd) and its
 * job in *out (disposed by the caller). Vendor ids are given as cookies: minted ones are random. */
static char *run_both(const sluice_identity_input_t *in, const char *body, sluice_identity_job_t *out)
{
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    json_t *root, *events = json_array();
    sluice_jv_t *vroot, *vevents = sluice_jv_array(a);
    sluice_identity_job_t jj, *jv = out;
    begin_assign_both(in, body, a, nums, &root, &vroot, &jj, jv, events, vevents);
    jj.events = events;
    jv->events_jv = vevents;
    jv->arena = a;
    done_calls = 0;
    assert_int_equal(sluice_identity_run(thr, &jj), 0);
    assert_int_equal(sluice_identity_run(thr, jv), 0);
    assert_int_equal(done_calls, 2);
    assert_string_equal(jj.anonymous_id, jv->anonymous_id);
    assert_int_equal(jj.cookie_count, jv->cookie_count);
    for (size_t i = 0; i < jj.cookie_count; i++)
        assert_string_equal(jj.cookies[i], jv->cookies[i]);
    char *wj = sluice_json_encode(jj.events, nums, NULL), *wv = sluice_jv_encode(jv->events_jv, NULL);
    assert_non_null(wj);
    assert_non_null(wv);
    assert_string_equal(wj, wv);
    free(wj);
    json_decref(jj.events);
    sluice_identity_job_dispose(&jj);
    json_decref(root);
    sluice_jsonnum_free(nums);
    jv->events_jv = NULL; /* the arena goes now: the job keeps only its own fields */
    jv->arena = NULL;
    sluice_json_arena_free(a);
    return wv;
}

/* What run writes without Redis, on both trees: the visitor's cookie and the vendor ids of every
 * event where the events consent (the _fbc of the landing page's fbclid, the browser's _fbp and
 * _ga), and where one event withholds the consent, the cookies expired and no vendor ids at all. */
static void jv_run_as_jansson(void **state)
{
    (void)state;
    cur_org = &orgs[2];
    cur_org->identity.vendor_cookies = vendors;
    cur_org->identity.vendor_cookie_count = 2;
    cur_org->consent.required = required;
    cur_org->consent.required_count = 1;
    sluice_identity_job_t job;
    sluice_identity_input_t in = browser(SHOP, "localid");
    in.fbp = iov("fb.1.1699999999000.1234567890");
    in.ga = iov("GA1.1.1234567890.1699999999");
    char *text = run_both(&in,
                          "{\"batch\":[{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]},"
                          "\"page\":{\"url\":\"https://shop.acme.test/?fbclid=F1\"}}},{\"type\":\"track\","
                          "\"context\":{\"consent\":{\"categories\":[\"analytics\"]},\"vendorIds\":{\"x\":1}}}]}",
                          &job);
    assert_string_equal(
        text, "[{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]},\"page\":{\"url\":"
              "\"https://shop.acme.test/?fbclid=F1\"},\"clickIds\":{\"fbclid\":\"F1\"},\"vendorIds\":{\"fbp\":"
              "\"fb.1.1699999999000.1234567890\",\"fbc\":\"fb.1.1700000000123.F1\",\"ga\":"
              "\"GA1.1.1234567890.1699999999\"}},\"anonymousId\":\"localid\"},{\"type\":\"track\",\"context\":{"
              "\"consent\":{\"categories\":[\"analytics\"]},\"vendorIds\":{\"x\":1,\"fbp\":"
              "\"fb.1.1699999999000.1234567890\",\"fbc\":\"fb.1.1700000000123.F1\",\"ga\":"
              "\"GA1.1.1234567890.1699999999\"}},\"anonymousId\":\"localid\"}]");
    assert_int_equal(job.cookie_count, 2); /* the visitor's and the new _fbc */
    assert_non_null(cookie_named(&job, "_fbc"));
    free(text);
    sluice_identity_job_dispose(&job);

    /* The second event withholds analytics: nothing is set, what the browser has is expired. */
    text = run_both(&in,
                    "{\"batch\":[{\"type\":\"page\",\"context\":{\"consent\":{\"categories\":[\"analytics\"]}}},"
                    "{\"type\":\"track\",\"context\":{\"consent\":{\"categories\":[]}}}]}",
                    &job);
    assert_null(strstr(text, "vendorIds"));
    assert_int_equal(job.cookie_count, 3);
    assert_true(matches("^_sid=; Max-Age=0", cookie_named(&job, "_sid")));
    assert_true(matches("^_fbp=; Max-Age=0", cookie_named(&job, "_fbp")));
    assert_true(matches("^_ga=; Max-Age=0", cookie_named(&job, "_ga")));
    free(text);
    sluice_identity_job_dispose(&job);
}

/* The writing step once Redis answered (sluice_identity_complete), on both trees with the same
 * answers: a redeemed token's id adopted by every event with linkedFrom and crossDomain, the
 * cookie's proven id remembered as replaced; the userId Redis knows for the final id stamped on
 * the events before an identify, whose userId is stamped on the events after it (an event whose
 * context.identity was no object too). */
static void jv_complete_as_jansson(void **state)
{
    (void)state;
    const char *body = "[{\"type\":\"page\",\"anonymousId\":\"c0ffee00c0ffee00c0ffee00c0ffee00\"},{\"type\":"
                       "\"identify\",\"userId\":\"u-9\",\"anonymousId\":\"c0ffee00c0ffee00c0ffee00c0ffee00\"},{"
                       "\"type\":\"track\",\"anonymousId\":\"c0ffee00c0ffee00c0ffee00c0ffee00\"},{\"type\":\"track\","
                       "\"anonymousId\":\"other\",\"context\":{\"identity\":[]}}]";
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t err;
    sluice_identity_job_t jobs[2];
    for (int k = 0; k < 2; k++) {
        sluice_identity_job_t *job = &jobs[k];
        memset(job, 0, sizeof(*job));
        job->cfg = &cfg;
        job->org = cur_org; /* acme: signs its cookie */
        job->browser = 1;
        job->now_ms = NOW_MS;
        job->signs = 1;
        job->proof = SLUICE_IDENTITY_PROOF_COOKIE;
        memcpy(job->anonymous_id, "c0ffee00c0ffee00c0ffee00c0ffee00", 33);
        job->token_outcome = SLUICE_TOKEN_REDEEMED;
        memcpy(job->claims.dfid, "d00dd00dd00dd00dd00dd00dd00dd00d", 33);
        json_error_t je;
        /* looked up after the adoption: under the final id */
        job->known = json_loads("{\"d00dd00dd00dd00dd00dd00dd00dd00d\":{\"userId\":\"u-known\"}}", 0, &je);
        if (k == 0) {
            job->events = sluice_json_parse(body, strlen(body), 16, 4096, 16, nums, &err);
        } else {
            job->events_jv = sluice_jv_parse(a, body, strlen(body), 16, 4096, 16, NULL, &err);
            job->arena = a;
        }
        sluice_identity_complete(thr, job);
    }
    char *wj = sluice_json_encode(jobs[0].events, nums, NULL), *wv = sluice_jv_encode(jobs[1].events_jv, NULL);
    assert_string_equal(
        wv, "[{\"type\":\"page\",\"anonymousId\":\"d00dd00dd00dd00dd00dd00dd00dd00d\",\"context\":{\"identity\":{"
            "\"crossDomain\":true,\"linkedFrom\":\"c0ffee00c0ffee00c0ffee00c0ffee00\",\"userId\":\"u-known\"}}},{"
            "\"type\":\"identify\","
            "\"userId\":\"u-9\",\"anonymousId\":\"d00dd00dd00dd00dd00dd00dd00dd00d\",\"context\":{\"identity\":{"
            "\"crossDomain\":true,\"linkedFrom\":\"c0ffee00c0ffee00c0ffee00c0ffee00\"}}},{\"type\":\"track\","
            "\"anonymousId\":\"d00dd00dd00dd00dd00dd00dd00dd00d\",\"context\":{\"identity\":{\"crossDomain\":true,"
            "\"linkedFrom\":\"c0ffee00c0ffee00c0ffee00c0ffee00\",\"userId\":\"u-9\"}}},{\"type\":\"track\","
            "\"anonymousId\":\"d00dd00dd00dd00dd00dd00dd00dd00d\",\"context\":{\"identity\":{\"crossDomain\":true,"
            "\"linkedFrom\":\"other\",\"userId\":\"u-9\"}}}]");
    assert_string_equal(wj, wv);
    for (int k = 0; k < 2; k++) {
        assert_string_equal(jobs[k].anonymous_id, "d00dd00dd00dd00dd00dd00dd00dd00d");
        assert_string_equal(jobs[k].replaced, "c0ffee00c0ffee00c0ffee00c0ffee00");
        assert_int_equal(jobs[k].proof, SLUICE_IDENTITY_PROOF_TOKEN);
        assert_int_equal(jobs[k].cookie_count, 1);
    }
    assert_string_equal(jobs[0].cookies[0], jobs[1].cookies[0]);
    assert_true(json_equal(jobs[0].known, jobs[1].known));
    free(wj);
    free(wv);
    json_decref(jobs[0].events);
    sluice_identity_job_dispose(&jobs[0]);
    sluice_identity_job_dispose(&jobs[1]);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

/* ------------------------------------------------------------------ the job's size */

/* Every request waiting for Kafka or Redis holds its identity job in its record (gateway/ingest.c):
 * the Set-Cookie values and the vendor ids are allocated as they are made, so that the job holds
 * no buffers for them (7,752 bytes with them, 1,784 without; docs/performance.md, issue 17). */
static void a_job_holds_no_cookie_or_vendor_buffers(void **state)
{
    (void)state;
    assert_in_range(sizeof(sluice_identity_job_t), 0, 2048);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(new_visitor_gets_a_cookie, reset),
        cmocka_unit_test(a_job_holds_no_cookie_or_vendor_buffers),
        cmocka_unit_test_setup(signed_cookie_proves_its_id, reset),
        cmocka_unit_test_setup(cookie_is_used_and_refreshed, reset),
        cmocka_unit_test_setup(body_id_wins, reset),
        cmocka_unit_test_setup(server_events, reset),
        cmocka_unit_test_setup(page_properties_click_ids, reset),
        cmocka_unit_test_setup(token_never_survives, reset),
        cmocka_unit_test_setup(urls_are_scrubbed, reset),
        cmocka_unit_test_setup(refused_event_is_scrubbed, reset),
        cmocka_unit_test_setup(jv_assign_as_jansson, reset),
        cmocka_unit_test_setup(jv_anonymous_id_as_jansson, reset),
        cmocka_unit_test_setup(jv_scrub_as_jansson, reset),
        cmocka_unit_test_setup(jv_scrub_long_urls_as_jansson, reset),
        cmocka_unit_test_setup(jv_run_as_jansson, reset),
        cmocka_unit_test_setup(jv_complete_as_jansson, reset),
        cmocka_unit_test_setup(refusals_before_redis, reset),
        cmocka_unit_test_setup(client_identity_is_dropped, reset),
        cmocka_unit_test_setup(vendor_cookies_minted, reset),
        cmocka_unit_test_setup(vendor_cookies_read_not_replaced, reset),
        cmocka_unit_test_setup(malformed_vendor_cookies_replaced, reset),
        cmocka_unit_test_setup(empty_cookie_copy_is_none, reset),
        cmocka_unit_test_setup(gtag_session_cookie_with_ga_consent, reset),
        cmocka_unit_test_setup(issue, reset),
        cmocka_unit_test_setup(cookies_wait_for_consent, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
