/*
 * libFuzzer target for gateway/negotiate.c: any bytes as Accept-Encoding and as If-None-Match
 * must be answered 0 or 1 without reading outside the input (ASan), and an If-None-Match that
 * matches must contain the ETag or a "*". The input is copied into an exactly sized buffer.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/negotiate.h"

#define ETAG "\"Yk3-abc_D\""

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size ? size : 1);
    if (v == NULL)
        return 0;
    memcpy(v, data, size);
    int g = sluice_negotiate_gzip(v, size);
    if (g != 0 && g != 1)
        abort();
    int m = sluice_negotiate_etag_match(v, size, ETAG);
    if (m != 0 && m != 1)
        abort();
    if (m == 1 && !memmem(v, size, ETAG, strlen(ETAG)) && !memchr(v, '*', size))
        abort();
    if (g == 1 && !memchr(v, '*', size)) {
        /* gzip was named: some case of "gzip" is in the input */
        int seen = 0;
        for (size_t i = 0; i + 4 <= size && !seen; i++)
            seen = strncasecmp(v + i, "gzip", 4) == 0;
        if (!seen)
            abort();
    }
    free(v);
    return 0;
}
