/*
 * sluice-deliver against HTTPS stubs of Meta, GA4, TikTok and two webhooks (dev Kafka, real
 * PostgreSQL vault, the test CA): each vendor's exact request for the reference envelope (the
 * golden files of tests/fixtures/vendors/), credentials from the vault in the right place, the
 * webhook signature, GA4's 25-event batches, event/type/consent filters, /metrics, and a
 * graceful SIGTERM whose commits mean nothing is delivered twice after a restart.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tests/integration/deliver_fix.h"

static dfix_t F;
static dstub_t META, GA4, TIKTOK, HOOK, HOOK2, META_LDU, TIKTOK_LDU;

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_stub(&F, &META, "meta", NULL, NULL);
    dfix_stub(&F, &GA4, "ga4", NULL, NULL);
    dfix_stub(&F, &TIKTOK, "tiktok", NULL, NULL);
    dfix_stub(&F, &HOOK, "hook", NULL, NULL);
    dfix_stub(&F, &HOOK2, "hook2", NULL, NULL);
    dfix_stub(&F, &META_LDU, "meta-ldu", NULL, NULL);
    dfix_stub(&F, &TIKTOK_LDU, "tiktok-ldu", NULL, NULL);
    char integrations[4096];
    snprintf(
        integrations, sizeof(integrations),
        "      - {name: meta, vendor: meta, pixel_id: \"1234567890\", base_url: \"%s\", batch: {max_wait_ms: 200}}\n"
        "      - {name: ga4, vendor: ga4, measurement_id: G-TEST123, base_url: \"%s\", batch: {max_wait_ms: 2000}}\n"
        "      - {name: tiktok, vendor: tiktok, pixel_code: CABC123, base_url: \"%s\", batch: {max_wait_ms: 200}}\n"
        "      - {name: hook, vendor: webhook, url: \"%s/in\", sign: true, headers: {X-Team: growth, X-Empty: \"\"},\n"
        "         batch: {max_wait_ms: 200}}\n"
        "      - {name: purchases, vendor: webhook, url: \"%s/purchases\", events: [Order Completed],\n"
        "         consent: marketing, batch: {max_events: 1}}\n"
        "      - {name: pages, vendor: webhook, url: \"%s/pages\", types: [page], batch: {max_events: 1}}\n"
        "      - {name: off, vendor: webhook, url: \"%s/off\", enabled: false}\n"
        /* Limited Data Use: always, and for events without the org's opt-out category ("sale"). */
        "      - {name: meta-ldu, vendor: meta, pixel_id: \"1234567890\", base_url: \"%s\", limited_data_use: true,\n"
        "         batch: {max_wait_ms: 200}}\n"
        "      - {name: tiktok-ldu, vendor: tiktok, pixel_code: CABC123, base_url: \"%s\",\n"
        "         limited_data_use_unless_consent: sale, batch: {max_wait_ms: 200}}\n",
        META.url, GA4.url, TIKTOK.url, HOOK.url, HOOK2.url, HOOK2.url, HOOK2.url, META_LDU.url, TIKTOK_LDU.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-meta/1+2\"}");
    dfix_vault_put(&F, "ga4", "ga4", "{\"api_secret\":\"sec-ga4\"}");
    dfix_vault_put(&F, "tiktok", "tiktok", "{\"access_token\":\"tok-tt\"}");
    dfix_vault_put(&F, "hook", "webhook", "{\"secret\":\"whsec-1\"}");
    dfix_vault_put(&F, "meta-ldu", "meta", "{\"access_token\":\"tok-meta-ldu\"}");
    dfix_vault_put(&F, "tiktok-ldu", "tiktok", "{\"access_token\":\"tok-tt-ldu\"}");
    dfix_start_worker(&F, NULL, 4);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* The golden body with the reference times and id replaced by this run's. */
