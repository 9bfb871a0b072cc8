/*
 * Retries and the dead-letter topic, with sluice-deliver against HTTPS stubs whose answers are
 * scripted: 500 retried then delivered; 429 with Retry-After (seconds and HTTP date) honoured,
 * measured at the stub; 400 dead-lettered at once with its headers; a hung request timed out and
 * retried; retries exhausted; a vendor with an untrusted certificate refused, retried and
 * dead-lettered; an event too old for Meta dead-lettered alone, also when it turns 7 days old
 * while its batch waits for a retry; `sluicectl dlq list|replay`
 * (to one integration, and to all; a dead letter without its payload is not replayed); and a
 * dead-letter producer in librdkafka's fatal state replaced.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/deliver_fix.h"

static dfix_t F;
static dstub_t META, GA4, BADTLS, TIKTOK;

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    char other_ca[PATH_MAX];
    sluice_err_t err = {{0}};
    sluice_th_path(other_ca, sizeof(other_ca), "other-ca", &err);
    dfix_make_certs(other_ca); /* a second CA the worker does not trust */
    dfix_stub(&F, &META, "meta", NULL, NULL);
    dfix_stub(&F, &GA4, "ga4", NULL, NULL);
    dfix_stub(&F, &BADTLS, "badtls", NULL, other_ca);
    dfix_stub(&F, &TIKTOK, "tiktok", NULL, NULL);
    char integrations[4096];
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"42\", base_url: \"%s\", batch: {max_wait_ms: 100},\n"
             "         retry: {max_attempts: 4, base_ms: 100, max_ms: 1000, max_elapsed_s: 60}, timeout_ms: 1500}\n"
             "      - {name: ga4, vendor: ga4, measurement_id: G-R, base_url: \"%s\", batch: {max_wait_ms: 100}}\n"
             "      - {name: tls, vendor: webhook, url: \"%s/hook\", consent: tls-test, batch: {max_wait_ms: 100},\n"
             "         retry: {max_attempts: 3, base_ms: 100, max_ms: 500}, timeout_ms: 3000}\n"
             "      - {name: tiktok, vendor: tiktok, pixel_code: CRT, base_url: \"%s\", batch: {max_wait_ms: 100},\n"
             "         retry: {max_attempts: 4, base_ms: 100, max_ms: 1000}}\n",
             META.url, GA4.url, BADTLS.url, TIKTOK.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok\"}");
    dfix_vault_put(&F, "ga4", "ga4", "{\"api_secret\":\"sec\"}");
    dfix_vault_put(&F, "tiktok", "tiktok", "{\"access_token\":\"tt-old\"}");
    dfix_start_worker(&F, NULL, 4);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

static json_t *wait_requests_with(const dstub_t *s, const char *needle, size_t n, int timeout_ms)
{
    json_t *got = NULL;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        json_decref(got);
        got = dfix_requests_with(s, needle);
        if (json_array_size(got) >= n)
            break;
        usleep(100 * 1000);
    }
    return got;
}

/* The DLQ entries (sluicectl dlq list) for vendor whose integration is `integration`,
 * waiting until there are n of them. */
static json_t *wait_dlq(const char *vendor, size_t n, int timeout_ms)
{
    const char *args[] = {"--vendor", vendor, NULL};
    json_t *got = NULL;
    for (int waited = 0; waited <= timeout_ms; waited += 250) {
        json_decref(got);
        got = dfix_dlq_list(&F, args);
        if (json_array_size(got) >= n)
            break;
        usleep(250 * 1000);
    }
    return got;
}

static void produce_one(const char *id, int64_t t_ms, const char *edit)
{
    char *env = dfix_envelope(id, t_ms, edit);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
}

static int64_t ts(json_t *reqs, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(reqs, i), "ts_ms"));
}

static void test_500_retried_then_delivered(void **state)
{
    (void)state;
    dfix_stub_plan(&F, &META, "500x2,200");
    produce_one("r500", dfix_now_ms(), NULL);
    json_t *reqs = wait_requests_with(&META, "r500", 3, 20000);
    assert_int_equal(json_array_size(reqs), 3);
    /* Backoff between attempts (base 100 ms, full jitter): later, never before. */
    assert_true(ts(reqs, 1) >= ts(reqs, 0));
    assert_true(ts(reqs, 2) >= ts(reqs, 1));
    /* All three carried the same event; nothing went to the DLQ for it. */
    for (size_t i = 0; i < 3; i++)
        assert_non_null(strstr(json_string_value(json_object_get(json_array_get(reqs, i), "body")), "\"r500\""));
    json_decref(reqs);
    usleep(500 * 1000);
    reqs = dfix_requests_with(&META, "r500");
    assert_int_equal(json_array_size(reqs), 3);
    json_decref(reqs);
    assert_true(dfix_metric(&F, "sluice_deliver_retries_total{vendor=\"meta\"}") >= 2);
}

