/*
 * Differential libFuzzer target for the arena JSON values (json/jv.c) against json/parse.c and
 * json/write.c, the path they are to replace: on every input and under several limits both must
 * accept or refuse alike, with the same error kind, message, path and position and the same
 * per-event faults of a batch; what both accept must be written as the same bytes (numbers as
 * sent), and the scalars read alike. Then the same edits, taken from the input's bytes (deletes,
 * sets of present and new keys, appends), are made to both trees, at the root and in the
 * innermost first container (so that every ancestor has to be written from its parts again):
 * half of them, then a deep copy, then the rest to the original and other edits to the copy,
 * checked against a second jansson parse edited alike; neither tree may see the other's edits.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json/arena.h"
#include "json/jv.h"
#include "json/parse.h"
#include "json/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_error(const sluice_json_error_t *a, const sluice_json_error_t *b)
{
    if (a->kind != b->kind || strcmp(a->message, b->message) != 0 || strcmp(a->path, b->path) != 0 ||
        a->line != b->line || a->column != b->column)
        abort();
}

static void same_faults(const sluice_json_item_faults_t *a, const sluice_json_item_faults_t *b)
{
    if (a->count != b->count)
        abort();
    for (size_t i = 0; i < a->count; i++)
        if (a->item[i].index != b->item[i].index || strcmp(a->item[i].message, b->item[i].message) != 0 ||
            strcmp(a->item[i].path, b->item[i].path) != 0)
            abort();
}

/* The innermost first container of both trees (the first member or item, down while it is one). */
static void innermost(json_t **j, sluice_jv_t **v)
{
    for (;;) {
        json_t *jc = NULL;
        sluice_jv_t *vc = NULL;
        if (json_is_object(*j) && json_object_size(*j) > 0) {
            jc = json_object_iter_value(json_object_iter(*j));
            vc = sluice_jv_object_at(*v, 0)->value;
        } else if (json_is_array(*j) && json_array_size(*j) > 0) {
            jc = json_array_get(*j, 0);
            vc = sluice_jv_array_get(*v, 0);
        }
        if (!json_is_object(jc) && !json_is_array(jc))
            return;
        *j = jc;
        *v = vc;
    }
}

/* Compact bytes of both must agree (both written with the numbers' table where jansson needs it). */
static void same_bytes(const json_t *j, const sluice_jsonnum_t *nums, const sluice_jv_t *v)
{
    size_t lj, lv;
    char *wj = sluice_json_encode(j, nums, &lj), *wv = sluice_jv_encode(v, &lv);
    if (wj == NULL || wv == NULL || lj != lv || memcmp(wj, wv, lj) != 0)
        abort();
    free(wj);
    free(wv);
}

