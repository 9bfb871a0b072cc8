/*
 * One bad event must not cost a whole batch at a vendor that refuses a request whole for it
 * (Meta's HTTP 400 error 100 with a 2804xxx subcode, TikTok's HTTP 200 with code 40002):
 * sluice-deliver against HTTPS stubs (tests/stubs/vendor_stub.c, plan `200/refuse=TEXT`, which
 * refuses every request holding an event with TEXT as the vendor would). The batch is split in
 * halves until the refused event is alone: the good events are delivered once each (Meta's
 * test_event_code on every request), only the bad one is dead-lettered with the vendor's reason,
 * and the requests stay bounded (a batch of bad events only does not cost 2N requests, and after
 * such a split the next batches are not split for 30 s or until a request succeeds). A batch
 * refused whole for the request's sake (a refused credential, a rate limit, Meta's error 100
 * without a parameter subcode) is not split.
 */
#include <setjmp.h>
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
static dstub_t META, TIKTOK, META2;

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_stub(&F, &META, "meta", NULL, NULL);
    dfix_stub(&F, &TIKTOK, "tiktok", NULL, NULL);
    dfix_stub(&F, &META2, "meta2", NULL, NULL);
    char integrations[2048];
    /* One batch per test (1.5 s to gather the events produced at once). */
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"42\", test_event_code: TEST777, base_url: \"%s\",\n"
             "         batch: {max_wait_ms: 1500}, retry: {max_attempts: 4, base_ms: 100, max_ms: 500}}\n"
             "      - {name: tiktok, vendor: tiktok, pixel_code: CSPLIT, base_url: \"%s\",\n"
             "         batch: {max_wait_ms: 1500}, retry: {max_attempts: 4, base_ms: 100, max_ms: 500}}\n"
             "      - {name: meta2, vendor: meta, pixel_id: \"43\", base_url: \"%s\", events: [Elapsed Probe],\n"
             "         batch: {max_wait_ms: 1500}, retry: {max_attempts: 20, base_ms: 100, max_ms: 200, "
             "max_elapsed_s: 3}}\n",
             META.url, TIKTOK.url, META2.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-meta\"}");
    dfix_vault_put(&F, "tiktok", "tiktok", "{\"access_token\":\"tok-tt\"}");
    dfix_vault_put(&F, "meta2", "meta", "{\"access_token\":\"tok-meta2\"}");
    dfix_start_worker(&F, NULL, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* Produces n events at once, ids "<prefix>ok-NN", except those whose index is in bad (ids
 * "<prefix>BAD-NN"). */
static void produce_batch(const char *prefix, size_t n, const unsigned char *bad)
{
    char *envs[64];
    int64_t now = dfix_now_ms();
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s%s-%02zu", prefix, bad != NULL && bad[i] ? "BAD" : "ok", i);
        envs[i] = dfix_envelope(id, now, NULL);
    }
    dfix_produce(&F, envs, n, NULL);
    for (size_t i = 0; i < n; i++)
        free(envs[i]);
}

static double metric(const char *vendor, const char *outcome)
{
    char series[160];
    snprintf(series, sizeof(series), "sluice_deliver_events_total{vendor=\"%s\",outcome=\"%s\"}", vendor, outcome);
    double v = dfix_metric(&F, series);
    return v < 0 ? 0 : v;
}