static void test_429_retry_after(void **state)
{
    (void)state;
    dfix_stub_plan(&F, &META, "429/ra=2,200");
    produce_one("r429", dfix_now_ms(), NULL);
    json_t *reqs = wait_requests_with(&META, "r429", 2, 20000);
    assert_int_equal(json_array_size(reqs), 2);
    int64_t gap = ts(reqs, 1) - ts(reqs, 0);
    print_message("Retry-After: 2 -> the retry came %lld ms later\n", (long long)gap);
    assert_true(gap >= 1950 && gap < 5000);
    json_decref(reqs);

    /* As an HTTP date 3 s ahead (one-second resolution: between 2 and 3 s). */
    dfix_stub_plan(&F, &META, "429/ra=@3,200");
    produce_one("r429d", dfix_now_ms(), NULL);
    reqs = wait_requests_with(&META, "r429d", 2, 20000);
    assert_int_equal(json_array_size(reqs), 2);
    gap = ts(reqs, 1) - ts(reqs, 0);
    print_message("Retry-After: <date +3 s> -> the retry came %lld ms later\n", (long long)gap);
    assert_true(gap >= 1900 && gap < 6000);
    json_decref(reqs);
}

static void test_400_dead_lettered(void **state)
{
    (void)state;
    dfix_stub_plan(&F, &META, "400");
    produce_one("r400", dfix_now_ms(), "{\"properties\":{\"marker\":\"m-r400\",\"currency\":\"EUR\"}}");
    json_t *dlq = wait_dlq("meta", 1, 20000);
    assert_int_equal(json_array_size(dlq), 1);
    json_t *d = json_array_get(dlq, 0);
    assert_string_equal(json_string_value(json_object_get(d, "vendor")), "meta");
    assert_string_equal(json_string_value(json_object_get(d, "integration")), "meta");
    assert_string_equal(json_string_value(json_object_get(d, "org")), "acme");
    assert_string_equal(json_string_value(json_object_get(d, "source")), "web");
    assert_string_equal(json_string_value(json_object_get(d, "type")), "track");
    assert_string_equal(json_string_value(json_object_get(d, "status")), "400");
    assert_string_equal(json_string_value(json_object_get(d, "attempts")), "1");
    assert_string_equal(json_string_value(json_object_get(d, "error")), "HTTP 400 (Meta error 100)");
    assert_non_null(json_string_value(json_object_get(d, "failed_at")));
    /* The list shows headers only: nothing of the event. */
    char *s = json_dumps(dlq, 0);
    assert_null(strstr(s, "r400"));
    assert_null(strstr(s, "203.0.113.7"));
    free(s);
    json_decref(dlq);
    /* Not retried; and GA4 delivered its copy as usual. */
    json_t *reqs = dfix_requests_with(&META, "\"r400\"");
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
    reqs = wait_requests_with(&GA4, "m-r400", 1, 20000);
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
    dfix_stub_plan(&F, &META, "");
}

static void test_timeout_retried(void **state)
{
    (void)state;
    dfix_stub_plan(&F, &META, "hang,200");
    produce_one("rhang", dfix_now_ms(), NULL);
    json_t *reqs = wait_requests_with(&META, "rhang", 2, 30000);
    assert_int_equal(json_array_size(reqs), 2);
    int64_t gap = ts(reqs, 1) - ts(reqs, 0);
    assert_true(gap >= 1450); /* timeout_ms 1500, then a retry */
    json_decref(reqs);
    json_t *dlq = wait_dlq("meta", 1, 0);
    assert_int_equal(json_array_size(dlq), 1); /* still only r400's */
    json_decref(dlq);
}

static void test_retries_exhausted(void **state)
{
    (void)state;
    dfix_stub_plan(&F, &META, "503x4");
    produce_one("r503", dfix_now_ms(), NULL);
    json_t *dlq = wait_dlq("meta", 2, 30000);
    assert_int_equal(json_array_size(dlq), 2);
    json_t *d = json_array_get(dlq, 1);
    assert_string_equal(json_string_value(json_object_get(d, "status")), "503");
    assert_string_equal(json_string_value(json_object_get(d, "attempts")), "4");
    assert_string_equal(json_string_value(json_object_get(d, "error")), "HTTP 503 (Meta error 100)");
    json_decref(dlq);
    json_t *reqs = dfix_requests_with(&META, "r503");
    assert_int_equal(json_array_size(reqs), 4); /* retry.max_attempts */
    json_decref(reqs);
}

static void test_untrusted_certificate(void **state)
{
    (void)state;
    produce_one("rtls", dfix_now_ms(),
                "{\"context\":{\"userAgent\":\"UA\",\"consent\":{\"categories\":[\"tls-test\"]}}}");
    json_t *dlq = wait_dlq("webhook", 1, 30000);
    assert_int_equal(json_array_size(dlq), 1);
    json_t *d = json_array_get(dlq, 0);
    assert_string_equal(json_string_value(json_object_get(d, "integration")), "tls");
    assert_string_equal(json_string_value(json_object_get(d, "status")), "-");
    assert_string_equal(json_string_value(json_object_get(d, "attempts")), "3");
    const char *error = json_string_value(json_object_get(d, "error"));
    print_message("TLS refusal: %s\n", error);
    assert_non_null(strstr(error, "certificate"));
    json_decref(dlq);
    /* The handshake never completed: the stub saw no request at all. */
    assert_int_equal(dfix_wait_requests(&BADTLS, 0, 0), 0);
}

