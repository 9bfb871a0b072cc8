/*
 * `sluicectl dlq replay --to-vendor` the morning after, by an operator whose config changed
 * since the dead letters were written: the integration that failed renamed (and the replay run
 * twice), then removed with its vendor; and a replay run again after the first one met the
 * vendor still failing. A dead letter must reach the integration it failed for exactly once, and
 * never the integrations that had delivered it; one whose integration the config no longer has
 * is left out, named, and the run exits 1. Against the real worker, the dev Kafka broker, the
 * vault on PostgreSQL and HTTPS stubs.
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

#include "tests/integration/deliver_fix.h"

static dfix_t F;
static dstub_t META, GA4;

/* The Meta integration named `meta_name` (NULL: none) and GA4 "ga4". */
static void write_config(const char *meta_name)
{
    char integrations[2048], meta[1024] = "";
    if (meta_name != NULL)
        snprintf(meta, sizeof(meta),
                 "      - {name: %s, vendor: meta, pixel_id: \"42\", base_url: \"%s\", batch: {max_wait_ms: 100},\n"
                 "         credentials: meta}\n",
                 meta_name, META.url);
    snprintf(integrations, sizeof(integrations),
             "%s      - {name: ga4, vendor: ga4, measurement_id: G-R, base_url: \"%s\", batch: {max_wait_ms: 100}}\n",
             meta, GA4.url);
    dfix_write_config(&F, integrations, NULL);
}

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_stub(&F, &META, "meta", NULL, NULL);
    dfix_stub(&F, &GA4, "ga4", NULL, NULL);
    write_config("meta");
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok\"}");
    dfix_vault_put(&F, "ga4", "ga4", "{\"api_secret\":\"sec\"}");
    dfix_start_worker(&F, NULL, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

static size_t count_with(const dstub_t *s, const char *needle)
{
    json_t *found = dfix_requests_with(s, needle);
    size_t n = json_array_size(found);
    json_decref(found);
    return n;
}

static size_t wait_count_with(const dstub_t *s, const char *needle, size_t n, int timeout_ms)
{
    size_t got = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if ((got = count_with(s, needle)) >= n)
            break;
        usleep(100 * 1000);
    }
    return got;
}

static void restart_worker(const char *meta_name, int lanes)
{
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
    write_config(meta_name);
    dfix_start_worker(&F, NULL, lanes);
}

static void replay_to_vendor(sluice_th_output_t *out)
{
    const char *args[] = {"dlq",  "replay",  "--config", F.config,      "--vendor",
                          "meta", "--since", "1h",       "--to-vendor", NULL};
    dfix_sluicectl(&F, args, NULL, NULL, out);
    print_message("replay: %s", out->errout);
}

/* The operator renamed the failed integration (meta → meta-eu) before replaying, and then ran
 * the replay a second time. The first replay said "replayed 1 of 1"; the worker dead-lettered
 * it again, naming no integration ("-"), and the second replay, without a target for it, sent
 * it to every integration: GA4, which had delivered it the day before, counted the purchase
 * twice (GA4 has no event id), and Meta got it under the new name. */
static void test_replay_to_a_renamed_integration(void **state)
{
    (void)state;
    dfix_stub_plan(&F, &META, "400");
    char *env = dfix_envelope("rp-renamed", dfix_now_ms(),
                              "{\"properties\":{\"marker\":\"m-rp-renamed\",\"currency\":\"EUR\"}}");
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    assert_int_equal(wait_count_with(&GA4, "m-rp-renamed", 1, 20000), 1);
    const char *margs[] = {"--vendor", "meta", NULL};
    json_t *dlq = NULL;
    for (int waited = 0; waited <= 20000 && json_array_size(dlq) < 1; waited += 250) {
        json_decref(dlq);
        usleep(250 * 1000);
        dlq = dfix_dlq_list(&F, margs);
    }
    assert_int_equal(json_array_size(dlq), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(dlq, 0), "integration")), "meta");
    json_decref(dlq);
    dfix_stub_plan(&F, &META, "");
    size_t meta_before = count_with(&META, "\"rp-renamed\"");
    assert_int_equal(meta_before, 1);

    restart_worker("meta-eu", 2);
    sluice_th_output_t out[2];
    for (int run = 0; run < 2; run++) {
        replay_to_vendor(&out[run]);
        usleep(3000 * 1000); /* what a produced replay takes to reach the stubs: about one second */
    }
    /* GA4 had it: never again; nor Meta under another integration's name. */
    assert_int_equal(count_with(&GA4, "m-rp-renamed"), 1);
    assert_int_equal(count_with(&META, "\"rp-renamed\""), meta_before);
    /* And the operator is told, each time. */
    for (int run = 0; run < 2; run++) {
        assert_true(sluice_th_exited_with(out[run].wstatus, 1));
        assert_non_null(strstr(out[run].errout, "is for meta/meta, which the config does not have for org acme"));
        assert_non_null(strstr(out[run].errout, "1 without an integration of this config to go to not replayed"));
        sluice_th_output_dispose(&out[run]);
    }

    /* The name back: the replay delivers it to Meta, once, and still not to GA4. */
    restart_worker("meta", 2);
    sluice_th_output_t again;
    replay_to_vendor(&again);
    assert_true(sluice_th_exited_with(again.wstatus, 0));
    assert_non_null(strstr(again.errout, "replayed 1 of 1 dead letters"));
    sluice_th_output_dispose(&again);
    assert_int_equal(wait_count_with(&META, "\"rp-renamed\"", meta_before + 1, 20000), meta_before + 1);
    usleep(2000 * 1000);
    assert_int_equal(count_with(&META, "\"rp-renamed\""), meta_before + 1);
    assert_int_equal(count_with(&GA4, "m-rp-renamed"), 1);
}