static size_t dlq_count(const char *vendor)
{
    const char *args[] = {"--vendor", vendor, NULL};
    json_t *all = dfix_dlq_list(&F, args);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

/* Waits until every one of the n events of the test ended (delivered + dead-lettered by the
 * metrics, from the values before), and the DLQ holds dlq_before + dead of them. */
static void wait_settled(const char *vendor, double delivered0, double dead0, size_t n, size_t dlq_before, size_t dead)
{
    for (int waited = 0; waited < 30000; waited += 250) {
        if (metric(vendor, "delivered") - delivered0 + metric(vendor, "dead_lettered") - dead0 >= (double)n &&
            dlq_count(vendor) >= dlq_before + dead)
            break;
        usleep(250 * 1000);
    }
    usleep(500 * 1000); /* and nothing more comes */
}

/* {event id: how many requests the stub accepted carried it} over the requests holding prefix
 * that hold no refused event (bad: the refused events' text). */
static json_t *accepted_ids(json_t *reqs, const char *array, const char *id_key, const char *bad)
{
    json_t *out = json_object();
    size_t i, k;
    json_t *r, *ev;
    json_array_foreach(reqs, i, r) {
        const char *body = json_string_value(json_object_get(r, "body"));
        if (strstr(body, bad) != NULL)
            continue;
        json_array_foreach(json_object_get(json_object_get(r, "json"), array), k, ev) {
            const char *id = json_string_value(json_object_get(ev, id_key));
            json_t *c = json_object_get(out, id);
            json_object_set_new(out, id, json_integer(c != NULL ? json_integer_value(c) + 1 : 1));
        }
    }
    return out;
}

/* N - 1 of a Meta batch delivered and its one bad event dead-lettered (the DLQ had q0 entries),
 * with the vendor's reason and title, never the event's values (error_user_msg); attempts too
 * when given. */
static void assert_one_meta_dead_letter(double d0, double x0, size_t q0, size_t n, const char *attempts)
{
    assert_true(metric("meta", "delivered") - d0 == (double)n - 1);
    assert_true(metric("meta", "dead_lettered") - x0 == 1);
    const char *args[] = {"--vendor", "meta", NULL};
    json_t *dlq = dfix_dlq_list(&F, args);
    assert_int_equal(json_array_size(dlq), q0 + 1);
    json_t *d = json_array_get(dlq, q0);
    assert_string_equal(json_string_value(json_object_get(d, "status")), "400");
    if (attempts != NULL)
        assert_string_equal(json_string_value(json_object_get(d, "attempts")), attempts);
    assert_string_equal(json_string_value(json_object_get(d, "error")),
                        "HTTP 400 (Meta error 100/2804050: Server-side API parameter error)");
    json_decref(dlq);
}

/* Checks that each good event of the test was in exactly one accepted request. */
static void assert_good_delivered_once(json_t *accepted, const char *prefix, size_t n, const unsigned char *bad)
{
    for (size_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s%s-%02zu", prefix, bad[i] ? "BAD" : "ok", i);
        json_int_t got = json_integer_value(json_object_get(accepted, id));
        if (got != (bad[i] ? 0 : 1))
            fail_msg("%s: in %lld accepted requests, expected %d", id, (long long)got, bad[i] ? 0 : 1);
    }
}

static void test_meta_one_bad_event_does_not_cost_the_batch(void **state)
{
    (void)state;
    enum { N = 20 };
    unsigned char bad[N] = {0};
    bad[13] = 1;
    double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
    size_t q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs1-BADx40", "vs1-BAD");
    produce_batch("vs1-", N, bad);
    wait_settled("meta", d0, x0, N, q0, 1);

    json_t *reqs = dfix_requests_with(&META, "vs1-");
    size_t nreq = json_array_size(reqs);
    print_message("meta: 19 good + 1 bad event took %zu requests\n", nreq);
    json_t *accepted = accepted_ids(reqs, "data", "event_id", "vs1-BAD");
    assert_good_delivered_once(accepted, "vs1-", N, bad);
    json_decref(accepted);
    /* Halving 20 down to the bad one: at most 1 + 2 per level (5 levels). */
    assert_true(nreq >= 2 && nreq <= 11);
    /* Every request, the halves too, is still a test event, as the integration says. */
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        assert_string_equal(json_string_value(json_object_get(json_object_get(r, "json"), "test_event_code")),
                            "TEST777");
    }
    json_decref(reqs);

    assert_one_meta_dead_letter(d0, x0, q0, N, NULL);
    dfix_stub_plan(&F, &META, "");
}

