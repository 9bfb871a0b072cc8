/*
 * The check every differential target of issue 17's step 2 makes after running a stage on both
 * trees (jv_event, jv_enrich, ...): the event's compact bytes from jansson (with its numbers'
 * texts), from json/jv.h's writer and from the jv tree bridged to jansson must be the same, else
 * the target aborts. Included by the fuzz targets only; runs on the fuzzer's thread.
 */
#ifndef SLUICE_FUZZ_JV_SAME_H
#define SLUICE_FUZZ_JV_SAME_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json/jv.h"
#include "json/jv_json.h"
#include "json/numbers.h"
#include "json/write.h"

/* Aborts unless j (with nums), v and v's bridge write the same bytes; returns their length. */
static inline size_t jv_same_bytes(const json_t *j, const sluice_jsonnum_t *nums, const sluice_jv_t *v)
{
    sluice_jsonnum_t *bnums = sluice_jsonnum_new();
    json_t *b = sluice_jv_to_json(v, bnums);
    size_t lj, lv, lb;
    char *wj = sluice_json_encode(j, nums, &lj), *wv = sluice_jv_encode(v, &lv);
    char *wb = b != NULL ? sluice_json_encode(b, bnums, &lb) : NULL;
    if (wj == NULL || wv == NULL || wb == NULL || lj != lv || memcmp(wj, wv, lj) != 0 || lb != lj ||
        memcmp(wb, wj, lj) != 0)
        abort();
    free(wj);
    free(wv);
    free(wb);
    json_decref(b);
    sluice_jsonnum_free(bnums);
    return lj;
}

#endif
