/*
 * An input parsed both ways and its events handed to a differential target (both_trees.h).
 * Single-threaded.
 */
#include "tests/fuzz/both_trees.h"

#include <stdlib.h>

const sluice_limits_t sluice_fuzz_event_limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 4096,
    .max_batch_events = 8,
    .max_depth = 16,
    .max_string_bytes = 512,
    .max_wire_bytes = 65536,
};

const sluice_limits_t sluice_fuzz_body_limits = {
    .max_body_bytes = 65536,
    .max_event_bytes = 8192,
    .max_batch_events = 8,
    .max_depth = 16,
    .max_string_bytes = 2048,
    .max_wire_bytes = 65536,
};

static void each(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v,
                 sluice_fuzz_event_fn fn, int objects_only)
{
    if (json_is_object(j) != sluice_jv_is_object(v))
        abort();
    if (json_is_object(j) || !objects_only)
        fn(a, nums, j, v);
}

static void walk(const uint8_t *data, size_t size, const sluice_limits_t *lim, sluice_fuzz_event_fn fn,
                 int objects_only)
{
    if (sluice_json_arena_install() != 0) /* once; later calls return at once */
        abort();
    const char *buf = (const char *)data;
    sluice_json_arena_t *a = sluice_json_arena_new();
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    if (a == NULL || nums == NULL)
        abort();
    sluice_event_error_t ej, ev;
    json_t *j = sluice_event_parse(buf, size, lim, nums, NULL, &ej);
    sluice_jv_t *v = sluice_event_parse_jv(buf, size, lim, a, NULL, &ev);
    if ((j == NULL) != (v == NULL))
        abort();
    if (j != NULL) {
        each(a, nums, j, v, fn, objects_only);
        json_t *batch = json_object_get(j, "batch");
        sluice_jv_t *vbatch = sluice_jv_object_get(v, "batch");
        if (json_is_array(batch) != sluice_jv_is_array(vbatch) ||
            json_array_size(batch) != sluice_jv_array_size(vbatch))
            abort();
        for (size_t i = 0; i < json_array_size(batch); i++)
            each(a, nums, json_array_get(batch, i), sluice_jv_array_get(vbatch, i), fn, objects_only);
    }
    json_decref(j);
    sluice_jsonnum_free(nums);
    sluice_json_arena_free(a);
}

void sluice_fuzz_each_event(const uint8_t *data, size_t size, const sluice_limits_t *lim, sluice_fuzz_event_fn fn)
{
    walk(data, size, lim, fn, 1);
}

void sluice_fuzz_each_value(const uint8_t *data, size_t size, const sluice_limits_t *lim, sluice_fuzz_event_fn fn)
{
    walk(data, size, lim, fn, 0);
}