static void test_tiktok_two_bad_events_do_not_cost_the_batch(void **state)
{
    (void)state;
    enum { N = 16 };
    unsigned char bad[N] = {0};
    bad[2] = bad[11] = 1;
    double d0 = metric("tiktok", "delivered"), x0 = metric("tiktok", "dead_lettered");
    size_t q0 = dlq_count("tiktok");
    dfix_stub_plan_for(&F, &TIKTOK, "200/refuse=vs2-BADx40", "vs2-BAD");
    produce_batch("vs2-", N, bad);
    wait_settled("tiktok", d0, x0, N, q0, 2);

    json_t *reqs = dfix_requests_with(&TIKTOK, "vs2-");
    size_t nreq = json_array_size(reqs);
    print_message("tiktok: 14 good + 2 bad events took %zu requests\n", nreq);
    json_t *accepted = accepted_ids(reqs, "data", "event_id", "vs2-BAD");
    assert_good_delivered_once(accepted, "vs2-", N, bad);
    json_decref(accepted);
    assert_true(nreq <= 1 + 2 * 2 * 4);
    json_decref(reqs);
    assert_true(metric("tiktok", "delivered") - d0 == N - 2);
    assert_true(metric("tiktok", "dead_lettered") - x0 == 2);
    const char *args[] = {"--vendor", "tiktok", NULL};
    json_t *dlq = dfix_dlq_list(&F, args);
    assert_int_equal(json_array_size(dlq), q0 + 2);
    for (size_t k = q0; k < q0 + 2; k++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(dlq, k), "error")),
                            "HTTP 200 (TikTok code 40002)");
    json_decref(dlq);
    dfix_stub_plan(&F, &TIKTOK, "");
}

/* The places of the events in a request body {"data":[ev,ev,...],...}: starts[i], lens[i] of
 * each event's text as sent. Returns how many. */
static size_t event_spans(const char *body, size_t *starts, size_t *lens, size_t cap)
{
    const char *p = strstr(body, "\"data\":[");
    assert_non_null(p);
    p += 8;
    size_t n = 0;
    int depth = 0, in_str = 0;
    const char *start = NULL;
    for (; *p != '\0'; p++) {
        if (in_str) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_str = 0;
            continue;
        }
        if (*p == '"') {
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            if (depth++ == 0)
                start = p;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                break; /* the end of data */
            if (--depth == 0) {
                assert_true(n < cap);
                starts[n] = (size_t)(start - body);
                lens[n++] = (size_t)(p + 1 - start);
            }
        }
    }
    return n;
}

/* One refused event among 50 that Meta's answer names ($['data'][N]): it goes to the DLQ alone and
 * the 49 others are sent again in one request, byte for byte as in the refused one: 2 requests,
 * where halving took 1 + 2 per level (up to 13), and the dead letter's reason is Meta's code and
 * title. At the first, a middle and the last place. */
static void test_meta_named_event_is_isolated_in_one_request(void **state)
{
    (void)state;
    enum { N = 50 };
    const size_t places[] = {0, 17, 49};
    for (size_t c = 0; c < sizeof(places) / sizeof(places[0]); c++) {
        unsigned char bad[N] = {0};
        bad[places[c]] = 1;
        char prefix[32], bad_text[48];
        snprintf(prefix, sizeof(prefix), "vi%zu-", places[c]);
        snprintf(bad_text, sizeof(bad_text), "vi%zu-BAD", places[c]);
        double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
        size_t q0 = dlq_count("meta");
        char plan[96];
        snprintf(plan, sizeof(plan), "200/refuse=%sx40", bad_text);
        dfix_stub_plan_for(&F, &META, plan, bad_text);
        produce_batch(prefix, N, bad);
        wait_settled("meta", d0, x0, N, q0, 1);

        json_t *reqs = dfix_requests_with(&META, prefix);
        print_message("meta: 49 good + 1 bad event at %zu, named by the answer: %zu requests\n", places[c],
                      json_array_size(reqs));
        assert_int_equal(json_array_size(reqs), 2);
        const char *first = json_string_value(json_object_get(json_array_get(reqs, 0), "body"));
        const char *second = json_string_value(json_object_get(json_array_get(reqs, 1), "body"));
        size_t starts[N + 1], lens[N + 1];
        assert_int_equal(event_spans(first, starts, lens, N + 1), N);
        assert_non_null(strstr(first + starts[places[c]], bad_text));
        /* The second request: the first with the named event's text (and its comma) taken out. */
        size_t cut_from = places[c] == 0 ? starts[0] : starts[places[c] - 1] + lens[places[c] - 1];
        size_t cut_to = places[c] == 0 ? starts[1] : starts[places[c]] + lens[places[c]];
        size_t flen = strlen(first);
        char *want = malloc(flen + 1);
        assert_non_null(want);
        memcpy(want, first, cut_from);
        memcpy(want + cut_from, first + cut_to, flen - cut_to + 1);
        assert_string_equal(second, want);
        free(want);
        json_t *accepted = accepted_ids(reqs, "data", "event_id", bad_text);
        assert_good_delivered_once(accepted, prefix, N, bad);
        json_decref(accepted);
        json_decref(reqs);

        assert_one_meta_dead_letter(d0, x0, q0, N, "1");
    }
    dfix_stub_plan(&F, &META, "");
}