static void test_too_old_for_meta(void **state)
{
    (void)state;
    int64_t now = dfix_now_ms();
    char *envs[2] = {dfix_envelope("rold", now - 8LL * 86400000, NULL), dfix_envelope("rfresh", now, NULL)};
    dfix_produce(&F, envs, 2, NULL);
    free(envs[0]);
    free(envs[1]);
    json_t *reqs = wait_requests_with(&META, "rfresh", 1, 20000);
    assert_int_equal(json_array_size(reqs), 1);
    /* The fresh one went alone: the old one would have failed the whole request. */
    assert_null(strstr(json_string_value(json_object_get(json_array_get(reqs, 0), "body")), "rold"));
    json_decref(reqs);
    json_t *dlq = wait_dlq("meta", 3, 20000);
    assert_int_equal(json_array_size(dlq), 3);
    json_t *d = json_array_get(dlq, 2);
    assert_string_equal(json_string_value(json_object_get(d, "status")), "-");
    assert_string_equal(json_string_value(json_object_get(d, "attempts")), "0");
    assert_non_null(strstr(json_string_value(json_object_get(d, "error")), "older than 7 days"));
    json_decref(dlq);
}

/* The first dead letter of vendor whose error holds needle, waiting for it; NULL after timeout_ms.
 * New reference. */
static json_t *wait_dlq_error(const char *vendor, const char *needle, int timeout_ms)
{
    const char *args[] = {"--vendor", vendor, NULL};
    for (int waited = 0; waited <= timeout_ms; waited += 250) {
        json_t *dlq = dfix_dlq_list(&F, args), *found = NULL, *d;
        size_t i;
        json_array_foreach(dlq, i, d) {
            const char *error = json_string_value(json_object_get(d, "error"));
            if (found == NULL && error != NULL && strstr(error, needle) != NULL)
                found = json_incref(d);
        }
        json_decref(dlq);
        if (found != NULL)
            return found;
        usleep(250 * 1000);
    }
    return NULL;
}

static void test_replay(void **state)
{
    (void)state;
    sluice_th_output_t out;
    /* --since in the future: nothing. */
    const char *none[] = {"dlq", "list", "--config", F.config, "--since", "2999-01-01T00:00:00Z", NULL};
    dfix_sluicectl(&F, none, NULL, NULL, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_string_equal(out.out, "");
    sluice_th_output_dispose(&out);

    /* Replayed to the integration that failed: Meta (now answering 200) gets r400 and r503 again;
     * GA4, which had delivered r400, does not. */
    const char *replay[] = {"dlq",  "replay",  "--config", F.config,      "--vendor",
                            "meta", "--since", "1h",       "--to-vendor", NULL};
    dfix_sluicectl(&F, replay, NULL, NULL, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        print_error("replay: %s\n", out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.errout, "replayed 3 of 3 dead letters"));
    sluice_th_output_dispose(&out);
    json_t *reqs = wait_requests_with(&META, "\"r400\"", 2, 20000);
    assert_int_equal(json_array_size(reqs), 2);
    json_decref(reqs);
    reqs = wait_requests_with(&META, "\"r503\"", 5, 20000);
    assert_int_equal(json_array_size(reqs), 5);
    json_decref(reqs);
    /* The old one is refused again, before any request. */
    json_t *dlq = wait_dlq("meta", 4, 20000);
    assert_int_equal(json_array_size(dlq), 4);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(dlq, 3), "error")), "older than 7 days"));
    json_decref(dlq);
    usleep(1000 * 1000);
    reqs = dfix_requests_with(&GA4, "m-r400");
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);

    /* A plain replay goes to every integration again (vendors dedupe on the event id); rold,
     * dead-lettered twice by now, goes once. */
    const char *plain[] = {"dlq", "replay", "--config", F.config, "--vendor", "meta", "--since", "1h", NULL};
    dfix_sluicectl(&F, plain, NULL, NULL, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.errout, "replayed 3 of 4"));
    sluice_th_output_dispose(&out);
    reqs = wait_requests_with(&GA4, "m-r400", 2, 20000);
    assert_int_equal(json_array_size(reqs), 2);
    json_decref(reqs);
    assert_true(dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}") >= 4);
}

/* An event this worker has no route for is counted and logged, not committed silently: an org
 * its config does not know (a replica still on the old config in a rolling update), and a replay
 * to an integration that no longer exists, which is dead-lettered again with the reason and the
 * integration's name. */
