/*
 * Differential libFuzzer target for the event's enrichment on arena values (issue 17 step 2,
 * part three): every input is parsed with sluice_event_parse (jansson values, numbers' table) and
 * sluice_event_parse_jv; the body and each event of its batch that is an object are enriched with
 * sluice_event_enrich and sluice_event_enrich_jv, each on its own copy, as sent and after
 * validation (as the gateway enriches), for a fixed set of requests: a browser's, a crawler's, a
 * server source's, an app's HTTP library's, a User-Agent that is not UTF-8, none at all, and a
 * clock read before 1970's times. Both must return the same, agree on sluice_event_from_app and
 * sluice_event_app_agent, and write the event as the same bytes three ways (json/write.c for
 * jansson, sluice_jv_write, and json/write.c again for the jv tree bridged by sluice_jv_to_json).
 * The messageId made for an event without one is random: both must have made one (a UUID's 36
 * bytes, at the same place); the jansson one is then given to the jv event before the bytes are
 * compared.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/fuzz/both_trees.h"
#include "gateway/event.h"
#include "jv_same.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/jv_json.h"
#include "json/numbers.h"
#include "json/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The requests: 2026-11-23T08:00:00.123Z, or 1970's first second (every client time later). */
static const sluice_event_enrich_t requests[] = {
    {.received_ms = 1795420800123LL, .client_ip = "203.0.113.9", .user_agent = SLUICE_FUZZ_CHROME},
    {.received_ms = 1795420800123LL,
     .client_ip = "66.249.66.1",
     .user_agent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
    {.received_ms = 1795420800123LL,
     .client_ip = "198.51.100.7",
     .user_agent = "python-requests/2.31.0",
     .trust_client_ip = 1},
    {.received_ms = 1795420800123LL, .client_ip = "2001:db8::1", .user_agent = "okhttp/4.9.2", .library_user_agent = 1},
    {.received_ms = 1795420800123LL, .client_ip = "203.0.113.9", .user_agent = "Mozilla/5.0 (Linux; Caf\xe9 \xff\xc3)"},
    {.received_ms = 1795420800123LL, .client_ip = NULL, .user_agent = NULL},
    {.received_ms = 999LL, .client_ip = "203.0.113.9", .user_agent = "curl/8.5.0"},
};

#define same_bytes(j, nums, v) ((void)jv_same_bytes((j), (nums), (v)))

/* The index of key among o's members, or -1. */
static long member_index_json(const json_t *o, const char *key)
{
    long i = 0;
    for (void *it = json_object_iter((json_t *)o); it != NULL; it = json_object_iter_next((json_t *)o, it), i++)
        if (strcmp(json_object_iter_key(it), key) == 0)
            return i;
    return -1;
}

static long member_index_jv(const sluice_jv_t *o, const char *key)
{
    for (size_t i = 0; i < sluice_jv_object_size(o); i++) {
        const sluice_jv_member_t *m = sluice_jv_object_at(o, i);
        if (m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0)
            return (long)i;
    }
    return -1;
}

/* One enrichment of copies of the event on both trees (validated first when validate is set). */
static void enrich_both(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v,
                        const sluice_event_enrich_t *en, int validate)
{
    json_t *jc = sluice_jsonnum_copy(nums, j);
    sluice_jv_t *vc = sluice_jv_copy(a, v);
    if (jc == NULL || vc == NULL)
        abort();
    if (validate) {
        sluice_event_error_t ej, ev;
        int tj = sluice_event_validate(jc, -1, &sluice_fuzz_event_limits, "", 0, nums, &ej);
        if (tj != sluice_event_validate_jv(vc, -1, &sluice_fuzz_event_limits, "", 0, a, &ev))
            abort();
        if (tj < 0) { /* the gateway enriches only what it accepted; jv_event compares refusals */
            json_decref(jc);
            return;
        }
    }
    if (sluice_event_from_app(jc) != sluice_event_from_app_jv(vc) ||
        sluice_event_app_agent(jc, en) != sluice_event_app_agent_jv(vc, en))
        abort();
    int had_id = json_is_string(json_object_get(jc, "messageId"));
    if (had_id != sluice_jv_is_string(sluice_jv_object_get(vc, "messageId")))
        abort();
    int rj = sluice_event_enrich(jc, en), rv = sluice_event_enrich_jv(vc, en, a);
    if (rj != rv)
        abort();
    if (rj == 0 && !had_id) {
        json_t *idj = json_object_get(jc, "messageId");
        size_t n;
        const char *idv = sluice_jv_string_value(sluice_jv_object_get(vc, "messageId"), &n);
        if (json_string_length(idj) != 36 || idv == NULL || n != 36 ||
            member_index_json(jc, "messageId") != member_index_jv(vc, "messageId"))
            abort();
        sluice_jv_t *same = sluice_jv_string(a, json_string_value(idj), 36);
        if (same == NULL || sluice_jv_object_set(a, vc, "messageId", same) != 0)
            abort();
    }
    if (sluice_event_from_app(jc) != sluice_event_from_app_jv(vc))
        abort();
    same_bytes(jc, nums, vc);
    json_decref(jc);
}

static void check_event(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    for (size_t r = 0; r < sizeof(requests) / sizeof(requests[0]); r++) {
        enrich_both(a, nums, j, v, &requests[r], 0);
        enrich_both(a, nums, j, v, &requests[r], 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sluice_fuzz_each_event(data, size, &sluice_fuzz_event_limits, check_event);
    return 0;
}