/* Answers that name no one place within the request are not trusted: a place outside it (50 of
 * 50), two places, one that is no number, none. The batch is halved as before: every good event
 * delivered once, the bad one dead-lettered, none dropped for the answer's sake. */
static void test_meta_unusable_place_falls_back_to_halving(void **state)
{
    (void)state;
    enum { N = 50 };
    const char *const specs[] = {"50", "17+3", "n0", ""};
    for (size_t c = 0; c < sizeof(specs) / sizeof(specs[0]); c++) {
        unsigned char bad[N] = {0};
        bad[17] = 1;
        char prefix[32], bad_text[48], plan[96];
        snprintf(prefix, sizeof(prefix), "vu%zu-", c);
        snprintf(bad_text, sizeof(bad_text), "vu%zu-BAD", c);
        snprintf(plan, sizeof(plan), "200/refuse=%s/at=%sx40", bad_text, specs[c]);
        double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
        size_t q0 = dlq_count("meta");
        dfix_stub_plan_for(&F, &META, plan, bad_text);
        produce_batch(prefix, N, bad);
        wait_settled("meta", d0, x0, N, q0, 1);
        json_t *reqs = dfix_requests_with(&META, prefix);
        size_t nreq = json_array_size(reqs);
        print_message("meta: the answer names \"%s\": %zu requests\n", specs[c], nreq);
        json_t *accepted = accepted_ids(reqs, "data", "event_id", bad_text);
        assert_good_delivered_once(accepted, prefix, N, bad);
        json_decref(accepted);
        /* Halved (no request of 49 after the first), within 1 + 2 per level (6 levels). */
        assert_true(nreq > 2 && nreq <= 13);
        assert_int_not_equal(json_array_size(json_object_get(json_object_get(json_array_get(reqs, 1), "json"), "data")),
                             N - 1);
        json_decref(reqs);
        assert_true(metric("meta", "delivered") - d0 == N - 1);
        assert_true(metric("meta", "dead_lettered") - x0 == 1);
        assert_int_equal(dlq_count("meta"), q0 + 1);
    }
    dfix_stub_plan(&F, &META, "");
}

/* An answer that names a wrong place within the request, each time (event 3 of 50, the refused one
 * being event 17): it is trusted once per batch, so at most that one good event goes to the DLQ;
 * the others' second refusal naming a place is halved. Trusted each time, it dead-lettered one good
 * event per request until the halving budget was spent (36), then the rest whole: all 50. */
static void test_meta_wrong_place_costs_at_most_one_event(void **state)
{
    (void)state;
    enum { N = 50 };
    unsigned char bad[N] = {0}, lost[N] = {0};
    bad[17] = 1;
    lost[3] = lost[17] = 1;
    double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
    size_t q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vw-BAD/at=3x40", "vw-BAD");
    produce_batch("vw-", N, bad);
    wait_settled("meta", d0, x0, N, q0, 2);
    json_t *reqs = dfix_requests_with(&META, "vw-");
    size_t nreq = json_array_size(reqs);
    print_message("meta: an answer naming a wrong place each time: %zu requests\n", nreq);
    json_t *accepted = accepted_ids(reqs, "data", "event_id", "vw-BAD");
    for (size_t i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "vw-%s-%02zu", bad[i] ? "BAD" : "ok", i);
        json_int_t got = json_integer_value(json_object_get(accepted, id));
        if (got != (lost[i] ? 0 : 1))
            fail_msg("%s: in %lld accepted requests, expected %d", id, (long long)got, lost[i] ? 0 : 1);
    }
    json_decref(accepted);
    json_decref(reqs);
    assert_true(nreq <= 2 + 12);
    assert_true(metric("meta", "delivered") - d0 == N - 2);
    assert_true(metric("meta", "dead_lettered") - x0 == 2);
    assert_int_equal(dlq_count("meta"), q0 + 2);
    dfix_stub_plan(&F, &META, "");
}

/* Meta's answer quotes the event's e-mail, or a phone number (in its message, title and
 * error_data): the event is still isolated by its place, and neither its dead letter nor the
 * worker's log holds the value. A title that quoted digits, a name, passed for plain text. */