static char *expected(const char *golden, int64_t t_ms, const char *id)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/tests/fixtures/vendors/%s", getenv("SLUICE_SOURCE_DIR"), golden);
    char *text = sluice_th_read_file(path, NULL, NULL);
    assert_non_null(text);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    struct {
        const char *from;
        char to[64];
    } subs[3] = {{"1795444910125000", ""}, {"1795444910", ""}, {"0b7a1c5e-4f7e-4c1a-9a8e-2d6f1b3c9e01", ""}};
    snprintf(subs[0].to, sizeof(subs[0].to), "%lld", (long long)t_ms * 1000);
    snprintf(subs[1].to, sizeof(subs[1].to), "%lld", (long long)(t_ms / 1000));
    snprintf(subs[2].to, sizeof(subs[2].to), "%s", id);
    char *out = malloc(n * 2 + 256);
    size_t o = 0;
    for (const char *p = text; *p;) {
        int done = 0;
        for (int i = 0; i < 3 && !done; i++) {
            size_t fl = strlen(subs[i].from);
            if (strncmp(p, subs[i].from, fl) == 0) {
                o += (size_t)snprintf(out + o, n * 2 + 256 - o, "%s", subs[i].to);
                p += fl;
                done = 1;
            }
        }
        if (!done)
            out[o++] = *p++;
    }
    out[o] = '\0';
    free(text);
    return out;
}

/* Polls /metrics until the series reaches min (batches may still be waiting out max_wait_ms,
 * lanes consume at their own pace); 20 s, for the ASan build on a loaded machine. */
static double metric_at_least(const char *series, double min)
{
    double v = -1;
    for (int waited = 0; waited < 20000; waited += 200) {
        if ((v = dfix_metric(&F, series)) >= min)
            break;
        usleep(200 * 1000);
    }
    return v;
}

