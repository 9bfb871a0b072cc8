/*
 * Differential libFuzzer target for the event's parse and validation on arena values (issue 17
 * step 2): the body's parse entry points, sluice_event_parse and sluice_event_parse_jv (byte order
 * mark, UTF-16 and UTF-32 refusals, "body must be a JSON object", limits), must accept alike or
 * give the same error (status, code, path, message with its position) and the same faults of a
 * batch's events, and what both accept must be written as the same bytes. Then every input is parsed with json/parse.c
 * (jansson values, numbers' table) and with json/jv.c, and the body and each event of its batch are validated with
 * sluice_event_validate and sluice_event_validate_jv, under every forced type and without one, with and without a path
 * prefix, each on its own deep copy (validation changes the event). Both must give the same
 * type or the same error (status, code, path, message); both sizes must agree before and after;
 * what both accept must be written as the same bytes (json/write.c for jansson, sluice_jv_write),
 * and the jv tree bridged to jansson (sluice_jv_to_json) must be written by json/write.c as
 * those bytes too, its numbers from the table the bridge filled. Consent runs on copies of the
 * body and of each event of its batch on both trees (gateway/consent.h, for a fixed config with
 * aliases in other cases than sent and a GPC withdrawal), as the gateway runs it: normalize, gpc
 * off or on, normalize again reading the categories; every step must return the same, the
 * categories read must be the same bytes, and the events must then be written as the same bytes
 * three ways, as above.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/consent.h"
#include "gateway/event.h"
#include "jv_same.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/jv_json.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that a short input can pass the event's limit and the string limit. */
static const sluice_limits_t limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 512,
    .max_batch_events = 8,
    .max_depth = 16,
    .max_string_bytes = 256,
    .max_wire_bytes = 65536,
};

/* The org's consent config: SDKs' names in other cases than sent, one that is personal data, and
 * Global Privacy Control withdrawing marketing (the corpus's consent bodies use these). */
static sluice_kv_t aliases[] = {
    {"Analytics", "analytics"}, {"advertising", "marketing"}, {"C0002", "marketing"}, {"c0001", "necessary"}};
static char *withdraws[] = {"marketing", "Sale"};
static const sluice_consent_config_t consent = {
    .aliases = aliases, .alias_count = 4, .gpc_withdraws = withdraws, .gpc_withdraw_count = 2};

/* The three writers agree (jv_same.h), and the size counts every byte written (an upper bound by
 * a byte for each number 0). */
static void same_bytes(const json_t *j, const sluice_jsonnum_t *nums, const sluice_jv_t *v)
{
    if (sluice_event_encoded_size(j, nums) < jv_same_bytes(j, nums, v))
        abort();
}

/* One validation of copies of the event on both trees. */
static void validate_both(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v,
                          int type, const char *prefix, size_t source_len)
{
    json_t *jc = sluice_jsonnum_copy(nums, j);
    sluice_jv_t *vc = sluice_jv_copy(a, v);
    if (jc == NULL || vc == NULL)
        abort();
    sluice_event_error_t ej, ev;
    memset(&ej, 0, sizeof(ej));
    memset(&ev, 0, sizeof(ev));
    int tj = sluice_event_validate(jc, type, &limits, prefix, source_len, nums, &ej);
    int tv = sluice_event_validate_jv(vc, type, &limits, prefix, source_len, a, &ev);
    if (tj != tv)
        abort();
    if (tj < 0) {
        if (ej.status != ev.status || ej.code == NULL || ev.code == NULL || strcmp(ej.code, ev.code) != 0 ||
            strcmp(ej.path, ev.path) != 0 || strcmp(ej.message, ev.message) != 0 || ej.message[0] == '\0')
            abort();
    } else {
        if (sluice_event_encoded_size(jc, nums) != sluice_event_encoded_size_jv(vc))
            abort();
        same_bytes(jc, nums, vc);
    }
    json_decref(jc);
}

/* Consent on copies of the event on both trees, as the gateway runs it, with gpc off or on; with
 * gpc 2, GPC's step also runs first, on the body as sent, as the cross-domain link's route does. */
