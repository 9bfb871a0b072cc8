/*
 * libFuzzer target for the UTM parameter parser (common/campaign.c), which reads page URLs the
 * client wrote: no crash or overrun on any input, and for a URL that is UTF-8 (as every URL in a
 * JSON event is) every value is UTF-8 of at most SLUICE_CAMPAIGN_VALUE_CHARS characters, so it
 * fits a JSON string and is never cut inside a character.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/campaign.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    sluice_campaign_t c;
    int found = sluice_campaign_parse(url, &c);
    const char *const values[] = {c.id, c.name, c.source, c.medium, c.term, c.content};
    int nonempty = 0;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        size_t n = strnlen(values[i], SLUICE_CAMPAIGN_VALUE_MAX);
        if (n == SLUICE_CAMPAIGN_VALUE_MAX)
            abort(); /* not NUL-terminated */
        nonempty += n > 0;
        if (sluice_utf8_valid(url, strlen(url)) &&
            (!sluice_utf8_valid(values[i], n) ||
             sluice_utf8_prefix_chars(values[i], n, SLUICE_CAMPAIGN_VALUE_CHARS) != n))
            abort();
    }
    if (found != nonempty)
        abort();
    free(url);
    return 0;
}