static void test_unrouted_counted_and_stale_replay_dead_lettered(void **state)
{
    (void)state;
    char *env = dfix_envelope("m-unknown-org", dfix_now_ms(), NULL);
    char *at = strstr(env, "\"org\":\"acme\"");
    assert_non_null(at);
    char *globex = malloc(strlen(env) + 8);
    snprintf(globex, strlen(env) + 8, "%.*s\"org\":\"globex\"%s", (int)(at - env), env,
             at + strlen("\"org\":\"acme\""));
    dfix_produce(&F, &globex, 1, NULL);
    char *stale = dfix_envelope("m-stale-replay", dfix_now_ms(), NULL);
    const char *headers[] = {"replay-to=webhook/hook-old", NULL};
    dfix_produce(&F, &stale, 1, headers);

    json_t *found = wait_dlq_error("webhook", "webhook/hook-old", 20000);
    assert_non_null(found);
    assert_string_equal(json_string_value(json_object_get(found, "error")),
                        "replayed to webhook/hook-old, which this worker's config does not have for org acme");
    /* It names the integration it was replayed to: written as "-", the next `dlq replay
     * --to-vendor` had no target for it and sent it to every integration of every vendor. */
    assert_string_equal(json_string_value(json_object_get(found, "integration")), "hook-old");
    json_decref(found);
    for (int waited = 0; waited <= 10000; waited += 250) {
        if (dfix_metric(&F, "sluice_deliver_events_total{vendor=\"meta\",outcome=\"unrouted\"}") >= 1)
            break;
        usleep(250 * 1000);
    }
    assert_int_equal(dfix_metric(&F, "sluice_deliver_events_total{vendor=\"meta\",outcome=\"unrouted\"}"), 1);
    assert_int_equal(dfix_metric(&F, "sluice_deliver_events_total{vendor=\"ga4\",outcome=\"unrouted\"}"), 1);
    /* Neither reached a vendor. */
    json_t *reqs = dfix_requests_with(&META, "m-unknown-org");
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
    reqs = dfix_requests_with(&META, "m-stale-replay");
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    assert_non_null(strstr(log, "org 'globex'"));
    free(log);
    free(globex);
    free(env);
    free(stale);
}

/* A message the dead-letter topic cannot take (over the DLQ producer's message.max.bytes: a
 * 1.1 MB body that is no envelope, which any consumer of the topic may meet) was retried once a
 * second for ever: its partition's commits stopped there, every later event was delivered again
 * after each restart, and SIGTERM always waited out the drain. It is dead-lettered without the
 * payload, the reason saying where it stays. */
static void test_dead_letter_too_large_for_the_dlq(void **state)
{
    (void)state;
    size_t n = 1100 * 1000;
    char *big = malloc(n);
    memset(big, 'x', n);
    dfix_produce_raw(&F, big, n);
    free(big);
    json_t *found = wait_dlq_error("meta", "payload (1100000 bytes) left out, too large for the DLQ", 20000);
    assert_non_null(found);
    const char *error = json_string_value(json_object_get(found, "error"));
    assert_non_null(strstr(error, "it stays at sluice.events["));
    json_decref(found);

    /* Replaying it produced an empty message to the events topic and said "replayed N of N":
     * every vendor's worker then dead-lettered that as "envelope is not a JSON object", and the
     * new dead letters no longer said where the event is. It is left out, saying where it stays,
     * and the run says not everything was replayed. */
    sluice_th_output_t out;
    const char *replay[] = {"dlq", "replay", "--config", F.config, "--vendor", "meta", "--since", "1h", NULL};
    dfix_sluicectl(&F, replay, NULL, NULL, &out);
    print_message("replay: %s\n", out.errout);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "has no payload"));
    assert_non_null(strstr(out.errout, "it stays at sluice.events["));
    assert_non_null(strstr(out.errout, "1 without its payload not replayed"));
    sluice_th_output_dispose(&out);
    /* Nothing empty came back: no dead letter saying so within 10 s (it took about one). */
    const char *args[] = {"--vendor", "meta", NULL};
    for (int waited = 0; waited <= 10000; waited += 500) {
        json_t *dlq = dfix_dlq_list(&F, args), *d;
        size_t i, empty = 0;
        json_array_foreach(dlq, i, d) {
            const char *e = json_string_value(json_object_get(d, "error"));
            empty += e != NULL && strncmp(e, "envelope is not a JSON object", 29) == 0;
        }
        json_decref(dlq);
        assert_int_equal(empty, 0);
        usleep(500 * 1000);
    }
}

/* A broker answering a dead letter's produce request with OUT_OF_ORDER_SEQUENCE_NUMBER (a leader
 * that lost what it had acknowledged) puts the worker's idempotent DLQ producer in a fatal state:
 * librdkafka refuses every later message. The gateway replaces its producer then; the worker kept
 * the dead one, and tried to queue its dead letters once a second for ever: none reached the DLQ,
 * and the partitions that held them committed nothing more until a restart. The DLQ producer is
 * replaced and the dead letters go. */