static void consent_both(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v, int gpc)
{
    json_t *jc = sluice_jsonnum_copy(nums, j);
    sluice_jv_t *vc = sluice_jv_copy(a, v);
    if (jc == NULL || vc == NULL)
        abort();
    if (gpc == 2 && sluice_consent_gpc(jc, &consent, 1) != sluice_consent_gpc_jv(vc, &consent, 1, a))
        abort();
    if (sluice_consent_normalize(jc, &consent) != sluice_consent_normalize_jv(vc, &consent, a) ||
        sluice_consent_gpc(jc, &consent, gpc) != sluice_consent_gpc_jv(vc, &consent, gpc, a))
        abort();
    json_t *cj = NULL, *xj = NULL;
    sluice_jv_t *cv = NULL, *xv = NULL;
    if (sluice_consent_normalize_get(jc, &consent, &cj, &xj) !=
            sluice_consent_normalize_get_jv(vc, &consent, &cv, &xv, a) ||
        (cj == NULL) != (cv == NULL) || xj != json_object_get(jc, "context") ||
        xv != sluice_jv_object_get(vc, "context"))
        abort();
    if (cj != NULL)
        same_bytes(cj, nums, cv);
    same_bytes(jc, nums, vc);
    json_decref(jc);
}

/* Every forced type and none, with and without a prefix (and a source length that lets the size
 * be skipped, or none). */
static void check_event(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v,
                        size_t body_len)
{
    if (sluice_event_encoded_size(j, nums) != sluice_event_encoded_size_jv(v))
        abort();
    for (int type = -1; type < SLUICE_EVENT_TYPE_COUNT; type++) {
        validate_both(a, nums, j, v, type, "", 0);
        validate_both(a, nums, j, v, type, "batch[3]", body_len);
    }
    consent_both(a, nums, j, v, 0);
    consent_both(a, nums, j, v, 1);
    consent_both(a, nums, j, v, 2);
}

/* 1 when two batch faults' lists are the same. */
static int same_faults(const sluice_json_item_faults_t *fj, const sluice_json_item_faults_t *fv)
{
    if (fj->count != fv->count)
        return 0;
    for (size_t i = 0; i < fj->count; i++)
        if (fj->item[i].index != fv->item[i].index || strcmp(fj->item[i].message, fv->item[i].message) != 0 ||
            strcmp(fj->item[i].path, fv->item[i].path) != 0)
            return 0;
    return 1;
}

/* The body's parse entry points, with and without a faults' list. */
static void check_parse(const char *buf, size_t size, int with_faults)
{
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    if (a == NULL || nums == NULL)
        abort();
    sluice_event_error_t ej, ev;
    memset(&ej, 0, sizeof(ej));
    memset(&ev, 0, sizeof(ev));
    sluice_json_item_faults_t fj = {.count = 0}, fv = {.count = 0};
    json_t *j = sluice_event_parse(buf, size, &limits, nums, with_faults ? &fj : NULL, &ej);
    sluice_jv_t *v = sluice_event_parse_jv(buf, size, &limits, a, with_faults ? &fv : NULL, &ev);
    if ((j == NULL) != (v == NULL))
        abort();
    if (j == NULL) {
        if (ej.status != ev.status || ej.code == NULL || ev.code == NULL || strcmp(ej.code, ev.code) != 0 ||
            strcmp(ej.path, ev.path) != 0 || strcmp(ej.message, ev.message) != 0 || ej.message[0] == '\0')
            abort();
    } else {
        if (!json_is_object(j) || !sluice_jv_is_object(v) || !same_faults(&fj, &fv))
            abort();
        same_bytes(j, nums, v);
    }
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sluice_json_arena_install() != 0) /* once; later calls return at once */
        abort();
    const char *buf = (const char *)data;
    check_parse(buf, size, 0);
    check_parse(buf, size, 1);
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    if (a == NULL || nums == NULL)
        abort();
    sluice_json_error_t ej, ev;
    sluice_json_item_faults_t fj, fv;
    json_t *j = sluice_json_parse_batch(buf, size, limits.max_depth, limits.max_string_bytes, limits.max_batch_events,
                                        nums, &fj, &ej);
    sluice_jv_t *v =
        sluice_jv_parse(a, buf, size, limits.max_depth, limits.max_string_bytes, limits.max_batch_events, &fv, &ev);
    if ((j == NULL) != (v == NULL)) /* tests/fuzz/jv.c compares the parsers themselves */
        abort();
    if (j != NULL) {
        same_bytes(j, nums, v);
        /* Any value, as the gateway's batch items may be: a non-object is refused alike. */
        check_event(a, nums, j, v, size);
        json_t *batch = json_object_get(j, "batch");
        sluice_jv_t *vbatch = sluice_jv_object_get(v, "batch");
        if (json_is_array(batch) != sluice_jv_is_array(vbatch))
            abort();
        for (size_t i = 0; i < json_array_size(batch); i++)
            check_event(a, nums, json_array_get(batch, i), sluice_jv_array_get(vbatch, i), 0);
    }
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
    return 0;
}