static void test_meta_answer_quoting_a_value_leaves_no_trace(void **state)
{
    (void)state;
    enum { N = 8 };
    const char *const quoted[] = {"jane.doe@mail.test", "16505551212"};
    for (size_t c = 0; c < 2; c++) {
        unsigned char bad[N] = {0};
        bad[5] = 1;
        char prefix[16], bad_text[16], plan[128];
        snprintf(prefix, sizeof(prefix), "vq%zu-", c);
        snprintf(bad_text, sizeof(bad_text), "vq%zu-BAD", c);
        snprintf(plan, sizeof(plan), "200/refuse=%s/quote=%sx40", bad_text, quoted[c]);
        double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
        size_t q0 = dlq_count("meta");
        dfix_stub_plan_for(&F, &META, plan, bad_text);
        produce_batch(prefix, N, bad);
        wait_settled("meta", d0, x0, N, q0, 1);
        json_t *reqs = dfix_requests_with(&META, prefix);
        assert_int_equal(json_array_size(reqs), 2);
        json_t *accepted = accepted_ids(reqs, "data", "event_id", bad_text);
        assert_good_delivered_once(accepted, prefix, N, bad);
        json_decref(accepted);
        json_decref(reqs);
        const char *args[] = {"--vendor", "meta", NULL};
        json_t *dlq = dfix_dlq_list(&F, args);
        assert_int_equal(json_array_size(dlq), q0 + 1);
        json_t *d = json_array_get(dlq, q0);
        char *line = json_dumps(d, JSON_COMPACT);
        if (strstr(line, quoted[c]) != NULL)
            fail_msg("the dead letter quotes %s: %s", quoted[c], line);
        free(line);
        assert_string_equal(json_string_value(json_object_get(d, "error")), "HTTP 400 (Meta error 100/2804050)");
        json_decref(dlq);
        sluice_err_t err = {{0}};
        char log[PATH_MAX];
        sluice_th_path(log, sizeof(log), "deliver.log", &err);
        char *text = sluice_th_read_file(log, NULL, NULL);
        assert_non_null(text);
        assert_null(strstr(text, quoted[c]));
        free(text);
    }
    dfix_stub_plan(&F, &META, "");
}

/* A batch of bad events only: split within its budget, then dead-lettered, not 2N - 1 requests. */
static void test_all_bad_batch_costs_bounded_requests(void **state)
{
    (void)state;
    enum { N = 32 };
    unsigned char bad[N];
    memset(bad, 1, sizeof(bad));
    double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
    size_t q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs3-BADx200", "vs3-BAD");
    produce_batch("vs3-", N, bad);
    wait_settled("meta", d0, x0, N, q0, N);
    json_t *reqs = dfix_requests_with(&META, "vs3-");
    size_t nreq = json_array_size(reqs);
    print_message("meta: 32 bad events took %zu requests (halving to the end: %d)\n", nreq, 2 * N - 1);
    /* 1 + 6 per level of 5: 31 at most; every event in the DLQ, none delivered. */
    assert_true(nreq <= 31);
    json_decref(reqs);
    assert_true(metric("meta", "delivered") - d0 == 0);
    assert_true(metric("meta", "dead_lettered") - x0 == N);
    assert_int_equal(dlq_count("meta"), q0 + N);
    dfix_stub_plan(&F, &META, "");
}

/* After a split that had every request refused (test_all_bad_batch_costs_bounded_requests just
 * now): the refusal was likely the request's (a pixel code the vendor does not know), so the next
 * batch refused that way is not split (one request, not 2 per level again), for 30 s or until a
 * request of the integration succeeds; then a batch with one bad event is split again. */
