/*
 * Differential libFuzzer target for the enrichment step on arena values (issue 17 step 2, part
 * three b): every input is parsed with sluice_event_parse (jansson values, numbers' table) and
 * sluice_event_parse_jv; the body and each event of its batch that is an object go through
 * sluice_enrichment_event and sluice_enrichment_event_jv, each on its own copy, as sent and after
 * validation and sluice_event_enrich (as the gateway runs them), for two orgs (bots flagged,
 * geolocation by city, a session needing consent, campaign and referrer; bots dropped,
 * geolocation by country, a session needing none) and a set of requests: a browser's with client
 * hints, with a session cookie still going on, with one timed out; a crawler's; a server
 * source's; an app's HTTP library's without Origin; none with a user agent. Both must return the
 * same, add the same cookies to the reply, move the same counters and write the event as the same
 * bytes three ways (tests/stubs/enrich_req.c compares them; a session started anew has a random
 * id, given from the jansson event to the jv one).
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/fuzz/both_trees.h"
#include "tests/stubs/enrich_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECEIVED_MS 1795420800123LL /* 2026-11-23T08:00:00.123Z */

static const char *const orgs[] = {
    "{user_agent: true, bots: flag, geo: city, session: {consent: [analytics]}, campaign: true, "
    "referrer: {internal: [shop-eu.acme.example]}}",
    "{user_agent: true, bots: drop, geo: country, session: {consent: []}, campaign: true}",
};
#define ORGS (sizeof(orgs) / sizeof(orgs[0]))

typedef struct request {
    sluice_event_enrich_t en;
    const char *headers[8];
    size_t n;
} request_t;

static char live_cookie[300], old_cookie[300];
static request_t requests[] = {
    {{.received_ms = RECEIVED_MS, .client_ip = "81.2.69.142", .user_agent = SLUICE_FUZZ_CHROME},
     {"origin", "https://shop.acme.example", "sec-ch-ua-platform", "\"Windows\"", "sec-ch-ua-platform-version",
      "\"15.0.0\"", "sec-ch-ua-mobile", "?0"},
     8},
    {{.received_ms = RECEIVED_MS, .client_ip = "81.2.69.142", .user_agent = SLUICE_FUZZ_CHROME},
     {"origin", "https://shop.acme.example", "cookie", live_cookie},
     4},
    {{.received_ms = RECEIVED_MS, .client_ip = "2001:db8::1", .user_agent = SLUICE_FUZZ_CHROME},
     {"cookie", old_cookie},
     2},
    {{.received_ms = RECEIVED_MS,
      .client_ip = "66.249.66.1",
      .user_agent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
     {"origin", "https://shop.acme.example"},
     2},
    {{.received_ms = RECEIVED_MS,
      .client_ip = "198.51.100.7",
      .user_agent = "python-requests/2.31.0",
      .trust_client_ip = 1},
     {NULL},
     0},
    {{.received_ms = RECEIVED_MS, .client_ip = "81.2.69.160", .user_agent = "okhttp/4.9.2", .library_user_agent = 1},
     {"cookie", live_cookie},
     2},
    {{.received_ms = RECEIVED_MS, .client_ip = NULL, .user_agent = NULL}, {NULL}, 0},
};
#define REQUESTS (sizeof(requests) / sizeof(requests[0]))

static sluice_enrich_fixture_t fx[ORGS];

static void init_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    if (sluice_json_arena_install() != 0) /* before the fixtures' values; later calls return at once */
        abort();
    for (size_t i = 0; i < ORGS; i++)
        if (sluice_enrich_fixture_init(&fx[i], orgs[i], NULL, SLUICE_FUZZ_MMDB) != 0)
            abort();
    sluice_session_t live = {
        .id = "0123456789abcdef0123456789abcdef", .number = 4, .start_s = 1795420000, .last_s = 1795420790};
    sluice_session_t old = {
        .id = "fedcba9876543210fedcba9876543210", .number = 9, .start_s = 1795300000, .last_s = 1795400000};
    char v[256];
    if (sluice_enrich_fixture_cookie(&fx[0], &live, v, sizeof(v)) <= 0)
        abort();
    snprintf(live_cookie, sizeof(live_cookie), "_sluice_ses=%s", v);
    if (sluice_enrich_fixture_cookie(&fx[0], &old, v, sizeof(v)) <= 0)
        abort();
    snprintf(old_cookie, sizeof(old_cookie), "other=1; _sluice_ses=%s", v);
}

/* Both trees' step on copies of the event, validated and enriched by the server first when
 * prepare is set (its random messageId given from the jansson copy to the jv one). */
static void step_both(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v,
                      const request_t *rq, int prepare)
{
    json_t *jc = sluice_jsonnum_copy(nums, j);
    sluice_jv_t *vc = sluice_jv_copy(a, v);
    if (jc == NULL || vc == NULL)
        abort();
    if (prepare) {
        sluice_event_error_t ej, ev;
        int tj = sluice_event_validate(jc, -1, &sluice_fuzz_event_limits, "", 0, nums, &ej);
        if (tj != sluice_event_validate_jv(vc, -1, &sluice_fuzz_event_limits, "", 0, a, &ev))
            abort();
        if (tj < 0) { /* the gateway enriches only what it accepted */
            json_decref(jc);
            return;
        }
        if (sluice_event_enrich(jc, &rq->en) != sluice_event_enrich_jv(vc, &rq->en, a))
            abort();
        json_t *id = json_object_get(jc, "messageId");
        if (json_is_string(id) &&
            sluice_jv_object_set(a, vc, "messageId",
                                 sluice_jv_string(a, json_string_value(id), json_string_length(id))) != 0)
            abort();
    }
    for (size_t o = 0; o < ORGS; o++) {
        sluice_enrich_outcome_t oj, ov;
        if (sluice_enrich_fixture_both(&fx[o], &rq->en, rq->headers, rq->n, jc, nums, vc, a, &oj, &ov) != 0)
            abort();
        sluice_enrich_outcome_dispose(&oj);
        sluice_enrich_outcome_dispose(&ov);
    }
    json_decref(jc);
}

static void check_event(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    for (size_t r = 0; r < REQUESTS; r++) {
        step_both(a, nums, j, v, &requests[r], 0);
        step_both(a, nums, j, v, &requests[r], 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    sluice_fuzz_each_event(data, size, &sluice_fuzz_event_limits, check_event);
    return 0;
}
