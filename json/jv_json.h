/*
 * The bridge from arena values (json/jv.h) to jansson's (issue 17): where something that reads
 * jansson values and a numbers' table meets a jv tree, this builds those from it, as
 * json/parse.c builds them from the same text. The differential
 * fuzz targets compare through it; the request path (on jv since issue 17's switch) does not use
 * it. Any thread; one thread at a time per tree and table.
 */
#ifndef SLUICE_JSON_JV_JSON_H
#define SLUICE_JSON_JV_JSON_H

#include <jansson.h>

#include "json/jv.h"
#include "json/numbers.h"

/* The jansson values json/parse.c's sluice_json_parse_batch with a numbers' table builds for the
 * text v was parsed from (for a changed or built tree: for the text sluice_jv_write writes of
 * it): the same types, values, member order and strings; each number a JSON_INTEGER when its
 * text is an integer that fits 64 bits, else a JSON_REAL (+-DBL_MAX beyond a double), with its
 * text recorded in nums (may be NULL: the numbers are then formatted when written, as without
 * a table). Returns a new reference (caller decrefs; the values are jansson's, allocated as
 * jansson's allocation functions say, and do not point into v or its body), or NULL when v is
 * NULL or memory runs out (what nums recorded for the values freed stays, as after a failed
 * parse: clear it). */
json_t *sluice_jv_to_json(const sluice_jv_t *v, sluice_jsonnum_t *nums);

#endif