static const char *hdr(json_t *req, const char *name)
{
    return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static void test_exact_requests(void **state)
{
    (void)state;
    int64_t now = dfix_now_ms();
    char *env = dfix_envelope("golden-1", now, NULL);
    dfix_produce(&F, &env, 1, NULL);

    json_t *r = dfix_wait_request(&META, "golden-1", 20000);
    char *want = expected("meta.json", now - 400, "golden-1");
    assert_string_equal(json_string_value(json_object_get(r, "body")), want);
    assert_string_equal(json_string_value(json_object_get(r, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/v26.0/1234567890/events");
    assert_string_equal(json_string_value(json_object_get(r, "query")), "access_token=tok-meta%2F1%2B2");
    assert_string_equal(hdr(r, "content-type"), "application/json");
    free(want);
    json_decref(r);

    /* GA4 carries no event id: the request is found by the event's time. */
    char micros[32];
    snprintf(micros, sizeof(micros), "%lld", (long long)(now - 400) * 1000);
    r = dfix_wait_request(&GA4, micros, 20000);
    want = expected("ga4.json", now - 400, "golden-1");
    assert_string_equal(json_string_value(json_object_get(r, "body")), want);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/mp/collect");
    assert_string_equal(json_string_value(json_object_get(r, "query")), "measurement_id=G-TEST123&api_secret=sec-ga4");
    free(want);
    json_decref(r);

    r = dfix_wait_request(&TIKTOK, "golden-1", 20000);
    want = expected("tiktok.json", now - 400, "golden-1");
    assert_string_equal(json_string_value(json_object_get(r, "body")), want);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/open_api/v1.3/event/track/");
    assert_string_equal(hdr(r, "access-token"), "tok-tt");
    free(want);
    json_decref(r);

    r = dfix_wait_request(&HOOK, "golden-1", 20000);
    char *batch = malloc(strlen(env) + 32);
    snprintf(batch, strlen(env) + 32, "{\"batch\":[%s]}", env);
    const char *body = json_string_value(json_object_get(r, "body"));
    assert_string_equal(body, batch);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/in");
    assert_string_equal(hdr(r, "x-team"), "growth");
    /* A header configured with an empty value is sent with it (libcurl dropped "X-Empty: "). */
    assert_non_null(hdr(r, "x-empty"));
    assert_string_equal(hdr(r, "x-empty"), "");
    /* The signature verifies with the vault secret over "<timestamp>.<body>". */
    const char *ts = hdr(r, "x-sluice-timestamp");
    assert_non_null(ts);
    long long tsv = strtoll(ts, NULL, 10);
    assert_true(tsv >= now - 1000 && tsv <= dfix_now_ms());
    size_t ml = strlen(ts) + 1 + strlen(body);
    char *msg = malloc(ml + 1);
    snprintf(msg, ml + 1, "%s.%s", ts, body);
    unsigned char mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), "whsec-1", 7, (unsigned char *)msg, ml, mac, &maclen);
    char sig[80] = "sha256=";
    for (unsigned i = 0; i < maclen; i++)
        snprintf(sig + 7 + 2 * i, 3, "%02x", mac[i]);
    assert_string_equal(hdr(r, "x-sluice-signature"), sig);
    free(msg);
    free(batch);
    json_decref(r);
    free(env);
}

/* want with text inserted before its last n characters. */
static char *inserted(char *want, size_t n, const char *text)
{
    size_t len = strlen(want);
    assert_true(len > n);
    char *out = malloc(len + strlen(text) + 1);
    assert_non_null(out);
    snprintf(out, len + strlen(text) + 1, "%.*s%s%s", (int)(len - n), want, text, want + len - n);
    free(want);
    return out;
}

/* Limited Data Use through sluice-deliver, at the stubs, byte for byte: Meta's
 * data_processing_options ["LDU"] with country and state 0 on every event of meta-ldu; TikTok's
 * limited_data_use on the events of tiktok-ldu without the category "sale" (the reference
 * envelope carries analytics and marketing), and not on one with it. */
static void test_limited_data_use(void **state)
{
    (void)state;
    int64_t now = dfix_now_ms();
    /* One at a time, so that each request carries one event (the golden body). */
    char *envs[2] = {dfix_envelope("ldu-1", now, NULL),
                     dfix_envelope("ldu-2", now,
                                   "{\"context\":{\"ip\":\"203.0.113.7\",\"userAgent\":"
                                   "\"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\","
                                   "\"consent\":{\"categories\":[\"sale\"]}}}")};
    dfix_produce(&F, envs, 1, NULL);

    json_t *r = dfix_wait_request(&META_LDU, "ldu-1", 20000);
    char *want = inserted(expected("meta.json", now - 400, "ldu-1"), 3,
                          ",\"data_processing_options\":[\"LDU\"],\"data_processing_options_country\":0,"
                          "\"data_processing_options_state\":0");
    assert_string_equal(json_string_value(json_object_get(r, "body")), want);
    free(want);
    json_decref(r);

    r = dfix_wait_request(&TIKTOK_LDU, "ldu-1", 20000);
    want = inserted(expected("tiktok.json", now - 400, "ldu-1"), 3, ",\"limited_data_use\":true");
    assert_string_equal(json_string_value(json_object_get(r, "body")), want);
    free(want);
    json_decref(r);
    dfix_produce(&F, envs + 1, 1, NULL);
    r = dfix_wait_request(&TIKTOK_LDU, "ldu-2", 20000);
    const char *body = json_string_value(json_object_get(r, "body"));
    assert_non_null(strstr(body, "\"event_id\":\"ldu-2\""));
    assert_null(strstr(body, "limited_data_use"));
    json_decref(r);
    /* The integrations without the options: unchanged (test_exact_requests has them whole). */
    r = dfix_wait_request(&TIKTOK, "ldu-1", 20000);
    assert_null(strstr(json_string_value(json_object_get(r, "body")), "limited_data_use"));
    json_decref(r);
    free(envs[0]);
    free(envs[1]);
}

/* Events that carry a campaign go to GA4 each after its campaign_details event: two events of
 * the request per event, and still at most 25 in a request (GA4 drops a larger one whole and
 * answers 2xx). 20 events of one client: 40 in requests of 24 and 16. */
static void test_ga4_campaign_batches(void **state)
{
    (void)state;
    char *envs[20];
    int64_t now = dfix_now_ms();
    for (int i = 0; i < 20; i++) {
        char id[32], edit[256];
        snprintf(id, sizeof(id), "cd-%02d", i);
        snprintf(edit, sizeof(edit),
                 "{\"properties\":{\"seq\":\"cd-%02d\"},\"context\":{\"userAgent\":\"UA\",\"campaign\":{\"name\":"
                 "\"spring\",\"source\":\"news\"}}}",
                 i);
        envs[i] = dfix_envelope(id, now, edit);
    }
    dfix_produce(&F, envs, 20, NULL);
    int nreq = 0, events = 0, details = 0, largest = 0;
    for (int waited = 0; waited < 20000 && events < 20; waited += 200) {
        usleep(200 * 1000);
        json_t *all = dfix_requests(&GA4);
        nreq = events = details = largest = 0;
        size_t i, k;
        json_t *r, *ev;
        json_array_foreach(all, i, r) {
            const char *body = json_string_value(json_object_get(r, "body"));
            if (body == NULL || strstr(body, "\"seq\":\"cd-") == NULL)
                continue;
            json_t *list = json_object_get(json_object_get(r, "json"), "events");
            nreq++;
            if ((int)json_array_size(list) > largest)
                largest = (int)json_array_size(list);
            json_array_foreach(list, k, ev) {
                const char *name = json_string_value(json_object_get(ev, "name"));
                if (strcmp(name, "campaign_details") == 0) {
                    details++;
                    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "params"), "campaign")),
                                        "spring");
                    /* Each one right before its event, at its time. */
                    json_t *next = json_array_get(list, k + 1);
                    assert_non_null(next);
                    assert_int_equal(json_integer_value(json_object_get(ev, "timestamp_micros")),
                                     json_integer_value(json_object_get(next, "timestamp_micros")));
                } else {
                    events++;
                }
            }
        }
        json_decref(all);
    }
    assert_int_equal(events, 20);
    assert_int_equal(details, 20);
    assert_int_equal(nreq, 2);
    assert_int_equal(largest, 24);
    for (int i = 0; i < 20; i++)
        free(envs[i]);
}