static void test_next_batch_not_split_after_a_split_that_delivered_nothing(void **state)
{
    (void)state;
    enum { N = 8 };
    unsigned char bad[N];
    memset(bad, 1, sizeof(bad));
    double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
    size_t q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs8-BADx40", "vs8-BAD");
    produce_batch("vs8-", N, bad);
    wait_settled("meta", d0, x0, N, q0, N);
    json_t *reqs = dfix_requests_with(&META, "vs8-");
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
    const char *args[] = {"--vendor", "meta", NULL};
    json_t *dlq = dfix_dlq_list(&F, args);
    assert_int_equal(json_array_size(dlq), q0 + N);
    assert_string_equal(json_string_value(json_object_get(json_array_get(dlq, q0), "error")),
                        "HTTP 400 (Meta error 100/2804050: Server-side API parameter error); not split: the last "
                        "split batch had every request refused");
    json_decref(dlq);

    /* A delivered request, then one bad event among good ones is isolated again. */
    d0 = metric("meta", "delivered");
    x0 = metric("meta", "dead_lettered");
    q0 = dlq_count("meta");
    produce_batch("vs9-", 1, NULL);
    wait_settled("meta", d0, x0, 1, q0, 0);
    memset(bad, 0, sizeof(bad));
    bad[5] = 1;
    d0 = metric("meta", "delivered");
    x0 = metric("meta", "dead_lettered");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs10-BADx40", "vs10-BAD");
    produce_batch("vs10-", N, bad);
    wait_settled("meta", d0, x0, N, q0, 1);
    assert_true(metric("meta", "delivered") - d0 == N - 1);
    assert_true(metric("meta", "dead_lettered") - x0 == 1);
    reqs = dfix_requests_with(&META, "vs10-");
    json_t *accepted = accepted_ids(reqs, "data", "event_id", "vs10-BAD");
    assert_good_delivered_once(accepted, "vs10-", N, bad);
    json_decref(accepted);
    json_decref(reqs);
    dfix_stub_plan(&F, &META, "");
}

/* A batch of two, its bad event a person's that sluicectl forget named while the request was on
 * the wire: Meta's answer names that event, which is finished as suppressed; the other was refused
 * for its data only and must be sent again and delivered. It went to the DLQ with Meta's reason:
 * alone, it could not be halved. */
static void test_meta_named_event_forgotten_in_flight_spares_the_other(void **state)
{
    (void)state;
    double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered"), s0 = metric("meta", "suppressed");
    size_t q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs15-BAD/delay=6000x4", "vs15-");
    int64_t now = dfix_now_ms();
    char *envs[2] = {dfix_envelope("vs15-BAD-00", now, "{\"userId\":\"user-vs15-1\"}"),
                     dfix_envelope("vs15-ok-01", now, "{\"userId\":\"user-vs15-2\"}")};
    dfix_produce(&F, envs, 2, NULL);
    free(envs[0]);
    free(envs[1]);
    usleep(3000 * 1000); /* batched for 1.5 s and sent: the stub answers 6 s after the request */
    const char *forget[] = {"forget", "--config", F.config, "--org", "acme", "--user-id", "user-vs15-1", NULL};
    sluice_th_output_t out;
    dfix_sluicectl(&F, forget, NULL, NULL, &out);
    if (!sluice_th_exited_with(out.wstatus, 0))
        fail_msg("forget: %s %s", out.out, out.errout);
    sluice_th_output_dispose(&out);
    for (int waited = 0; waited < 30000; waited += 250) {
        if (metric("meta", "delivered") - d0 + metric("meta", "dead_lettered") - x0 >= 1)
            break;
        usleep(250 * 1000);
    }
    usleep(500 * 1000);
    json_t *reqs = dfix_requests_with(&META, "vs15-");
    json_t *accepted = accepted_ids(reqs, "data", "event_id", "vs15-BAD");
    print_message("meta: %zu requests, vs15-ok-01 in %lld accepted\n", json_array_size(reqs),
                  (long long)json_integer_value(json_object_get(accepted, "vs15-ok-01")));
    assert_int_equal(json_integer_value(json_object_get(accepted, "vs15-ok-01")), 1);
    json_decref(accepted);
    json_decref(reqs);
    assert_true(metric("meta", "delivered") - d0 == 1);
    assert_true(metric("meta", "dead_lettered") - x0 == 0);
    assert_true(metric("meta", "suppressed") - s0 == 1);
    assert_int_equal(dlq_count("meta"), q0);
    dfix_stub_plan(&F, &META, "");
}

/* The route's batches each hold one bad event (1 in 500 events, batches of 1,000) when a split
 * delivered nothing (a batch of 4 bad events here). Not splitting until a request succeeded sent
 * each batch whole to the DLQ, so none ever succeeded, and every good event of the integration
 * went to the DLQ from then on: within 30 s of that split a batch still goes whole, after them
 * its good events are delivered again. */
