/*
 * What the differential fuzz targets of the event's steps on arena values share (issue 17:
 * tests/fuzz/jv_enrich.c, jv_enrichment.c, jv_ids.c, jv_piiguard.c): an input parsed both ways, and each event
 * it holds handed to the target's comparison. Single-threaded, like the targets.
 */
#ifndef SLUICE_TESTS_FUZZ_BOTH_TREES_H
#define SLUICE_TESTS_FUZZ_BOTH_TREES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway/event.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

/* The limits of the targets' requests: small, so that inputs reach them (the body limits: larger
 * events and strings, for the PII guard's targets). */
extern const sluice_limits_t sluice_fuzz_event_limits;
extern const sluice_limits_t sluice_fuzz_body_limits;

/* A browser's user agent (Chrome 124 on Windows). */
#define SLUICE_FUZZ_CHROME                                                                                             \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

/* One event on both trees: j with its numbers' table, v in arena a (both objects). */
typedef void (*sluice_fuzz_event_fn)(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j,
                                     const sluice_jv_t *v);

/* Parses data[0..size) with sluice_event_parse and sluice_event_parse_jv under lim (one accepting
 * what the other refuses aborts: tests/fuzz/jv_event.c compares the refusals) and calls fn for
 * the body and each event of its batch that is an object (the steps are given objects only:
 * validated events), aborting when the trees disagree on which are. */
void sluice_fuzz_each_event(const uint8_t *data, size_t size, const sluice_limits_t *lim, sluice_fuzz_event_fn fn);

/* The same for every event of the body, objects or not (for the stages that take any value and
 * leave what is no object alone: the PII guard's). */
void sluice_fuzz_each_value(const uint8_t *data, size_t size, const sluice_limits_t *lim, sluice_fuzz_event_fn fn);

#endif