static void test_ga4_batches_of_25(void **state)
{
    (void)state;
    char *envs[30];
    int64_t now = dfix_now_ms();
    for (int i = 0; i < 30; i++) {
        char id[32], edit[128];
        snprintf(id, sizeof(id), "b25-%02d", i);
        /* One client (same _ga cookie, same user), one distinctive parameter per event. */
        snprintf(edit, sizeof(edit), "{\"properties\":{\"seq\":\"b25-%02d\"}}", i);
        envs[i] = dfix_envelope(id, now, edit);
    }
    dfix_produce(&F, envs, 30, NULL);
    int sizes[8] = {0}, nreq = 0, total = 0;
    for (int waited = 0; waited < 20000 && total < 30; waited += 200) {
        usleep(200 * 1000);
        json_t *all = dfix_requests(&GA4);
        nreq = total = 0;
        size_t i;
        json_t *r;
        json_array_foreach(all, i, r) {
            const char *body = json_string_value(json_object_get(r, "body"));
            if (body == NULL || strstr(body, "\"seq\":\"b25-") == NULL)
                continue;
            int n = (int)json_array_size(json_object_get(json_object_get(r, "json"), "events"));
            if (nreq < 8)
                sizes[nreq++] = n;
            total += n;
        }
        json_decref(all);
    }
    assert_int_equal(total, 30);
    assert_int_equal(nreq, 2);
    assert_int_equal(sizes[0], 25);
    assert_int_equal(sizes[1], 5);
    /* Meta takes up to 1000 per request: everything arrived, in fewer requests. Its lane is not
     * GA4's, so its last batch may still be on its way: wait for it by the last event's id. */
    json_decref(dfix_wait_request(&META, "b25-29", 20000));
    json_t *mreq = dfix_requests(&META);
    json_t *ids = dfix_event_ids(mreq, "data", "event_id");
    for (int i = 0; i < 30; i++) {
        char id[32];
        snprintf(id, sizeof(id), "b25-%02d", i);
        assert_int_equal(json_integer_value(json_object_get(ids, id)), 1);
    }
    json_decref(ids);
    json_decref(mreq);
    for (int i = 0; i < 30; i++)
        free(envs[i]);
}