/* The scalars' accessors agree with jansson's (strings, integers, numbers). */
static void same_scalars(const json_t *j, const sluice_jv_t *v)
{
    if (json_is_object(j)) {
        size_t i = 0;
        for (void *it = json_object_iter((json_t *)j); it != NULL; it = json_object_iter_next((json_t *)j, it), i++) {
            const sluice_jv_member_t *m = sluice_jv_object_at(v, i);
            if (m == NULL || m->key_len != json_object_iter_key_len(it) ||
                memcmp(m->key, json_object_iter_key(it), m->key_len) != 0 ||
                sluice_jv_object_getn(v, m->key, m->key_len) != m->value)
                abort();
            same_scalars(json_object_iter_value(it), m->value);
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            same_scalars(json_array_get(j, i), sluice_jv_array_get(v, i));
    } else if (json_is_string(j)) {
        size_t n;
        const char *s = sluice_jv_string_value(v, &n);
        if (s == NULL || n != json_string_length(j) || memcmp(s, json_string_value(j), n) != 0)
            abort();
    } else if (json_is_integer(j)) {
        if (!sluice_jv_is_integer(v) || sluice_jv_integer_value(v) != json_integer_value(j))
            abort();
    } else if (json_is_real(j)) {
        /* jansson's reals are parse.c's reading of the text; jv reads the same text when asked */
        double dj = json_real_value(j), dv = sluice_jv_number_value(v);
        if (sluice_jv_is_integer(v) || memcmp(&dj, &dv, sizeof(dj)) != 0)
            abort();
    } else if (json_typeof(j) != (json_type)(sluice_jv_is_null(v)   ? JSON_NULL
                                             : sluice_jv_is_true(v) ? JSON_TRUE
                                             : sluice_jv_is_bool(v) ? JSON_FALSE
                                                                    : (json_type)-1)) {
        abort();
    }
}

/* Applies the same edits, one per byte of ops, to the first container of j and of v: delete the
 * k-th member, set one of eight keys (present or not: a present one keeps its place), give the
 * k-th member a new value, delete one of the eight keys, or append to an array. Each edit must
 * succeed or fail alike. mark tells apart the values of two edit runs. */
static void edit_both(sluice_json_arena_t *a, json_t *j, sluice_jv_t *v, const uint8_t *ops, size_t n, int mark)
{
    for (size_t i = 0; i < n; i++) {
        unsigned kind = ops[i] & 3, arg = ops[i] >> 2;
        char key[8] = {'k', (char)('0' + arg % 8), 0};
        int64_t val = (int64_t)mark * 1000 + (int64_t)i;
        int rj = 0, rv = 0;
        if (json_is_object(j)) {
            size_t size = json_object_size(j);
            if ((kind == 0 || kind == 2) && size > 0) {
                const sluice_jv_member_t *m = sluice_jv_object_at(v, arg % size);
                if (m == NULL)
                    abort();
                char k[64];
                if (m->key_len >= sizeof(k) || memchr(m->key, 0, m->key_len) != NULL)
                    continue;
                memcpy(k, m->key, m->key_len);
                k[m->key_len] = '\0';
                if (kind == 0) {
                    rj = json_object_del(j, k);
                    rv = sluice_jv_object_del(v, k);
                } else {
                    char str[24];
                    int sl = snprintf(str, sizeof(str), "s%lld", (long long)val);
                    rj = json_object_set_new(j, k, json_string(str));
                    rv = sluice_jv_object_set(a, v, k, sluice_jv_string(a, str, (size_t)sl));
                }
            } else if (kind == 1) {
                rj = json_object_set_new(j, key, json_integer(val));
                rv = sluice_jv_object_set(a, v, key, sluice_jv_integer(a, val));
            } else if (kind == 3) {
                rj = json_object_del(j, key);
                rv = sluice_jv_object_del(v, key);
            }
        } else if (json_is_array(j)) {
            rj = json_array_append_new(j, kind == 0 ? json_null() : json_integer(val));
            rv = sluice_jv_array_append(a, v, kind == 0 ? sluice_jv_null(a) : sluice_jv_integer(a, val));
        }
        if (rj != rv)
            abort();
    }
}

static void compare(const char *buf, size_t size, size_t depth, size_t string, size_t batch, int edit)
{
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new(), *nums2 = sluice_jsonnum_new();
    if (a == NULL || nums == NULL || nums2 == NULL)
        abort();
    sluice_json_error_t ej, ev;
    sluice_json_item_faults_t fj, fv;
    json_t *j = sluice_json_parse_batch(buf, size, depth, string, batch, nums, &fj, &ej);
    sluice_jv_t *v = sluice_jv_parse(a, buf, size, depth, string, batch, &fv, &ev);
    if ((j == NULL) != (v == NULL))
        abort();
    json_t *j2 = NULL;
    if (j == NULL) {
        same_error(&ej, &ev);
    } else {
        same_faults(&fj, &fv);
        same_bytes(j, nums, v);
        same_scalars(j, v);
        sluice_jv_t *c = sluice_jv_copy(a, v);
        if (c == NULL)
            abort();
        same_bytes(j, nums, c);
        if (edit) {
            /* The edits come from the input's own bytes: half before the copy, half after, on
             * the original and (with other values) on the copy, whose reference is a second
             * parse edited alike; neither may see the other's edits. */
            size_t n = size < 64 ? size : 64, half = n / 2;
            const uint8_t *ops = (const uint8_t *)buf;
            json_t *jin = j;
            sluice_jv_t *vin = v;
            innermost(&jin, &vin);
            json_incref(jin); /* an edit of the root may delete it */
            edit_both(a, j, v, ops, half, 1);
            if (jin != j)
                edit_both(a, jin, vin, ops, half, 2);
            same_bytes(j, nums, v);
            same_scalars(j, v);
            c = sluice_jv_copy(a, v);
            j2 = sluice_json_parse_batch(buf, size, depth, string, batch, nums2, &fj, &ej);
            sluice_jv_t *v2 = sluice_jv_parse(a, buf, size, depth, string, batch, &fv, &ev);
            if (c == NULL || j2 == NULL || v2 == NULL)
                abort();
            json_t *j2in = j2;
            sluice_jv_t *v2in = v2;
            innermost(&j2in, &v2in);
            json_incref(j2in);
            edit_both(a, j2, v2, ops, half, 1); /* j2 as v was at the copy */
            if (j2in != j2)
                edit_both(a, j2in, v2in, ops, half, 2);
            same_bytes(j2, nums2, c);
            edit_both(a, j, v, ops + half, n - half, 3);
            same_bytes(j, nums, v);
            edit_both(a, j2, c, ops + half, n - half, 4);
            same_bytes(j2, nums2, c);
            same_bytes(j, nums, v); /* the copy's edits left the original alone */
            same_scalars(j2, c);
            json_decref(jin);
            json_decref(j2in);
        }
    }
    json_decref(j);
    json_decref(j2);
    sluice_jsonnum_free(nums);
    sluice_jsonnum_free(nums2);
    sluice_json_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int installed;
    if (!installed) {
        if (sluice_json_arena_install() != 0)
            abort();
        installed = 1;
    }
    const char *buf = (const char *)data;
    compare(buf, size, 2048, SIZE_MAX, 0, 1);
    compare(buf, size, 4, 16, 0, 0);
    compare(buf, size, 3, 8, 2, 1); /* a "batch" of at most 2, faults recorded per event */
    return 0;
}