static void test_dlq_producer_fatal_error_recovers(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    double before = dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}");
    /* The answer comes late enough for the broker error to be in place before the dead letter. */
    dfix_stub_plan_for(&F, &META, "400/delay=800", "fatal-dl-1");
    produce_one("fatal-dl-1", dfix_now_ms(), NULL);
    assert_int_equal(sluice_th_kafka_command(&F.kafka, "produce-error 1 OUT_OF_ORDER_SEQUENCE_NUMBER", &err), 0);
    double after = before;
    for (int waited = 0; waited <= 30000 && after < before + 1; waited += 250) {
        usleep(250 * 1000);
        after = dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}");
    }
    print_message("dead letters of meta: %.0f before, %.0f after\n", before, after);
    assert_true(after >= before + 1);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    assert_non_null(strstr(log, "\"event\":\"kafka.fatal\""));
    assert_non_null(strstr(log, "\"event\":\"kafka.replaced\""));
    free(log);
    /* And the next one goes too. */
    dfix_stub_plan_for(&F, &META, "400", "fatal-dl-2");
    produce_one("fatal-dl-2", dfix_now_ms(), NULL);
    for (int waited = 0; waited <= 20000 && after < before + 2; waited += 250) {
        usleep(250 * 1000);
        after = dfix_metric(&F, "sluice_deliver_dlq_total{vendor=\"meta\"}");
    }
    assert_true(after >= before + 2);
    dfix_stub_plan(&F, &META, "");
}

/* The operator replaces a revoked token with `vault put` while the worker delivers. Before, the
 * worker went on sending the cached old token until credentials_ttl_s ran out (300 s), and each
 * batch Meta refused with 401 went to the DLQ. Now a 401 drops the cached credential and the retry
 * reads the vault again: the event is delivered with the new token. */
static void test_401_after_vault_put_reads_the_new_credential(void **state)
{
    (void)state;
    produce_one("rtok1", dfix_now_ms(), NULL);
    json_t *reqs = wait_requests_with(&META, "rtok1", 1, 20000);
    assert_int_equal(json_array_size(reqs), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(reqs, 0), "query")), "access_token=tok"));
    json_decref(reqs);

    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-new\"}");
    dfix_stub_plan_for(&F, &META, "401", "rtok2"); /* Meta has revoked the old token */
    produce_one("rtok2", dfix_now_ms(), NULL);
    reqs = wait_requests_with(&META, "rtok2", 2, 20000);
    assert_int_equal(json_array_size(reqs), 2);
    json_t *first = json_array_get(reqs, 0), *second = json_array_get(reqs, 1);
    assert_int_equal(json_integer_value(json_object_get(first, "answer")), 401);
    assert_non_null(strstr(json_string_value(json_object_get(first, "query")), "access_token=tok"));
    assert_null(strstr(json_string_value(json_object_get(first, "query")), "tok-new"));
    assert_non_null(strstr(json_string_value(json_object_get(second, "query")), "access_token=tok-new"));
    assert_int_equal(json_integer_value(json_object_get(second, "answer")), 200);
    json_decref(reqs);
    /* Nothing of it in the DLQ. */
    json_t *dlq = wait_dlq("meta", 1000, 0), *d;
    size_t i;
    json_array_foreach(dlq, i, d)
        assert_string_not_equal(json_string_value(json_object_get(d, "status")), "401");
    json_decref(dlq);

    /* A 401 the new credential cannot cure is dead-lettered after that one more try. The DLQ is
     * counted before the event is produced: counted after, its dead letter (about 300 ms later)
     * was sometimes in the count already on a loaded machine (sluicectl slower to start), and the
     * one more awaited never came. */
    dlq = wait_dlq("meta", 0, 0);
    size_t before = json_array_size(dlq);
    json_decref(dlq);
    dfix_stub_plan_for(&F, &META, "401x2", "rtok3");
    produce_one("rtok3", dfix_now_ms(), NULL);
    dlq = wait_dlq("meta", before + 1, 20000);
    assert_int_equal(json_array_size(dlq), before + 1);
    json_t *last = NULL;
    json_array_foreach(dlq, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "status")), "401") == 0)
            last = d;
    }
    assert_non_null(last);
    assert_string_equal(json_string_value(json_object_get(last, "attempts")), "2");
    json_decref(dlq);
    reqs = dfix_requests_with(&META, "rtok3");
    assert_int_equal(json_array_size(reqs), 2);
    json_decref(reqs);
    dfix_stub_plan(&F, &META, "");
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok\"}");
}

/* The same rotation where the vendor says so in its own words, not with a 401: TikTok answers a
 * revoked token with HTTP 200 and code 40105, Meta an expired one with HTTP 400 and error 190.
 * Both were dead-lettered at once, so every batch until the cached credential expired
 * (credentials_ttl_s) went to the DLQ although the vault held the new token. Now they are
 * refusals of the credential, as a 401: read again from the vault, and delivered. */