static void test_filters(void **state)
{
    (void)state;
    int64_t now = dfix_now_ms();
    char *envs[5] = {
        dfix_envelope("f-purchase-consented", now, NULL),
        dfix_envelope("f-purchase-no-marketing", now,
                      "{\"context\":{\"userAgent\":\"UA\",\"consent\":"
                      "{\"categories\":[\"analytics\"]}}}"),
        dfix_envelope("f-viewed", now, "{\"event\":\"Product Viewed\"}"),
        dfix_envelope("f-page", now, "{\"type\":\"page\",\"name\":\"Home\",\"event\":null}"),
        dfix_envelope("f-identify", now, "{\"type\":\"identify\",\"event\":null}"),
    };
    dfix_produce(&F, envs, 5, NULL);
    json_t *r = dfix_wait_request(&HOOK2, "f-purchase-consented", 20000);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/purchases");
    assert_string_equal(json_string_value(json_object_get(r, "body")), envs[0]); /* max_events 1: the envelope */
    json_decref(r);
    r = dfix_wait_request(&HOOK2, "f-page", 20000);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/pages");
    json_decref(r);
    /* The signed hook (no filter) sees all five, so everything has been consumed by now. */
    const char *ids5[5] = {"f-purchase-consented", "f-purchase-no-marketing", "f-viewed", "f-page", "f-identify"};
    for (int i = 0; i < 5; i++)
        json_decref(dfix_wait_request(&HOOK, ids5[i], 20000));
    usleep(1000 * 1000);
    json_t *all = dfix_requests(&HOOK2);
    size_t i;
    json_t *x;
    int purchases = 0, pages = 0, off = 0;
    json_array_foreach(all, i, x) {
        const char *path = json_string_value(json_object_get(x, "path"));
        const char *body = json_string_value(json_object_get(x, "body"));
        if (strcmp(path, "/purchases") == 0 && strstr(body, "\"f-") != NULL) {
            purchases++;
            assert_non_null(strstr(body, "f-purchase-consented"));
        }
        if (strcmp(path, "/pages") == 0 && strstr(body, "\"f-") != NULL) {
            pages++;
            assert_non_null(strstr(body, "f-page"));
        }
        off += strcmp(path, "/off") == 0;
    }
    assert_int_equal(purchases, 1);
    assert_int_equal(pages, 1);
    assert_int_equal(off, 0); /* disabled integrations get nothing */
    json_decref(all);
    /* Meta has no identify event: skipped, not sent, not dead-lettered. Meta's lane is not the
     * hook's: wait until it delivered f-page (and counted f-identify, after it, as skipped). */
    json_decref(dfix_wait_request(&META, "f-page", 20000));
    assert_true(metric_at_least("sluice_deliver_events_total{vendor=\"meta\",outcome=\"skipped\"}", 1) >= 1);
    json_t *m = dfix_requests(&META);
    json_t *ids = dfix_event_ids(m, "data", "event_id");
    assert_null(json_object_get(ids, "f-identify"));
    assert_non_null(json_object_get(ids, "f-page"));
    json_decref(ids);
    json_decref(m);
    assert_true(dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"filtered\"}") >= 6);
    for (int k = 0; k < 5; k++)
        free(envs[k]);
}

static void test_metrics(void **state)
{
    (void)state;
    /* GA4's lane was waited on for b25 only: it may still be consuming test_filters' events. */
    assert_true(metric_at_least("sluice_deliver_consumed_total{vendor=\"ga4\"}", 36) >= 36);
    assert_true(metric_at_least("sluice_deliver_events_total{vendor=\"ga4\",outcome=\"delivered\"}", 34) >= 34);
    assert_true(dfix_metric(&F, "sluice_deliver_batch_events_bucket{vendor=\"ga4\",le=\"25\"}") >= 2);
    assert_true(dfix_metric(&F, "sluice_deliver_requests_total{vendor=\"tiktok\",outcome=\"ok\"}") >= 1);
    assert_true(dfix_metric(&F, "sluice_deliver_request_seconds_count{vendor=\"meta\"}") >= 1);
    assert_true(dfix_metric(&F, "sluice_deliver_vault_reads_total{outcome=\"ok\"}") >= 4);
    assert_true(dfix_metric(&F, "sluice_deliver_consumer_lag{vendor=\"meta\"}") >= 0);
    assert_int_equal(dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}"), 0);
}

/* One bad row fails TikTok's whole batch: an event past TikTok's 28 days (a DLQ replay a month
 * on) is dead-lettered alone, with the reason and counted, and the fresh event of its batch goes
 * without it. After test_metrics, which counts Meta's dead letters (Meta refuses this one too). */
