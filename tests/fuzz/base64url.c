/*
 * libFuzzer target for the strict base64url decoder and the lenient base64 decoder
 * (crypto/base64url.c): no crash or overrun on any input, and whatever the strict decoder
 * accepts re-encodes to exactly the same text (one encoding per byte string).
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/base64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t cap = sluice_b64url_decoded_len(size) + 1, n;
    uint8_t *out = malloc(cap);
    if (out == NULL)
        return 0;
    if (sluice_b64url_decode(text, size, out, cap, &n) == 0) {
        size_t ecap = sluice_b64url_encoded_len(n) + 1;
        char *again = malloc(ecap);
        if (again == NULL || sluice_b64url_encode(out, n, again, ecap) != size || memcmp(again, text, size) != 0)
            abort();
        free(again);
    }
    if (sluice_b64_decode_any(text, size, out, cap, &n) == 0 && n > cap)
        abort();
    free(out);
    return 0;
}