static void test_token_refused_in_the_vendors_words_reads_the_new_credential(void **state)
{
    (void)state;
    produce_one("ttok1", dfix_now_ms(), NULL);
    json_t *reqs = wait_requests_with(&TIKTOK, "ttok1", 1, 20000);
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(reqs, 0), "headers"), "access-token")),
        "tt-old");
    json_decref(reqs);

    dfix_vault_put(&F, "tiktok", "tiktok", "{\"access_token\":\"tt-new\"}");
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-190\"}");
    dfix_stub_plan_for(&F, &TIKTOK, "200/code=40105", "ttok2"); /* TikTok has revoked tt-old */
    dfix_stub_plan_for(&F, &META, "400/code=190", "rtok190");   /* Meta has expired the old token */
    produce_one("ttok2", dfix_now_ms(), NULL);
    produce_one("rtok190", dfix_now_ms(), NULL);

    reqs = wait_requests_with(&TIKTOK, "ttok2", 2, 20000);
    assert_int_equal(json_array_size(reqs), 2);
    /* (The first carried the cached tt-old, unless the cache's 60 s ran out just before it.) */
    json_t *second = json_array_get(reqs, 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(second, "headers"), "access-token")),
                        "tt-new");
    assert_int_equal(json_integer_value(json_object_get(second, "answer")), 200);
    json_decref(reqs);

    reqs = wait_requests_with(&META, "rtok190", 2, 20000);
    assert_int_equal(json_array_size(reqs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 0), "answer")), 400);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(reqs, 1), "query")), "access_token=tok-190"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 1), "answer")), 200);
    json_decref(reqs);

    /* Neither went to the DLQ (other tests' events have dead letters of their own there). */
    usleep(500 * 1000);
    json_t *dlq = wait_dlq("tiktok", 1000, 0), *d;
    size_t i, refused = 0;
    json_array_foreach(dlq, i, d)
        assert_null(strstr(json_string_value(json_object_get(d, "error")), "TikTok code"));
    json_decref(dlq);
    dlq = wait_dlq("meta", 1000, 0);
    json_array_foreach(dlq, i, d)
        assert_null(strstr(json_string_value(json_object_get(d, "error")), "Meta error 190"));
    json_decref(dlq);

    /* A token the vault cannot cure either is the vendor's answer: dead-lettered after the one
     * more try, with TikTok's code. */
    dfix_stub_plan_for(&F, &TIKTOK, "200/code=40105x2", "ttok3");
    produce_one("ttok3", dfix_now_ms(), NULL);
    for (int waited = 0; refused == 0 && waited <= 20000; waited += 250) {
        usleep(250 * 1000);
        dlq = wait_dlq("tiktok", 0, 0);
        json_array_foreach(dlq, i, d) {
            if (strcmp(json_string_value(json_object_get(d, "error")), "HTTP 200 (TikTok code 40105)") == 0) {
                assert_string_equal(json_string_value(json_object_get(d, "attempts")), "2");
                refused++;
            }
        }
        json_decref(dlq);
    }
    assert_int_equal(refused, 1);
    dfix_stub_plan(&F, &TIKTOK, "");
    dfix_stub_plan(&F, &META, "");
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok\"}");
}

/* Meta answers a retired api_version with error 2635 for every request until the operator raises
 * it. The docs promised the events wait for that; as a plain retry each batch went to the DLQ
 * after its retry.max_attempts (4 here, about a minute by default). Now such an answer is not a
 * counted attempt: the event outlives 6 of them (max_attempts 4) and is delivered once Meta takes
 * the request again (here the stub's plan runs out, as the raised version would). */
static void test_retired_api_version_waits_beyond_max_attempts(void **state)
{
    (void)state;
    dfix_stub_plan_for(&F, &META, "400/code=2635x6", "rver2635");
    produce_one("rver2635", dfix_now_ms(), NULL);
    json_t *reqs = wait_requests_with(&META, "rver2635", 7, 30000);
    assert_int_equal(json_array_size(reqs), 7);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, i), "answer")), 400);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 6), "answer")), 200);
    json_decref(reqs);
    json_t *dlq = wait_dlq("meta", 1000, 0), *d;
    size_t i;
    json_array_foreach(dlq, i, d)
        assert_null(strstr(json_string_value(json_object_get(d, "error")), "2635"));
    json_decref(dlq);
    dfix_stub_plan(&F, &META, "");
}

/* The same wait broken by one ordinary failure: Meta answers 2635 more times than max_attempts
 * (4), then a 503 (its front end, a deploy), then takes the request. The 503 is the batch's first
 * counted failure, to be retried; counted with the 2635 answers as attempts, it dead-lettered the
 * event at once with "HTTP 503" (5 requests, never the 6th). */
