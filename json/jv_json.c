/*
 * Arena values (json/jv.h) to jansson values and a numbers' table, as json/parse.c builds them
 * for the same text: the bridge between the gateway's stages that read jv and those that still
 * read jansson (issue 17). tests/fuzz/jv_event.c writes both with json/write.c and compares the
 * bytes. Any thread.
 */
#include "json/jv_json.h"

#include <stdint.h>

/* A number as parse.c's parse_number makes it with a numbers' table: an integer that fits 64
 * bits is a JSON_INTEGER, anything else (a fraction, an exponent, an integer past 64 bits) a
 * JSON_REAL of strtod's value, +-DBL_MAX beyond a double (sluice_jv_number_value reads it so). */
static json_t *number_to_json(const sluice_jv_t *v, sluice_jsonnum_t *nums)
{
    json_t *j =
        sluice_jv_is_integer(v) ? json_integer(sluice_jv_integer_value(v)) : json_real(sluice_jv_number_value(v));
    if (j != NULL && nums != NULL) {
        size_t len;
        const char *text = sluice_jv_number_text_value(v, &len);
        (void)sluice_jsonnum_add(nums, j, text, len); /* on failure it is formatted instead, as in parse.c */
    }
    return j;
}

json_t *sluice_jv_to_json(const sluice_jv_t *v, sluice_jsonnum_t *nums)
{
    if (v == NULL)
        return NULL;
    switch (sluice_jv_type(v)) {
    case SLUICE_JV_NULL: return json_null();
    case SLUICE_JV_FALSE: return json_false();
    case SLUICE_JV_TRUE: return json_true();
    case SLUICE_JV_NUMBER: return number_to_json(v, nums);
    case SLUICE_JV_STRING: {
        size_t n;
        const char *s = sluice_jv_string_value(v, &n);
        return json_stringn_nocheck(s, n); /* UTF-8 without NUL: the parser checked it */
    }
    case SLUICE_JV_ARRAY: {
        json_t *arr = json_array();
        for (size_t i = 0, n = sluice_jv_array_size(v); arr != NULL && i < n; i++)
            if (json_array_append_new(arr, sluice_jv_to_json(sluice_jv_array_get(v, i), nums)) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        return arr;
    }
    case SLUICE_JV_OBJECT: {
        json_t *obj = json_object();
        for (size_t i = 0, n = sluice_jv_object_size(v); obj != NULL && i < n; i++) {
            const sluice_jv_member_t *m = sluice_jv_object_at(v, i);
            if (json_object_setn_new_nocheck(obj, m->key, m->key_len, sluice_jv_to_json(m->value, nums)) != 0) {
                json_decref(obj);
                obj = NULL;
            }
        }
        return obj;
    }
    }
    return NULL;
}