/* Meta removed from the config altogether (no Meta lane in any worker): a replay to meta/meta
 * was skipped by every worker, with no dead letter, no metric and no log line, while the replay
 * said "replayed 1 of 1" and exited 0. */
static void test_replay_to_a_removed_vendor(void **state)
{
    (void)state;
    restart_worker(NULL, 1);
    sluice_th_output_t out;
    replay_to_vendor(&out);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "is for meta/meta, which the config does not have for org acme"));
    assert_non_null(strstr(out.errout, "replayed 0 of 1 dead letters"));
    sluice_th_output_dispose(&out);
    usleep(2000 * 1000);
    assert_int_equal(count_with(&GA4, "m-rp-renamed"), 1);
}

/* How many times needle occurs in the bodies of the requests to s that the stub answered with
 * `status` (one request may carry the same event twice: GA4 batches a client's events). */
static size_t answered_with(const dstub_t *s, const char *needle, int status)
{
    json_t *all = dfix_requests(s), *r;
    size_t i, n = 0;
    json_array_foreach(all, i, r) {
        const char *body = json_string_value(json_object_get(r, "body"));
        if (body == NULL || json_integer_value(json_object_get(r, "answer")) != status)
            continue;
        for (const char *p = strstr(body, needle); p != NULL; p = strstr(p + 1, needle))
            n++;
    }
    json_decref(all);
    return n;
}

static size_t wait_dlq(const char *vendor, size_t n, int timeout_ms)
{
    const char *args[] = {"--vendor", vendor, NULL};
    size_t got = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 250) {
        json_t *dlq = dfix_dlq_list(&F, args);
        got = json_array_size(dlq);
        json_decref(dlq);
        if (got >= n)
            break;
        usleep(250 * 1000);
    }
    return got;
}

/* The morning after a GA4 outage: the first replay meets GA4 still refusing, so the event is
 * dead-lettered a second time; once GA4 answers again the operator replays the same window. That
 * run took both dead letters of the event and produced it twice: GA4, which has no event id,
 * counted the purchase twice. Each event goes once per integration and run. */
static void test_replay_after_failing_again(void **state)
{
    (void)state;
    dfix_stub_plan_for(&F, &GA4, "400x2", "m-rp-twice");
    char *env =
        dfix_envelope("rp-twice", dfix_now_ms(), "{\"properties\":{\"marker\":\"m-rp-twice\",\"currency\":\"EUR\"}}");
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    assert_int_equal(wait_dlq("ga4", 1, 20000), 1);

    const char *args[] = {"dlq", "replay",  "--config", F.config,      "--vendor",
                          "ga4", "--since", "1h",       "--to-vendor", NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, args, NULL, NULL, &out);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
    assert_int_equal(wait_dlq("ga4", 2, 20000), 2); /* refused again */

    dfix_sluicectl(&F, args, NULL, NULL, &out);
    print_message("replay: %s", out.errout);
    /* A produced replay reaches the stub in about a second (a fixed 5 s wait before). A second
     * copy the same run produced would follow the first at once (same key, same partition, the
     * next offset): watched for 2 s after the first arrived. */
    for (int waited = 0; waited < 10000 && answered_with(&GA4, "m-rp-twice", 200) < 1; waited += 100)
        usleep(100 * 1000);
    usleep(2000 * 1000);
    /* Two refusals, then accepted once: not twice. */
    assert_int_equal(answered_with(&GA4, "m-rp-twice", 400), 2);
    assert_int_equal(answered_with(&GA4, "m-rp-twice", 200), 1);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.errout, "replayed 1 of 2 dead letters"));
    assert_non_null(strstr(out.errout, "1 of an event this run had already replayed to the same place left out"));
    sluice_th_output_dispose(&out);
    dfix_stub_plan(&F, &GA4, "");
}

/* The replay's produce request refused by the broker (a permanent error): the event's first dead
 * letter was not taken, and the run said of its second "1 of an event this run had already
 * replayed to the same place left out", an event that was in Kafka nowhere. Neither is replayed,
 * and the last line says so. */
static void test_replay_not_taken_is_not_replayed(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    assert_int_equal(wait_dlq("ga4", 2, 1000), 2); /* rp-twice's two, from the test above */
    size_t before = answered_with(&GA4, "m-rp-twice", 200);
    assert_int_equal(sluice_th_kafka_command(&F.kafka, "produce-error 1 TOPIC_AUTHORIZATION_FAILED", &err), 0);
    const char *args[] = {"dlq", "replay",  "--config", F.config,      "--vendor",
                          "ga4", "--since", "1h",       "--to-vendor", NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, args, NULL, NULL, &out);
    print_message("replay: %s", out.errout);
    usleep(3000 * 1000);
    assert_int_equal(answered_with(&GA4, "m-rp-twice", 200), before); /* not in Kafka: not delivered */
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "replayed 0 of 2 dead letters"));
    assert_null(strstr(out.errout, "already replayed"));
    assert_non_null(strstr(out.errout, "2 not taken by Kafka, not replayed"));
    sluice_th_output_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_to_a_renamed_integration),
        cmocka_unit_test(test_replay_to_a_removed_vendor),
        cmocka_unit_test(test_replay_after_failing_again),
        cmocka_unit_test(test_replay_not_taken_is_not_replayed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