static void test_too_old_for_tiktok(void **state)
{
    (void)state;
    int64_t now = dfix_now_ms();
    char *envs[2] = {dfix_envelope("tt-old-30d", now - 30LL * 86400000, NULL), dfix_envelope("tt-fresh", now, NULL)};
    dfix_produce(&F, envs, 2, NULL);
    free(envs[0]);
    free(envs[1]);
    json_t *r = dfix_wait_request(&TIKTOK, "tt-fresh", 20000);
    assert_null(strstr(json_string_value(json_object_get(r, "body")), "tt-old-30d"));
    json_decref(r);
    const char *args[] = {"--vendor", "tiktok", NULL};
    json_t *found = NULL;
    for (int waited = 0; waited <= 20000 && found == NULL; waited += 250) {
        json_t *dlq = dfix_dlq_list(&F, args), *d;
        size_t i;
        json_array_foreach(dlq, i, d) {
            const char *error = json_string_value(json_object_get(d, "error"));
            if (found == NULL && error != NULL && strstr(error, "older than 28 days") != NULL)
                found = json_incref(d);
        }
        json_decref(dlq);
        if (found == NULL)
            usleep(250 * 1000);
    }
    assert_non_null(found);
    assert_string_equal(json_string_value(json_object_get(found, "attempts")), "0");
    json_decref(found);
    assert_true(dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"tiktok\"}") >= 1);
    /* Nothing TikTok got carries it. */
    json_t *all = dfix_requests(&TIKTOK), *x;
    size_t i;
    json_array_foreach(all, i, x) {
        assert_null(strstr(json_string_value(json_object_get(x, "body")), "tt-old-30d"));
    }
    json_decref(all);
}

static void test_vendor_check_ga4(void **state)
{
    (void)state;
    const char *args[] = {"vendor", "check", "ga4", "--config", F.config, "--org", "acme", NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, args, F.env, NULL, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        print_error("vendor check: %s %s\n", out.out, out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.out, "ok: ga4 integration 'ga4' of org 'acme'"));
    sluice_th_output_dispose(&out);
    /* It went to the validation endpoint, with the vault's secret, as a mapped purchase. */
    json_t *r = dfix_wait_request(&GA4, "sluicectl-check", 10000);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/debug/mp/collect");
    assert_string_equal(json_string_value(json_object_get(r, "query")), "measurement_id=G-TEST123&api_secret=sec-ga4");
    json_t *ev = json_array_get(json_object_get(json_object_get(r, "json"), "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "purchase");
    json_decref(r);
    /* A refusal is reported, exit 1. Only the check's request takes the 403: GA4 batches for
     * 2 s, and test_filters' events may still be on their way to it. */
    dfix_stub_plan_for(&F, &GA4, "403", "sluicectl-check");
    dfix_sluicectl(&F, args, F.env, NULL, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "HTTP 403"));
    sluice_th_output_dispose(&out);
    /* Without the key it cannot open the vault, and says why. */
    dfix_sluicectl(&F, args, NULL, NULL, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "ENCRYPTION_KEY"));
    sluice_th_output_dispose(&out);
}

static void test_sigterm_commits(void **state)
{
    (void)state;
    int status = dfix_stop_worker(&F, SIGTERM);
    assert_true(sluice_th_exited_with(status, 0));
    /* Counted once the worker is gone: a batch of an earlier test that it delivered on its way
     * out is in the count, not taken for a repeat. */
    size_t before_meta = dfix_wait_requests(&META, 0, 0), before_hook = dfix_wait_requests(&HOOK, 0, 0);
    /* A restart resumes from the committed offsets: nothing already delivered comes again. */
    dfix_start_worker(&F, NULL, 4);
    int64_t now = dfix_now_ms();
    char *env = dfix_envelope("after-restart", now, NULL);
    dfix_produce(&F, &env, 1, NULL);
    json_t *r = dfix_wait_request(&META, "after-restart", 30000);
    json_decref(r);
    r = dfix_wait_request(&HOOK, "after-restart", 30000);
    json_decref(r);
    usleep(1500 * 1000);
    assert_int_equal(dfix_wait_requests(&META, 0, 0), before_meta + 1);
    assert_int_equal(dfix_wait_requests(&HOOK, 0, 0), before_hook + 1);
    free(env);
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_requests),
        cmocka_unit_test(test_ga4_batches_of_25),
        cmocka_unit_test(test_ga4_campaign_batches),
        cmocka_unit_test(test_limited_data_use),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_too_old_for_tiktok),
        cmocka_unit_test(test_vendor_check_ga4),
        cmocka_unit_test(test_sigterm_commits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
