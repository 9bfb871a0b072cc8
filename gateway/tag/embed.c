/*
 * Versioned tag paths: a build of the tag answers at its content-named path (the tag path with
 * ".<hash>.js" for ".js"), so a page can pin one build (with SRI) and keep getting exactly it
 * after the gateway is upgraded, as long as that build is kept (dist/previous/). Pure functions
 * over the embedded table (gateway/tag/embed.h): any thread.
 */
#include "gateway/tag/embed.h"

#include <stdio.h>
#include <string.h>

/* Length of base without a trailing ".js". */
static size_t stem_len(const char *base, size_t len)
{
    return len >= 3 && memcmp(base + len - 3, ".js", 3) == 0 ? len - 3 : len;
}

int sluice_tag_versioned(const char *base, const sluice_tag_build_t *b, char *out, size_t cap)
{
    size_t stem = stem_len(base, strlen(base));
    int n = snprintf(out, cap, "%.*s.%s.js", (int)stem, base, b->hash);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

const sluice_tag_build_t *sluice_tag_build_at(const char *tag_path, const char *path, size_t len, int *versioned)
{
    *versioned = 0;
    size_t stem = stem_len(tag_path, strlen(tag_path));
    /* stem "." hash ".js" */
    if (len != stem + 1 + SLUICE_TAG_HASH_LEN + 3 || memcmp(path, tag_path, stem) != 0 || path[stem] != '.' ||
        memcmp(path + len - 3, ".js", 3) != 0)
        return NULL;
    const char *hash = path + stem + 1;
    for (size_t i = 0; i < SLUICE_TAG_HASH_LEN; i++) {
        if (!((hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f')))
            return NULL;
    }
    *versioned = 1;
    for (size_t i = 0; i < sluice_tag_builds_len; i++) {
        if (memcmp(sluice_tag_builds[i].hash, hash, SLUICE_TAG_HASH_LEN) == 0)
            return &sluice_tag_builds[i];
    }
    return NULL;
}