static void test_retired_api_version_wait_then_one_503_is_retried(void **state)
{
    (void)state;
    json_t *dlq = wait_dlq("meta", 1000, 0), *d;
    size_t i, before = 0, after = 0;
    json_array_foreach(dlq, i, d) /* other tests' 503 dead letters */
        before += strncmp(json_string_value(json_object_get(d, "error")), "HTTP 503", 8) == 0;
    json_decref(dlq);
    dfix_stub_plan_for(&F, &META, "400/code=2635x4,503", "rver503");
    produce_one("rver503", dfix_now_ms(), NULL);
    json_t *reqs = wait_requests_with(&META, "rver503", 6, 30000);
    assert_int_equal(json_array_size(reqs), 6); /* 5 before: no retry after the 503 */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 4), "answer")), 503);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 5), "answer")), 200);
    json_decref(reqs);
    usleep(500 * 1000);
    dlq = wait_dlq("meta", 1000, 0);
    json_array_foreach(dlq, i, d)
        after += strncmp(json_string_value(json_object_get(d, "error")), "HTTP 503", 8) == 0;
    json_decref(dlq);
    assert_int_equal(after, before);
    dfix_stub_plan(&F, &META, "");
}

/* GA4 answers 204 with no body; a captive portal's or a proxy's 200 page in its place delivered
 * nothing, and was counted delivered: the event never reached GA4 and was never sent again. It
 * is retried, and the retry reaches GA4. */
static void test_ga4_proxy_page_is_retried(void **state)
{
    (void)state;
    dfix_stub_plan_for(&F, &GA4, "200/html", "rga4html");
    produce_one("rga4html", dfix_now_ms(), "{\"properties\":{\"note\":\"rga4html\"}}");
    json_t *reqs = wait_requests_with(&GA4, "rga4html", 2, 20000); /* GA4's default backoff: base 4 s */
    assert_int_equal(json_array_size(reqs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 0), "answer")), 200);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 1), "answer")), 200);
    json_decref(reqs);
    dfix_stub_plan(&F, &GA4, "");
}

/* An event mapped just inside Meta's 7 days whose batch then waits for a retry: by the retry it
 * is older than 7 days, and Meta (the stub as Meta) refuses the whole request for it. It is
 * dead-lettered alone before the retry; the fresh event of its batch is delivered. */
static void test_retry_past_meta_window_dead_letters_only_the_old_event(void **state)
{
    (void)state;
    dfix_stub_plan_for(&F, &META, "503/ra=10", "rwin-");
    int64_t now = dfix_now_ms();
    /* Stamped 7 days less 5 s ago (dfix_envelope puts the timestamp 400 ms before its time): inside
     * the window when mapped, outside it by the retry 10 s later. */
    char *envs[2] = {dfix_envelope("rwin-old", now - 7LL * 86400000 + 5400, NULL),
                     dfix_envelope("rwin-fresh", now, NULL)};
    dfix_produce(&F, envs, 2, NULL);
    free(envs[0]);
    free(envs[1]);
    json_t *reqs = wait_requests_with(&META, "rwin-fresh", 2, 30000);
    assert_int_equal(json_array_size(reqs), 2);
    /* The first attempt carried both (both inside the window then); the retry only the fresh one
     * (with the old one the stub, as Meta, refuses the whole request). */
    const char *first = json_string_value(json_object_get(json_array_get(reqs, 0), "body"));
    const char *retry = json_string_value(json_object_get(json_array_get(reqs, 1), "body"));
    assert_non_null(strstr(first, "rwin-old"));
    assert_null(strstr(retry, "rwin-old"));
    json_decref(reqs);
    char since[32];
    time_t start = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&start, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *args[] = {"--vendor", "meta", "--since", since, NULL};
    size_t old = 0;
    for (int waited = 0; old == 0 && waited <= 20000; waited += 250) {
        usleep(250 * 1000);
        json_t *dlq = dfix_dlq_list(&F, args), *e;
        size_t i;
        json_array_foreach(dlq, i, e) {
            /* Only the old event, with the reason and the attempt it missed; never the two with
             * Meta's 400 for the whole request. */
            const char *error = json_string_value(json_object_get(e, "error"));
            assert_string_not_equal(json_string_value(json_object_get(e, "status")), "400");
            if (strstr(error, "older than 7 days") != NULL) {
                assert_string_equal(json_string_value(json_object_get(e, "attempts")), "1");
                old++;
            }
        }
        json_decref(dlq);
    }
    assert_int_equal(old, 1);
    dfix_stub_plan(&F, &META, "");
}

/* The same, for a person `sluicectl forget` named while their event waited for the retry: it is
 * finished as suppressed, not dead-lettered. The age check came first, so the worker wrote the
 * person's whole envelope to the dead-letter topic after their request (kept for the topic's
 * retention, listed by `dlq list`), where the suppression check would have dropped it. */