static void test_batches_each_with_a_bad_event_are_split_again_after_30_s(void **state)
{
    (void)state;
    enum { N = 8 };
    unsigned char bad[N];
    memset(bad, 1, sizeof(bad));
    double d0 = metric("meta", "delivered"), x0 = metric("meta", "dead_lettered");
    size_t q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs14-BADx40", "vs14-BAD");
    produce_batch("vs14-", 4, bad);
    wait_settled("meta", d0, x0, 4, q0, 4);
    assert_true(metric("meta", "delivered") - d0 == 0);
    int64_t start = dfix_now_ms();

    memset(bad, 0, sizeof(bad));
    bad[3] = 1;
    d0 = metric("meta", "delivered");
    x0 = metric("meta", "dead_lettered");
    q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs11-BADx40", "vs11-BAD");
    produce_batch("vs11-", N, bad);
    wait_settled("meta", d0, x0, N, q0, N);
    assert_true(metric("meta", "dead_lettered") - x0 == N);
    json_t *reqs = dfix_requests_with(&META, "vs11-");
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);

    int64_t left = 31000 - (dfix_now_ms() - start);
    if (left > 0)
        usleep((useconds_t)left * 1000);
    memset(bad, 0, sizeof(bad));
    bad[6] = 1;
    d0 = metric("meta", "delivered");
    x0 = metric("meta", "dead_lettered");
    q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "200/refuse=vs12-BADx40", "vs12-BAD");
    produce_batch("vs12-", N, bad);
    wait_settled("meta", d0, x0, N, q0, 1);
    reqs = dfix_requests_with(&META, "vs12-");
    json_t *accepted = accepted_ids(reqs, "data", "event_id", "vs12-BAD");
    assert_good_delivered_once(accepted, "vs12-", N, bad);
    json_decref(accepted);
    json_decref(reqs);
    assert_true(metric("meta", "delivered") - d0 == N - 1);
    assert_true(metric("meta", "dead_lettered") - x0 == 1);
    assert_int_equal(dlq_count("meta"), q0 + 1);
    dfix_stub_plan(&F, &META, "");
}

/* Refusals that belong to the request: every request holds the whole batch. */
static void assert_never_split(const dstub_t *s, const char *prefix, size_t n, size_t want_requests)
{
    json_t *reqs = dfix_requests_with(s, prefix);
    assert_int_equal(json_array_size(reqs), want_requests);
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        assert_int_equal(json_array_size(json_object_get(json_object_get(r, "json"), "data")), n);
    }
    json_decref(reqs);
}

static void test_request_refusals_are_not_split(void **state)
{
    (void)state;
    enum { N = 8 };
    unsigned char none[N] = {0};
    /* A refused credential (Meta's 190 at HTTP 400): read again once, then the DLQ, whole. */
    double x0 = metric("meta", "dead_lettered"), d0 = metric("meta", "delivered");
    size_t q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "400/code=190x2", "vs4-");
    produce_batch("vs4-", N, none);
    wait_settled("meta", d0, x0, N, q0, N);
    assert_never_split(&META, "vs4-", N, 2);
    assert_true(metric("meta", "dead_lettered") - x0 == N);

    /* Meta's error 100 without a parameter subcode (a pixel that does not exist): whole. */
    x0 = metric("meta", "dead_lettered");
    d0 = metric("meta", "delivered");
    q0 = dlq_count("meta");
    dfix_stub_plan_for(&F, &META, "400/code=100", "vs5-");
    produce_batch("vs5-", N, none);
    wait_settled("meta", d0, x0, N, q0, N);
    assert_never_split(&META, "vs5-", N, 1);
    assert_true(metric("meta", "dead_lettered") - x0 == N);

    /* TikTok's rate limit (40100 at HTTP 200): retried whole, then delivered. */
    x0 = metric("tiktok", "dead_lettered");
    d0 = metric("tiktok", "delivered");
    q0 = dlq_count("tiktok");
    dfix_stub_plan_for(&F, &TIKTOK, "200/code=40100", "vs6-");
    produce_batch("vs6-", N, none);
    wait_settled("tiktok", d0, x0, N, q0, 0);
    assert_never_split(&TIKTOK, "vs6-", N, 2);
    assert_true(metric("tiktok", "delivered") - d0 == N);
    assert_true(metric("tiktok", "dead_lettered") - x0 == 0);

    /* TikTok's "no permission" (40001): the request's, whole to the DLQ. */
    x0 = metric("tiktok", "dead_lettered");
    d0 = metric("tiktok", "delivered");
    q0 = dlq_count("tiktok");
    dfix_stub_plan_for(&F, &TIKTOK, "200/code=40001", "vs7-");
    produce_batch("vs7-", N, none);
    wait_settled("tiktok", d0, x0, N, q0, N);
    assert_never_split(&TIKTOK, "vs7-", N, 1);
    assert_true(metric("tiktok", "dead_lettered") - x0 == N);
    dfix_stub_plan(&F, &META, "");
    dfix_stub_plan(&F, &TIKTOK, "");
}

