/*
 * Differential libFuzzer target for the envelope and a batch's shared members on arena values
 * (issue 17 step 2, part four): every input is parsed with sluice_event_parse (jansson values,
 * numbers' table) and sluice_event_parse_jv. For a batch, the shared members are taken on both
 * trees (sluice_batch_shared_of / _of_jv, with a small budget so that the batch's limit is met
 * too), and each event that is an object is checked (_check / _check_jv: the same answer) and,
 * when it fits, merged (_merge / _merge_jv: the same return); its bytes must then be the same
 * three ways (jv_same_bytes). Each event (the body itself when it is no batch) is then put into
 * envelopes with fixed privacy objects and hashes made on both trees, with and without hashes,
 * and sluice_envelope_encode and sluice_envelope_encode_jv must give the same bytes.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/batch_shared.h"
#include "gateway/envelope.h"
#include "gateway/event.h"
#include "jv_same.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sluice_limits_t limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 4096,
    .max_batch_events = 8,
    .max_depth = 16,
    .max_string_bytes = 512,
    .max_wire_bytes = 65536,
};

/* The privacy objects and hashes the data layer and the guard could give: empty, and some of
 * each kind, with a string that needs escapes. */
static const char *const privacies[] = {
    "{\"hashed\":[],\"masked\":[],\"dropped\":[]}",
    "{\"hashed\":[\"traits.email\",\"context.traits.phone\"],\"masked\":[\"properties.card\"],"
    "\"dropped\":[\"properties.ssn\\u0001\\\"x\"]}",
};
static const char *const hashes_texts[] = {
    "{\"traits.email\":{\"google\":\"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\","
    "\"meta\":\"b1\"}}",
};

/* The same value on both trees, from text (the text is static: the jv tree may point into it). */
static void both(sluice_json_arena_t *a, const char *text, json_t **j, sluice_jv_t **v)
{
    sluice_json_error_t err;
    *j = json_loads(text, 0, NULL);
    *v = sluice_jv_parse(a, text, strlen(text), 16, 1024, 0, NULL, &err);
    if (*j == NULL || *v == NULL)
        abort();
}

static void same_envelopes(sluice_json_arena_t *a, const sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    for (size_t p = 0; p < sizeof(privacies) / sizeof(privacies[0]); p++)
        for (size_t h = 0; h <= sizeof(hashes_texts) / sizeof(hashes_texts[0]); h++) {
            json_t *pj, *hj = NULL;
            sluice_jv_t *pv, *hv = NULL;
            both(a, privacies[p], &pj, &pv);
            if (h > 0)
                both(a, hashes_texts[h - 1], &hj, &hv);
            size_t lj, lv;
            char *ej = sluice_envelope_encode("acme", "web \"eu\"", j, pj, hj, nums, &lj);
            char *ev = sluice_envelope_encode_jv("acme", "web \"eu\"", v, pv, hv, &lv);
            if (ej == NULL || ev == NULL || lj != lv || memcmp(ej, ev, lj) != 0 || strlen(ev) != lv)
                abort();
            free(ej);
            free(ev);
            json_decref(pj);
            json_decref(hj);
        }
}

/* The batch's shared members on both trees with budget, then each event as the gateway takes it. */
static void batch_both(sluice_json_arena_t *a, sluice_jsonnum_t *nums, json_t *j, sluice_jv_t *v, size_t budget)
{
    sluice_batch_shared_t sj;
    sluice_batch_shared_jv_t sv;
    if (sluice_batch_shared_of(&sj, j, nums, budget) != 0 || sluice_batch_shared_of_jv(&sv, v, budget) != 0)
        abort();
    json_t *list = json_object_get(j, "batch");
    sluice_jv_t *vlist = sluice_jv_object_get(v, "batch");
    if (json_array_size(list) != sluice_jv_array_size(vlist))
        abort();
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *ej = json_array_get(list, i);
        sluice_jv_t *ev = sluice_jv_array_get(vlist, i);
        if (json_is_object(ej) != sluice_jv_is_object(ev))
            abort();
        if (!json_is_object(ej))
            continue;
        int fj = sluice_batch_shared_check(ej, &sj, nums, limits.max_event_bytes);
        if (fj != sluice_batch_shared_check_jv(ev, &sv, limits.max_event_bytes) || sj.budget != sv.budget)
            abort();
        if (fj == SLUICE_BATCH_SHARED_FITS &&
            sluice_batch_shared_merge(ej, &sj, nums) != sluice_batch_shared_merge_jv(ev, &sv, a))
            abort();
        jv_same_bytes(ej, nums, ev);
        same_envelopes(a, nums, ej, ev);
    }
    sluice_batch_shared_dispose(&sj);
    sluice_batch_shared_dispose_jv(&sv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sluice_json_arena_install() != 0) /* once; later calls return at once */
        abort();
    const char *buf = (const char *)data;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    if (a == NULL || nums == NULL)
        abort();
    sluice_event_error_t ej, ev;
    json_t *j = sluice_event_parse(buf, size, &limits, nums, NULL, &ej);
    sluice_jv_t *v = sluice_event_parse_jv(buf, size, &limits, a, NULL, &ev);
    if ((j == NULL) != (v == NULL)) /* tests/fuzz/jv_event.c compares the refusals */
        abort();
    if (j != NULL && json_is_object(j)) {
        same_envelopes(a, nums, j, v);
        if (json_is_array(json_object_get(j, "batch"))) {
            /* Twice: with the body's budget (events meet their own limit), and with a small one
             * (the batch's limit is met as well); each run on its own copies. */
            for (int r = 0; r < 2; r++) {
                json_t *jc = sluice_jsonnum_copy(nums, j);
                sluice_jv_t *vc = sluice_jv_copy(a, v);
                if (jc == NULL || vc == NULL)
                    abort();
                batch_both(a, nums, jc, vc, r == 0 ? limits.max_body_bytes : 300);
                json_decref(jc);
            }
        }
    }
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return 0;
}