static void test_forgotten_past_meta_window_not_dead_lettered(void **state)
{
    (void)state;
    static const char *series = "sluice_deliver_events_total{vendor=\"meta\",outcome=\"suppressed\"}";
    dfix_stub_plan_for(&F, &META, "503/ra=10", "fwin-");
    int64_t now = dfix_now_ms();
    char *envs[2] = {dfix_envelope("fwin-old", now - 7LL * 86400000 + 5400,
                                   "{\"userId\":\"user-fwin-1\",\"anonymousId\":\"anon-fwin-1\"}"),
                     dfix_envelope("fwin-fresh", now, NULL)};
    dfix_produce(&F, envs, 2, NULL);
    free(envs[0]);
    free(envs[1]);
    json_t *reqs = wait_requests_with(&META, "fwin-old", 1, 30000);
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
    double before = dfix_metric(&F, series);
    const char *forget[] = {"forget", "--config", F.config, "--org", "acme", "--user-id", "user-fwin-1", NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, forget, NULL, NULL, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("forget: %s %s", out.out, out.errout);
    sluice_th_output_dispose(&out);
    /* The retry, 10 s after the first attempt, carries the fresh event only. */
    reqs = wait_requests_with(&META, "fwin-fresh", 2, 30000);
    assert_int_equal(json_array_size(reqs), 2);
    assert_null(strstr(json_string_value(json_object_get(json_array_get(reqs, 1), "body")), "fwin-old"));
    json_decref(reqs);
    usleep(2000 * 1000);
    /* From a second after the start: the test before dead-letters an event of its own just before. */
    char since[32];
    time_t start = (time_t)(now / 1000) + 1;
    struct tm tm;
    gmtime_r(&start, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *args[] = {"--vendor", "meta", "--since", since, NULL};
    json_t *dlq = dfix_dlq_list(&F, args), *e;
    size_t i, old = 0;
    json_array_foreach(dlq, i, e) {
        old += strstr(json_string_value(json_object_get(e, "error")), "older than 7 days") != NULL;
    }
    json_decref(dlq);
    assert_int_equal(old, 0);
    assert_true(dfix_metric(&F, series) == (before < 0 ? 0 : before) + 1);
    dfix_stub_plan(&F, &META, "");
}

/* A request on the wire when forget named the person of one of its events, which the vendor then
 * refuses for good: that event is finished as suppressed, not dead-lettered. Every item of the
 * refused batch went to the dead-letter topic, the forgotten person's whole envelope with them,
 * written after the request. */
static void test_forgotten_in_a_refused_request_not_dead_lettered(void **state)
{
    (void)state;
    static const char *series = "sluice_deliver_events_total{vendor=\"ga4\",outcome=\"suppressed\"}";
    dfix_stub_plan_for(&F, &GA4, "400/delay=6000", "fdl-");
    int64_t now = dfix_now_ms();
    char *env = dfix_envelope("fdl-1", now, "{\"userId\":\"user-fdl-1\",\"anonymousId\":\"anon-fdl-1\"}");
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    usleep(1000 * 1000); /* read, batched for 100 ms and sent: the stub answers 6 s later */
    double before = dfix_metric(&F, series);
    const char *forget[] = {"forget", "--config", F.config, "--org", "acme", "--user-id", "user-fdl-1", NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, forget, NULL, NULL, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("forget: %s %s", out.out, out.errout);
    sluice_th_output_dispose(&out);
    json_t *reqs = wait_requests_with(&GA4, "fdl-1", 1, 30000);
    assert_int_equal(json_array_size(reqs), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 0), "answer")), 400);
    json_decref(reqs);
    char since[32];
    time_t start = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&start, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *args[] = {"--vendor", "ga4", "--since", since, NULL};
    /* The answer comes 6 s after the request: the event ends one way or the other. */
    size_t refused = 0;
    double after = before;
    for (int waited = 0; waited < 30000 && refused == 0 && after <= before; waited += 250) {
        usleep(250 * 1000);
        after = dfix_metric(&F, series);
        json_t *dlq = dfix_dlq_list(&F, args), *e;
        size_t i;
        json_array_foreach(dlq, i, e) {
            refused += strcmp(json_string_value(json_object_get(e, "status")), "400") == 0;
        }
        json_decref(dlq);
    }
    assert_int_equal(refused, 0);
    assert_true(after == (before < 0 ? 0 : before) + 1);
    dfix_stub_plan(&F, &GA4, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_500_retried_then_delivered),
        cmocka_unit_test(test_429_retry_after),
        cmocka_unit_test(test_400_dead_lettered),
        cmocka_unit_test(test_timeout_retried),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_untrusted_certificate),
        cmocka_unit_test(test_too_old_for_meta),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_unrouted_counted_and_stale_replay_dead_lettered),
        cmocka_unit_test(test_dead_letter_too_large_for_the_dlq),
        cmocka_unit_test(test_dlq_producer_fatal_error_recovers),
        /* Last: it replaces the vault's credential. */
        cmocka_unit_test(test_401_after_vault_put_reads_the_new_credential),
        cmocka_unit_test(test_token_refused_in_the_vendors_words_reads_the_new_credential),
        cmocka_unit_test(test_retry_past_meta_window_dead_letters_only_the_old_event),
        cmocka_unit_test(test_ga4_proxy_page_is_retried),
        cmocka_unit_test(test_retired_api_version_waits_beyond_max_attempts),
        cmocka_unit_test(test_retired_api_version_wait_then_one_503_is_retried),
        /* Last: their forgets suppress the persons' later events. */
        cmocka_unit_test(test_forgotten_past_meta_window_not_dead_lettered),
        cmocka_unit_test(test_forgotten_in_a_refused_request_not_dead_lettered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
