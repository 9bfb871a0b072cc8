/*
 * Differential libFuzzer target for the gateway's JSON parser (gateway/json.c) and compact
 * encoder (gateway/envelope.c): on every input the parser must accept exactly what jansson's
 * json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, with equal values, and never
 * crash, leak or hit undefined behaviour; with limits, it may only refuse more, never accept
 * what jansson refuses. What it accepts must encode to the same bytes as jansson's compact
 * json_dumps.
 *
 * One known difference: jansson accepts a number or literal directly followed by a NUL byte
 * ("0\0", "true\0": its lexer takes the NUL for the end of its read-ahead buffer). We refuse
 * every NUL byte outside a string (and inside one, like jansson). So for inputs holding a NUL
 * byte we only check that ours refuses them.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/envelope.h"
#include "gateway/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    sluice_json_error_t err;
    if (memchr(data, '\0', size) != NULL) {
        if (sluice_json_parse(buf, size, 2048, SIZE_MAX, 0, &err) != NULL)
            abort();
        return 0;
    }
    json_error_t je;
    json_t *want = json_loadb(buf, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    json_t *got = sluice_json_parse(buf, size, 2048, SIZE_MAX, 0, &err);
    if ((want == NULL) != (got == NULL) || (want != NULL && !json_equal(want, got)))
        abort();
    if (got != NULL) {
        size_t len;
        char *ours = sluice_json_encode(got, &len);
        char *theirs = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        if (ours == NULL || theirs == NULL || strcmp(ours, theirs) != 0 || len != strlen(theirs))
            abort();
        free(ours);
        free(theirs);
    }
    json_decref(got);
    got = sluice_json_parse(buf, size, 4, 16, 0, &err);
    if (got != NULL && (want == NULL || !json_equal(want, got)))
        abort();
    json_decref(got);
    json_decref(want);
    return 0;
}
