/*
 * libFuzzer target for gateway/negotiate.c: any bytes as Accept-Encoding and as If-None-Match
 * must be answered 0 or 1 without reading outside the input (ASan), and an If-None-Match that
 * matches must contain the ETag or a "*". The input is copied into an exactly sized buffer.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, SLUICE_FUZZ_REPLAY adds a
 * main() that runs the corpus once as an ordinary test. Single-threaded.
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

#ifdef SLUICE_FUZZ_REPLAY
#include <dirent.h>

/* Runs every file of the corpus directories given; fails when none was found. */
int main(int argc, char **argv)
{
    size_t runs = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "cannot open corpus %s\n", argv[i]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            FILE *f = fopen(path, "rb");
            if (f == NULL)
                continue;
            uint8_t buf[65536];
            size_t n = fread(buf, 1, sizeof(buf), f);
            fclose(f);
            LLVMFuzzerTestOneInput(buf, n);
            runs++;
        }
        closedir(d);
    }
    printf("%zu corpus inputs replayed\n", runs);
    return runs > 0 ? 0 : 1;
}
#endif