/* retry.max_elapsed_s bounds a batch's retries from its first attempt, its halves' too: a batch
 * retried for 59 of its 60 minutes, then split, had each half retried for another hour (and
 * theirs after them), its events held in memory and its partitions' commits held with them.
 * meta2 (max_elapsed_s 3) gets two 503s a second apart, the refusal that splits the batch at
 * about 2 s, then 503s: every request of the batch is within its 3 s, then the DLQ. Last: meta2's
 * dead letters count among Meta's. */
static void test_halves_keep_the_batch_retry_deadline(void **state)
{
    (void)state;
    enum { N = 4 };
    char *envs[N];
    int64_t now = dfix_now_ms();
    for (size_t i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "vs13-%s-%02zu", i == 1 ? "BAD" : "ok", i);
        envs[i] = dfix_envelope(id, now, "{\"event\":\"Elapsed Probe\"}");
    }
    dfix_stub_plan_for(&F, &META2, "503/ra=1x2,200/refuse=vs13-BAD,503/ra=1x40", "vs13-");
    dfix_produce(&F, envs, N, NULL);
    for (size_t i = 0; i < N; i++)
        free(envs[i]);
    const char *args[] = {"--vendor", "meta", NULL};
    size_t dead = 0;
    for (int waited = 0; waited < 20000 && dead < N; waited += 250) {
        json_t *dlq = dfix_dlq_list(&F, args), *d;
        size_t i;
        dead = 0;
        json_array_foreach(dlq, i, d) {
            const char *itg = json_string_value(json_object_get(d, "integration"));
            dead += itg != NULL && strcmp(itg, "meta2") == 0;
        }
        json_decref(dlq);
        if (dead < N)
            usleep(250 * 1000);
    }
    assert_int_equal(dead, N);
    usleep(1500 * 1000); /* a half still retrying would ask again meanwhile */
    json_t *reqs = dfix_requests_with(&META2, "vs13-");
    size_t n = json_array_size(reqs);
    assert_true(n >= 4);
    json_int_t first = json_integer_value(json_object_get(json_array_get(reqs, 0), "ts_ms")), last = first;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        json_int_t t = json_integer_value(json_object_get(r, "ts_ms"));
        first = t < first ? t : first;
        last = t > last ? t : last;
    }
    print_message("meta2: %zu requests over %lld ms (retry.max_elapsed_s: 3)\n", n, (long long)(last - first));
    json_decref(reqs);
    assert_true(last - first <= 3500);
    dfix_stub_plan(&F, &META2, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_one_bad_event_does_not_cost_the_batch),
        cmocka_unit_test(test_tiktok_two_bad_events_do_not_cost_the_batch),
        cmocka_unit_test(test_meta_named_event_is_isolated_in_one_request),
        cmocka_unit_test(test_meta_unusable_place_falls_back_to_halving),
        cmocka_unit_test(test_meta_wrong_place_costs_at_most_one_event),
        cmocka_unit_test(test_meta_answer_quoting_a_value_leaves_no_trace),
        cmocka_unit_test(test_meta_named_event_forgotten_in_flight_spares_the_other),
        cmocka_unit_test(test_all_bad_batch_costs_bounded_requests),
        cmocka_unit_test(test_next_batch_not_split_after_a_split_that_delivered_nothing),
        cmocka_unit_test(test_batches_each_with_a_bad_event_are_split_again_after_30_s),
        cmocka_unit_test(test_request_refusals_are_not_split),
        cmocka_unit_test(test_halves_keep_the_batch_retry_deadline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
